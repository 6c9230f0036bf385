"""Retention purge: only old `none` posts, never anything in a case or a notice; blobs; custody entry."""

from __future__ import annotations

import json

import pytest

from storage.db import rows, transaction
from storage.errors import InputError
from storage.post import iso, utcnow
from storage.purge import purge
from storage.status import verify_store

from .daily_seed import add_post

SHARED = b"<html>the same page body in two captures</html>"


def _age(ws, post_id, days):
    old = iso(utcnow().replace(year=utcnow().year - 1)) if days > 300 else None
    ws.db.execute("update posts set last_seen_at = ?, first_seen_at = ? where id = ?",
                  [old or "2020-01-01T00:00:00Z", old or "2020-01-01T00:00:00Z", post_id])


def _seed(ws):
    ids = {}
    ids["old_none"] = add_post(ws, "1", category="none", subtype=None, html=b"<html>only mine</html>").post_id
    ids["old_none_shared"] = add_post(ws, "2", category="none", subtype=None, html=SHARED).post_id
    ids["old_offer"] = add_post(ws, "3", html=SHARED).post_id
    ids["new_none"] = add_post(ws, "4", category="none", subtype=None).post_id
    ids["old_none_in_case"] = add_post(ws, "5", category="none", subtype=None).post_id
    ids["old_none_seller_in_case"] = add_post(ws, "6", category="none", subtype=None).post_id
    for k in ("old_none", "old_none_shared", "old_offer", "old_none_in_case", "old_none_seller_in_case"):
        _age(ws, ids[k], 400)
    now = iso(utcnow())
    with transaction(ws.db):
        cid = ws.db.execute("insert into cases(name, created_at) values ('dossier-demo', ?)", [now]).lastrowid
        ws.db.execute("insert into case_items(case_id, post_id, added_at) values (?,?,?)",
                      [cid, ids["old_none_in_case"], now])
        sid = ws.db.execute("insert into sellers(label, created_at, updated_at) values ('s', ?, ?)",
                            [now, now]).lastrowid
        ws.db.execute("update posts set seller_id = ? where id = ?", [sid, ids["old_none_seller_in_case"]])
        ws.db.execute("insert into case_items(case_id, seller_id, added_at) values (?,?,?)", [cid, sid, now])
    return ids


def test_purge_keeps_cases_offers_and_recent(workspace):
    ids = _seed(workspace)
    only_mine = rows(workspace.db, "select a.sha256 from artifacts a join captures c on c.id = a.capture_id "
                                   "where c.post_id = ?", [ids["old_none"]])[0]["sha256"]
    dry = purge(workspace, 180, dry_run=True)
    assert sorted(dry.post_ids) == sorted([ids["old_none"], ids["old_none_shared"]])
    assert rows(workspace.db, "select count(*) as n from posts")[0]["n"] == 6  # dry run changed nothing
    rep = purge(workspace, 180)
    assert rep.posts == 2 and rep.kept_in_cases == 2 and rep.blobs == 1
    left = {r["id"] for r in rows(workspace.db, "select id from posts")}
    assert left == {ids["old_offer"], ids["new_none"], ids["old_none_in_case"], ids["old_none_seller_in_case"]}
    # the blob only the purged post used is gone; the shared one stays
    assert not workspace.store.has(only_mine)
    assert rows(workspace.db, "select count(*) as n from blobs where sha256 = ?", [only_mine])[0]["n"] == 0
    from storage.evidence import sha256_bytes

    assert workspace.store.has(sha256_bytes(SHARED))
    # no orphan rows anywhere
    for t, c in (("captures", "post_id"), ("entities", "post_id"), ("post_versions", "post_id")):
        assert rows(workspace.db, f"select count(*) as n from {t} where {c} not in (select id from posts)")[0]["n"] == 0  # noqa: S608
    # custody entry lists what was removed, and the store still verifies
    e = rows(workspace.db, "select details from custody_log where action = 'purge'")
    assert len(e) == 1
    det = json.loads(e[0]["details"])
    assert {p["id"] for p in det["posts"]} == {ids["old_none"], ids["old_none_shared"]}
    assert only_mine in det["blobs"]
    assert verify_store(workspace).ok
    # FTS no longer finds the purged posts
    assert rows(workspace.db, "select count(*) as n from posts_fts where posts_fts match 'annonce'")[0]["n"] == 4
    # idempotent
    assert purge(workspace, 180).posts == 0


def test_purge_bad_days(workspace):
    with pytest.raises(InputError):
        purge(workspace, 0)


def test_purge_cli(workspace, runner, cli_app):
    _seed(workspace)
    res = runner.invoke(cli_app, ["purge", "--older-than", "30", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["posts"] == 2
    res = runner.invoke(cli_app, ["purge", "--older-than", "-3", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "at least 1" in res.output
