"""storage: all SQL, the evidence store, the custody log, exports and bundles.

Public API (import from here):
``Post``; ``Workspace``, ``init_workspace``; ``save_post``, ``add_capture``,
``Capture``, ``Artifact``, ``mark_status``; ``ingest``, ``ingest_many``;
exceptions in ``storage.errors``.
"""

import sys as _sys

if "sqlite_utils" not in _sys.modules and "pandas" not in _sys.modules:
    # sqlite-utils imports pandas when it is installed (the benchmarks' Splink needs it), only to map
    # pandas.Timestamp columns, which veille never stores: 0.3-0.5 s more for every command, crawl and writer
    # process. Masked while sqlite-utils loads; ``import pandas`` works as usual afterwards.
    _sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del _sys.modules["pandas"]

from .errors import (
    BlockedError,
    ConfigError,
    InputError,
    IntegrityError,
    NotFoundError,
    SourceError,
    VeilleError,
    WorkspaceError,
)
from .ingest import analyse, ingest, ingest_many
from .post import Post, iso, to_utc, utcnow
from .posts import Artifact, Capture, SaveResult, add_capture, mark_status, save_post
from .workspace import Workspace, init_workspace

__all__ = [
    "Artifact", "BlockedError", "Capture", "ConfigError", "InputError", "IntegrityError", "NotFoundError", "Post",
    "SaveResult", "SourceError", "VeilleError", "Workspace", "WorkspaceError", "add_capture", "analyse", "ingest",
    "ingest_many", "init_workspace", "iso", "mark_status", "save_post", "to_utc", "utcnow",
]
