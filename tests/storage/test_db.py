"""storage.db: savepoints inside a transaction, and the writer connection's tuning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.db import begin, commit, rollback, savepoint
from storage.posts import start_run


def _sources(ws):
    return [r[0] for r in ws.db.execute("select source from runs order by id")]


def test_a_failing_savepoint_rolls_back_its_own_writes_only(workspace):
    begin(workspace.db)
    with savepoint(workspace.db):
        start_run(workspace, "kept", "crawl")
    with pytest.raises(ValueError, match="boom"), savepoint(workspace.db):
        start_run(workspace, "dropped", "crawl")
        raise ValueError("boom")
    with savepoint(workspace.db):
        start_run(workspace, "kept too", "crawl")
    commit(workspace.db)
    assert _sources(workspace) == ["kept", "kept too"]
    begin(workspace.db)
    start_run(workspace, "rolled back", "crawl")
    rollback(workspace.db)
    commit(workspace.db)  # nothing open: nothing to do
    assert _sources(workspace) == ["kept", "kept too"]


_PROBE = """
import os, sys
sys.path.insert(0, {root!r})
from storage.db import begin, commit, savepoint
from storage.posts import start_run
from storage.workspace import Workspace
from spiders.wsstate import workspace as writer_workspace

ws = writer_workspace({ws!r}) if sys.argv[1] == "writer" else Workspace.open({ws!r})
tmp = os.environ["SQLITE_TMPDIR"]
seen = set()
begin(ws.db)
for i in range(100):
    with savepoint(ws.db):
        start_run(ws, "s%d" % i, "crawl")
        # pages written earlier in the transaction, written again inside a savepoint: their old images go to the
        # statement journal, which SQLite spills to a temporary file beyond 64 KB
        ws.db.execute("update runs set error = ?", ["x" * (500 + i)])
        for fd in os.listdir("/proc/self/fd"):  # SQLite deletes its temporary files once open: look at the fds
            try:
                if os.readlink("/proc/self/fd/" + fd).startswith(tmp):
                    seen.add(fd)
            except OSError:
                pass
commit(ws.db)
print(ws.db.execute("pragma temp_store").fetchone()[0], len(seen))
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_writers_connection_keeps_its_statement_journal_in_memory(workspace, tmp_path):
    """The crawl writer's savepoints write no temporary file; another connection (SQLite's default) does."""
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    tmp = tmp_path / "sqlite-tmp"
    tmp.mkdir()
    env = {**os.environ, "SQLITE_TMPDIR": str(tmp)}  # where SQLite's unix VFS puts its temporary files
    script = _PROBE.format(root=root, ws=str(workspace.root))
    out = {}
    for kind in ("writer", "plain"):
        r = subprocess.run([sys.executable, "-c", script, kind], capture_output=True, text=True, env=env,
                           timeout=120, check=True)
        out[kind] = tuple(int(x) for x in r.stdout.split())
    assert out["writer"] == (2, 0)  # temp_store MEMORY, no temporary file open
    import sqlite3

    opts = {r[0] for r in sqlite3.connect(":memory:").execute("pragma compile_options")}
    if opts & {"TEMP_STORE=0", "TEMP_STORE=1"}:  # SQLite's usual builds: files unless a connection asks for memory
        assert out["plain"][0] == 0 and out["plain"][1] > 0  # (the probe does see them)
