"""storage: all SQL, the evidence store, the custody log, exports and bundles.

Public API (import from here):
``Post``; ``Workspace``, ``init_workspace``; ``save_post``, ``add_capture``,
``Capture``, ``Artifact``, ``mark_status``; ``ingest``, ``ingest_many``;
exceptions in ``storage.errors``.
"""

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
