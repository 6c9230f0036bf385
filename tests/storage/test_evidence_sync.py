"""Deferred blobs (``EvidenceStore.put_bytes(..., defer=True)``) and ``sync``: one flush for a batch of
blobs, and never a file under a blob's name that is not whole on disk."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import storage.evidence as ev
from storage.errors import IntegrityError, NotFoundError
from storage.status import verify_store

ROOT = Path(__file__).resolve().parents[2]


def _tmp_files(store) -> list[Path]:
    return sorted(p for p in store.base.rglob(".tmp-*"))


@pytest.fixture(params=["syncfs", "files"])
def sync_mode(request, monkeypatch):
    """Both ways of flushing: one syncfs per step (Linux), or each file and folder fsynced."""
    if request.param == "syncfs":
        if ev._SYNCFS is None:
            pytest.skip("no syncfs in this C library")
        monkeypatch.delenv(ev.SYNC_ENV, raising=False)
    else:
        monkeypatch.setenv(ev.SYNC_ENV, "files")
    return request.param


def test_a_deferred_blob_is_readable_at_once_and_under_its_name_only_after_sync(workspace, sync_mode):
    store = workspace.store
    data = [f"<html>ad {i}</html>".encode() for i in range(5)]
    shas = [store.put_bytes(d, defer=True) for d in data]
    assert shas == [hashlib.sha256(d).hexdigest() for d in data]
    assert store.pending() == 5
    for sha, d in zip(shas, data, strict=True):
        assert not store.path_for(sha).exists()  # not under its name before sync
        assert store.has(sha) and store.read(sha) == d  # but stored as far as this object is concerned
    assert len(_tmp_files(store)) == 5

    assert store.sync() == 5
    assert store.pending() == 0 and _tmp_files(store) == []
    for sha, d in zip(shas, data, strict=True):
        p = store.path_for(sha)
        assert p.read_bytes() == d
        assert stat.S_IMODE(p.stat().st_mode) == 0o444
    assert store.sync() == 0  # nothing left to flush


def test_the_same_bytes_deferred_twice_or_already_stored_are_written_once(workspace, sync_mode):
    store = workspace.store
    old = store.put_bytes(b"stored before")
    assert store.put_bytes(b"stored before", defer=True) == old and store.pending() == 0
    a = store.put_bytes(b"twice", defer=True)
    assert store.put_bytes(b"twice", defer=True) == a
    assert store.pending() == 1 and len(_tmp_files(store)) == 1
    store.sync()
    assert store.read(a) == b"twice" and _tmp_files(store) == []


def test_a_failed_flush_says_so_and_drops_the_blobs_rather_than_retrying_them(workspace, monkeypatch):
    """After a failed flush the kernel may call the next one a success without the bytes on disk: the
    blobs are not stored (their calls fail), and the same bytes stored later are written again."""
    store = workspace.store
    sha = store.put_bytes(b"waiting", defer=True)

    def failing(path):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setenv(ev.SYNC_ENV, "files")
    monkeypatch.setattr(ev, "_fsync_path", failing)
    with pytest.raises(IntegrityError, match="could not flush 1 blob"):
        store.sync()
    assert store.pending() == 0 and not store.has(sha) and _tmp_files(store) == []
    monkeypatch.undo()
    store.put_bytes(b"waiting", defer=True)
    assert store.sync() == 1
    assert store.path_for(sha).read_bytes() == b"waiting"


def test_a_process_killed_before_sync_leaves_no_blob_under_its_name(workspace):
    """Deferred blobs of a killed writer stay temporary files: never counted, listed or verified as blobs."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from storage.evidence import EvidenceStore
        s = EvidenceStore({str(workspace.store.root)!r})
        for i in range(20):
            s.put_bytes(b"never synced %d" % i, defer=True)
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert len(_tmp_files(workspace.store)) == 20
    assert list(workspace.store.iter_blobs()) == []
    sha = hashlib.sha256(b"never synced 3").hexdigest()
    assert not workspace.store.has(sha)
    with pytest.raises(NotFoundError):
        workspace.store.read(sha)
    assert verify_store(workspace).ok
    # the same bytes stored again later are written whole, not taken from the leftover
    workspace.store.put_bytes(b"never synced 3")
    assert workspace.store.read(sha) == b"never synced 3"


def _leave_temp_files(store, n: int, age_s: float) -> list[Path]:
    """Deferred blobs of a writer that never flushed them, their files dated ``age_s`` seconds back."""
    import time

    before = set(_tmp_files(store))
    for i in range(n):
        store.put_bytes(b"interrupted %d %f" % (i, age_s), defer=True)
    store._pending.clear()  # the writer is gone: nobody will sync these
    new = sorted(set(_tmp_files(store)) - before)
    t = time.time() - age_s
    for p in new:
        os.utime(p, (t, t))
    return new


def test_verify_store_counts_leftover_temporary_files_and_purge_removes_the_stale_ones(workspace, runner):
    from cli import app
    from storage.purge import purge

    old = _leave_temp_files(workspace.store, 3, age_s=2 * 3600)
    fresh = _leave_temp_files(workspace.store, 2, age_s=60)  # maybe a write in progress: kept
    blob = workspace.store.put_bytes(b"real evidence")
    rep = verify_store(workspace)
    assert rep.ok and rep.temp_files == 5 and rep.blobs_checked == 1
    res = runner.invoke(app, ["verify-store", "-w", str(workspace.root)])
    assert res.exit_code == 0 and "5 temporary file(s) of interrupted writes" in res.output

    dry = purge(workspace, 30, dry_run=True)
    assert dry.temp_files == 3 and all(p.exists() for p in old)
    rep = purge(workspace, 30)
    assert rep.temp_files == 3
    assert not any(p.exists() for p in old) and all(p.exists() for p in fresh)
    assert workspace.store.read(blob) == b"real evidence"
    res = runner.invoke(app, ["purge", "--older-than", "30", "-w", str(workspace.root)])
    assert res.exit_code == 0 and "temporary" not in res.output  # nothing stale left to report


def test_a_deferred_blob_whose_temporary_file_was_removed_fails_its_flush_cleanly(workspace):
    """A writer paused for hours (its files taken by purge) gets an error at its flush, never a blob under
    its name with missing bytes."""
    store = workspace.store
    sha = store.put_bytes(b"paused writer", defer=True)
    for p in _tmp_files(store):
        p.unlink()
    with pytest.raises(IntegrityError, match="could not flush"):
        store.sync()
    assert not store.path_for(sha).exists() and not store.has(sha)  # not stored, and not poisoning what follows
    other = store.put_bytes(b"the next group", defer=True)
    assert store.sync() == 1 and store.read(other) == b"the next group"
    store.put_bytes(b"paused writer", defer=True)  # stored again by a later call
    assert store.sync() == 1 and store.read(sha) == b"paused writer"
