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


def test_a_failed_flush_keeps_the_blobs_deferred_and_says_so(workspace, monkeypatch):
    store = workspace.store
    sha = store.put_bytes(b"waiting", defer=True)

    def failing(path):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setenv(ev.SYNC_ENV, "files")
    monkeypatch.setattr(ev, "_fsync_path", failing)
    with pytest.raises(IntegrityError, match="could not flush 1 blob"):
        store.sync()
    assert store.pending() == 1 and store.has(sha) and not store.path_for(sha).exists()
    monkeypatch.undo()
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
