"""Fixtures of the crawler tests: the local fixture site and a fast workspace."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_fixture_site import FixtureSite  # noqa: E402


@pytest.fixture(scope="session")
def site():
    s = FixtureSite().start()
    yield s
    s.stop()


def fast_workspace(root, **collect):
    """An initialised workspace whose crawls do not wait between requests (local server only)."""
    from storage import Workspace, init_workspace

    ws, _ = init_workspace(root)
    ws.close()
    cfg = root / "veille.toml"
    text = cfg.read_text("utf-8")
    values = {"download_delay": "0.0", "concurrency_per_site": "8", "screenshots": "false", **collect}
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        assert n == 1, key
    cfg.write_text(text, "utf-8")
    return Workspace.open(root)


@pytest.fixture
def fast_ws(tmp_path):
    ws = fast_workspace(tmp_path / "ws")
    yield ws
    ws.close()
