import hashlib
import os

import pytest

from storage import Artifact, Capture, Post, save_post
from storage.custody import verify_chain
from storage.errors import IntegrityError
from storage.evidence import EvidenceStore
from storage.status import verify_store


def _save(ws, i=1, text="offre rdv", **kw):
    post = Post(platform="leboncoin", external_id=str(i), url=f"https://lbc.example/ad/{i}", text=text, **kw)
    cap = Capture(url=post.url, http_status=200, headers={"content-type": "text/html"},
                  artifacts=[Artifact(role="raw_html", data=f"<html>{text}</html>".encode(), mime="text/html")])
    return save_post(ws, post, cap)


def test_blobs_are_content_addressed_and_readonly(workspace):
    sha = workspace.store.put_bytes(b"hello")
    p = workspace.store.path_for(sha)
    assert p.relative_to(workspace.root).parts == ("evidence", "sha256", sha[:2], sha)  # one folder level
    assert (workspace.root / "evidence" / "LAYOUT").read_text().splitlines()[0] == "sha256/ab/<sha256>"
    assert p.read_bytes() == b"hello"
    assert not (p.stat().st_mode & 0o222)
    assert workspace.store.put_bytes(b"hello") == sha  # idempotent
    sha2, _ = workspace.store.put_file(p)  # same bytes through the streaming path
    assert sha2 == sha and [n for n, _ in workspace.store.iter_blobs()] == [sha]


def _legacy_blob(root, data: bytes) -> str:
    """A blob as the code before evidence/LAYOUT stored it: two folder levels."""
    sha = hashlib.sha256(data).hexdigest()
    d = root / "sha256" / sha[:2] / sha[2:4]
    d.mkdir(parents=True)
    (d / sha).write_bytes(data)
    return sha


def test_a_store_made_before_the_layout_file_keeps_two_levels(tmp_path):
    root = tmp_path / "evidence"
    old = _legacy_blob(root, b"old capture")
    store = EvidenceStore(root)
    assert store.layout() == 2 and store.has(old) and store.read(old) == b"old capture"
    new = store.put_bytes(b"new capture")
    assert store.path_for(new).relative_to(root).parts == ("sha256", new[:2], new[2:4], new)
    assert (root / "LAYOUT").read_text().splitlines()[0] == "sha256/ab/cd/<sha256>"
    again = EvidenceStore(root)  # a later process reads the file
    assert again.layout() == 2 and again.read(new) == b"new capture"
    assert sorted(n for n, _ in again.iter_blobs()) == sorted([old, new])


def test_layout_file_wins_and_a_lost_one_is_recovered_from_the_folders(tmp_path):
    root = tmp_path / "evidence"
    store = EvidenceStore(root)
    assert store.layout() == 1 and not store.has("0" * 64)  # empty store: nothing decided, nothing written
    assert not (root / "LAYOUT").exists()
    sha = store.put_bytes(b"x")
    (root / "LAYOUT").unlink()
    assert EvidenceStore(root).layout() == 1 and EvidenceStore(root).read(sha) == b"x"
    (root / "LAYOUT").write_text("sha256/<sha256>\n")
    with pytest.raises(IntegrityError, match="unknown evidence layout"):
        EvidenceStore(root).has(sha)


def test_a_layout_file_written_while_the_folders_are_read_wins_over_them(tmp_path):
    """A reader that missed LAYOUT, then found a new store's first folder holding only a temporary file
    (another thread wrote both in between), keeps one level: it took such a folder for the old two-level code."""
    root = tmp_path / "evidence"
    writer = EvidenceStore(root)
    sha = writer.put_bytes(b"first blob", defer=True)  # LAYOUT, then sha256/ab/.tmp-…
    reader = EvidenceStore(root)
    real = reader._layout_file
    calls = []

    def late_file():
        calls.append(1)
        return None if len(calls) == 1 else real()  # the first look comes before the other thread's write

    reader._layout_file = late_file
    assert reader.layout() == 1 and len(calls) == 2
    writer.sync()
    assert reader.path_for(sha) == writer.path_for(sha) and reader.read(sha) == b"first blob"


def test_verify_store_reads_both_layouts(workspace):
    _save(workspace)
    lone = _legacy_blob(workspace.store.root, b"left by an old version")
    names = [n for n, _ in workspace.store.iter_blobs()]
    assert lone in names and len(names) == 2
    rep = verify_store(workspace)
    assert rep.ok and rep.blobs_checked == len(names)


def test_save_post_versions_and_captures(workspace):
    r1 = _save(workspace)
    r2 = _save(workspace)  # same content, new fetch: new capture, no new version
    r3 = _save(workspace, text="offre rdv modifiée")
    assert r1.created and not r2.created and not r2.changed and r3.changed
    assert r3.version == 2
    db = workspace.db
    assert db.execute("select count(*) from posts").fetchone()[0] == 1
    assert db.execute("select count(*) from captures").fetchone()[0] == 3
    assert db.execute("select count(*) from post_versions").fetchone()[0] == 2
    assert db.execute("select text from posts").fetchone()[0] == "offre rdv modifiée"
    count, problems = verify_chain(db)
    assert count >= 4 and problems == []


def test_capture_key_makes_reimport_idempotent(workspace):
    post = Post(platform="x", external_id="1", text="a")
    for _ in range(3):
        save_post(workspace, post, Capture(kind="import", capture_key="k1",
                                           artifacts=[Artifact(role="import_record", data=b"a")]))
    assert workspace.db.execute("select count(*) from captures").fetchone()[0] == 1


def test_verify_store_catches_flipped_byte(workspace):
    _save(workspace)
    assert verify_store(workspace).ok
    (sha, path), = [(s, p) for s, p in workspace.store.iter_blobs()]
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    rep = verify_store(workspace)
    assert not rep.ok
    assert any(sha in p for p in rep.problems)


def test_verify_store_catches_missing_blob(workspace):
    _save(workspace)
    (sha, path), = list(workspace.store.iter_blobs())
    os.chmod(path, 0o644)
    path.unlink()
    rep = verify_store(workspace)
    assert any("missing" in p and sha in p for p in rep.problems)


@pytest.mark.parametrize("column,value", [("details", '{"forged": true}'), ("action", "export"),
                                          ("at", "2020-01-01T00:00:00Z")])
def test_verify_store_catches_edited_custody_row(workspace, column, value):
    _save(workspace, 1)
    _save(workspace, 2)
    workspace.db.execute(f"update custody_log set {column} = ? where seq = 2", [value])  # noqa: S608
    rep = verify_store(workspace, record=False)
    assert any("custody entry 2" in p for p in rep.problems)


def test_verify_store_catches_deleted_custody_row(workspace):
    for i in range(3):
        _save(workspace, i)
    workspace.db.execute("delete from custody_log where seq = 2")
    rep = verify_store(workspace, record=False)
    assert any("entry 2 is missing" in p for p in rep.problems)


def test_fts_bad_query_is_input_error(workspace):
    from storage import InputError
    from storage.db import fts_query

    _save(workspace, text="rendez-vous préfecture")
    assert len(fts_query(workspace.db, "posts", "prefecture")) == 1  # diacritics folded
    with pytest.raises(InputError):
        fts_query(workspace.db, "posts", 'a AND')
