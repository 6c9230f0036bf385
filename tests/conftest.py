"""Shared fixtures: an initialised workspace and a CliRunner."""

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
