"""Bulk paths analyse posts chunk by chunk (matchers.batch): same results as per post, stage failures isolated
and named, commit boundaries and resumption unchanged (ingest_many, reclassify, the daily classify stage)."""

from __future__ import annotations

import logging

import pytest

import matchers
from matchers import batch, classify, extract
from storage import daily
from storage.db import rows
from storage.ingest import analyse, ingest_many
from storage.post import Post
from storage.reclassify import reclassify_posts

TEXTS = [
    "RDV préfecture dispo 60€, WhatsApp 06 39 98 12 34",
    "Vends faux p@sseport, livraison rapide, contact docs@mail.example",
    "Je cherche un rendez-vous à la préfecture, quelqu'un peut m'aider ?",
    "Vendo cita extranjería huellas Madrid 50 euros BOOM",
    "Продам запись в визовый центр BANG +33 6 39 98 00 12",
    "مواعيد الفيزا متوفرة، الثمن 1500 درهم",
    "Hızlı vize randevusu alınır, fiyat 150 Euro, DM",
    "BOOM BANG",
    "Bonjour à tous 01 99 00 12 34",
    "Buy fake passports and ID cards https://docs-1.example/shop",
]


class Killed(BaseException):
    """Stands for a kill: not an Exception, so no per-post isolation catches it."""


def _posts(n=len(TEXTS)):
    return [Post(platform="test", external_id=str(i), url=f"https://a.example/{i}", text=TEXTS[i % len(TEXTS)],
                 lang="ru" if "Продам" in TEXTS[i % len(TEXTS)] else None) for i in range(n)]


@pytest.fixture
def faulty(monkeypatch, faulty_stages):
    c, e = faulty_stages(batch.classify, matchers.extract)
    monkeypatch.setattr(batch, "classify", c)
    monkeypatch.setattr(matchers, "classify", c)  # analyse() imports the package's functions
    monkeypatch.setattr(matchers, "extract", e)


def _count(ws, table="posts"):
    return rows(ws.db, {"posts": "select count(*) as n from posts",
                        "entities": "select count(*) as n from entities"}[table])[0]["n"]


def _version():
    from matchers.classify import get_lexicon

    return get_lexicon().version


def test_ingest_many_equals_per_post_analysis_and_isolates_stages(workspace, faulty, caplog):
    posts = _posts()
    expected = [analyse(p) for p in posts]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="veille.ingest"):
        got = list(ingest_many(workspace, [(p, None) for p in posts], batch_size=4))
    assert len(got) == len(posts)
    for e, g in zip(expected, got, strict=True):
        assert g.analysis.verdict == e.verdict
        assert (list(g.analysis.entities) if g.analysis.entities is not None else None) == \
            (list(e.entities) if e.entities is not None else None)
        assert g.analysis.errors == e.errors
    assert got[3].analysis.errors == {"classify": "ValueError: boom"} and got[3].analysis.entities is not None
    assert got[4].analysis.errors == {"extract": "RuntimeError: bang"} and got[4].analysis.verdict is not None
    assert set(got[7].analysis.errors) == {"classify", "extract"}
    assert "stage classify failed for test:id:3" in caplog.text
    assert "stage extract failed for test:id:4" in caplog.text
    # every post saved, the failed classifications without a verdict
    assert _count(workspace) == len(posts)
    cats = {r["external_id"]: r["category"] for r in rows(workspace.db, "select external_id, category from posts")}
    assert cats["0"] == "appointment_resale" and cats["1"] == "forged_documents" and cats["3"] is None
    assert rows(workspace.db, "select count(*) as n from entities where post_id = ?", [got[0].save.post_id])[0]["n"]


