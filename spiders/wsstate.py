"""One open Workspace per crawl process, shared by the middlewares and pipelines of every spider."""

from __future__ import annotations

from pathlib import Path

from storage.db import tune_for_group_commits
from storage.workspace import Workspace

_OPEN: dict[str, Workspace] = {}


def workspace(root: str | Path) -> Workspace:
    ws = _OPEN.get(str(root))  # called for every item: no path resolution on the hot path
    if ws is None:
        key = str(Path(root).resolve())
        ws = _OPEN.get(key)
        if ws is None:
            ws = Workspace.open(key)
            tune_for_group_commits(ws.db)  # its writes go through spiders.writer's group commits
        _OPEN[key] = _OPEN[str(root)] = ws
    return ws


def close_all() -> None:
    for ws in {id(w): w for w in _OPEN.values()}.values():
        try:
            ws.close()
        except Exception:  # noqa: BLE001, S110 - closing at exit
            pass
    _OPEN.clear()
