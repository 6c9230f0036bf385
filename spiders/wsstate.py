"""One open Workspace per crawl process, shared by the middlewares and pipelines of every spider."""

from __future__ import annotations

from pathlib import Path

from storage.workspace import Workspace

_OPEN: dict[str, Workspace] = {}


def workspace(root: str | Path) -> Workspace:
    key = str(Path(root).resolve())
    ws = _OPEN.get(key)
    if ws is None:
        ws = _OPEN[key] = Workspace.open(key)
    return ws


def close_all() -> None:
    for ws in _OPEN.values():
        try:
            ws.close()
        except Exception:  # noqa: BLE001, S110 - closing at exit
            pass
    _OPEN.clear()
