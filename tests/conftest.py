"""Shared fixtures: an initialised workspace, a CliRunner, and matcher stages that fail on cue."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture
def workspace(tmp_path):
    from storage import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def cli_app():
    from cli import app

    return app


@pytest.fixture
def faulty_stages():
    """``make(classify_fn, extract_fn) -> (classify, extract)`` wrapping the two stages so that classify raises
    ``ValueError("boom")`` on a text containing "BOOM" and extract ``RuntimeError("bang")`` on one containing
    "BANG"; other texts go to the functions given."""

    def make(classify_fn, extract_fn):
        def c(text, lang_hint=None):
            if "BOOM" in text:
                raise ValueError("boom")
            return classify_fn(text, lang_hint=lang_hint)

        def e(text):
            if "BANG" in text:
                raise RuntimeError("bang")
            return extract_fn(text)

        return c, e

    return make
