"""A veille workspace: ``veille.toml``, ``veille.db`` and ``evidence/``."""

from __future__ import annotations

import os
from pathlib import Path

import sqlite_utils

from . import custody
from .config import CONFIG_NAME, Config, default_config_text
from .db import connect
from .errors import WorkspaceError
from .evidence import EvidenceStore
from .schema import migrate, schema_version

DB_NAME = "veille.db"
EVIDENCE_DIR = "evidence"


class Workspace:
    """Everything a command needs: config, database and evidence store."""

    def __init__(self, root: Path, config: Config, db: sqlite_utils.Database):
        self.root = root
        self.config = config
        self.db = db
        self.store = EvidenceStore(root / EVIDENCE_DIR)

    @classmethod
    def open(cls, root: Path | str | None = None, readonly: bool = False) -> Workspace:
        root = Path(root or os.environ.get("VEILLE_WORKSPACE") or ".").expanduser().resolve()
        cfg_path = root / CONFIG_NAME
        if not cfg_path.is_file():
            raise WorkspaceError(f"no veille workspace at {root} (no {CONFIG_NAME}): run 'veille init {root}'")
        config = Config.load(cfg_path)
        db_path = root / DB_NAME
        if readonly:
            if not db_path.exists():
                raise WorkspaceError(f"{db_path} does not exist")
            db = connect(db_path, readonly=True)
        else:
            db = connect(db_path)
            migrate(db)
        return cls(root, config, db)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600 from the start (never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def init_workspace(root: Path | str) -> tuple[Workspace, bool]:
    """Create (or complete) a workspace; return it and whether it was new."""
    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    cfg = root / CONFIG_NAME
    created = not cfg.exists()
    if created:
        tmp = cfg.with_suffix(".toml.tmp")
        tmp.write_text(default_config_text(), encoding="utf-8")
        os.replace(tmp, cfg)
    (root / EVIDENCE_DIR / "sha256").mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(root)
    if created:
        custody.append(ws.db, "workspace", {"event": "workspace created", "schema_version": ws.schema_version},
                       subject_type="workspace", subject_id=str(root.name))
    return ws, created
