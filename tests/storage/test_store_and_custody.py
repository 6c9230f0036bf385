import os

import pytest

from storage import Artifact, Capture, Post, save_post
from storage.custody import verify_chain
from storage.status import verify_store


def _save(ws, i=1, text="offre rdv", **kw):
    post = Post(platform="leboncoin", external_id=str(i), url=f"https://lbc.example/ad/{i}", text=text, **kw)
    cap = Capture(url=post.url, http_status=200, headers={"content-type": "text/html"},
                  artifacts=[Artifact(role="raw_html", data=f"<html>{text}</html>".encode(), mime="text/html")])
    return save_post(ws, post, cap)


def test_blobs_are_content_addressed_and_readonly(workspace):
    sha = workspace.store.put_bytes(b"hello")
    p = workspace.store.path_for(sha)
    assert p.relative_to(workspace.root).parts[:3] == ("evidence", "sha256", sha[:2])
    assert p.parent.name == sha[2:4]
    assert p.read_bytes() == b"hello"
    assert not (p.stat().st_mode & 0o222)
    assert workspace.store.put_bytes(b"hello") == sha  # idempotent


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