def test_ingest_many_kill_loses_only_the_open_batch_and_resumes_without_duplicates(workspace):
    posts = _posts(10)

    def stream(kill_after=None):
        for i, p in enumerate(posts):
            if i == kill_after:
                raise Killed
            yield p, None

    with pytest.raises(Killed):
        for _ in ingest_many(workspace, stream(kill_after=7), batch_size=3):
            pass
    assert _count(workspace) == 6  # two batches of 3 committed, the third lost
    res = list(ingest_many(workspace, stream(), batch_size=3))
    assert [r.save.created for r in res] == [False] * 6 + [True] * 4
    assert _count(workspace) == 10
    assert rows(workspace.db, "select max(version) as v from posts")[0]["v"] == 1
    n_ent = _count(workspace, "entities")
    list(ingest_many(workspace, stream(), batch_size=3))
    assert _count(workspace) == 10 and _count(workspace, "entities") == n_ent


def _stored(ws, n=len(TEXTS)):
    for _ in ingest_many(ws, [(p, None) for p in _posts(n)]):
        pass
    ws.db.execute("update posts set category = null, subtype = null, lexicon_version = null, classified_at = null")
    ws.db.execute("delete from entities")


def test_reclassify_isolates_failures_and_names_the_stage(workspace, caplog, faulty_stages):
    _stored(workspace)
    c, e = faulty_stages(classify, extract)

    with caplog.at_level(logging.WARNING, logger="veille.reclassify"):
        rep = reclassify_posts(workspace, c, e, "v-test", batch=2)
    ids = {r["external_id"]: r["id"] for r in rows(workspace.db, "select id, external_id from posts")}
    assert rep.seen == 10
    assert sorted(rep.failed) == sorted([(ids["3"], "ValueError: boom"), (ids["4"], "RuntimeError: bang"),
                                         (ids["7"], "ValueError: boom")])
    assert f"post {ids['3']} failed: stage classify" in caplog.text
    assert f"post {ids['4']} failed: stage extract" in caplog.text
    got = {r["external_id"]: r for r in rows(workspace.db, "select * from posts")}
    assert got["0"]["category"] == "appointment_resale" and got["0"]["lexicon_version"] == _version()
    assert got["4"]["classified_at"] is None  # a failed post keeps what it had
    for k in ("0", "1", "2", "5", "9"):
        v = classify(TEXTS[int(k)])
        assert (got[k]["category"], got[k]["subtype"]) == (v.category, v.subtype)
    assert sum(rep.by_category.values()) == 7
    n_ent = rows(workspace.db, "select count(*) as n from entities where post_id = ?", [ids["0"]])[0]["n"]
    assert n_ent == len(extract(TEXTS[0]))


def test_reclassify_kill_keeps_committed_batches_and_resumes(workspace, monkeypatch):
    _stored(workspace, 30)
    monkeypatch.setattr(batch, "CHUNK", 8)
    calls = []

    def c(text, lang_hint=None):
        calls.append(text)
        if len(calls) == 21:
            raise Killed
        return classify(text, lang_hint=lang_hint)

    version = _version()
    with pytest.raises(Killed):
        reclassify_posts(workspace, c, extract, version, batch=4)
    done = rows(workspace.db, "select count(*) as n from posts where classified_at is not null")[0]["n"]
    assert done == 16  # the two chunks analysed before the kill, in whole committed batches of 4
    rep = reclassify_posts(workspace, classify, extract, version, batch=4)
    assert rep.seen == 30 - done and not rep.failed
    assert rows(workspace.db, "select count(*) as n from posts where lexicon_version = ?", [version])[0]["n"] == 30
    assert reclassify_posts(workspace, classify, extract, version).seen == 0


def test_daily_classify_stage_pages_and_isolates(workspace, monkeypatch):
    _stored(workspace, 25)

    def c(text, lang_hint=None):
        if "BOOM" in text:
            raise ValueError("boom")
        return classify(text, lang_hint=lang_hint)

    monkeypatch.setattr(batch, "CHUNK", 4)
    rep = daily._classify_unclassified(workspace, c, extract, "v-test")
    assert rep.seen == 25 and len(rep.failed) == 5  # texts 3 and 7, three and two times
    left = rows(workspace.db, "select external_id from posts where classified_at is null order by id")
    assert sorted(int(r["external_id"]) % 10 for r in left) == [3, 3, 3, 7, 7]
    rep = daily._classify_unclassified(workspace, classify, None, "v-test")
    assert rep.seen == 5 and not rep.failed
