"""Real crawls of the leboncoin-style fixture pages with the shipped leboncoin profile."""

from __future__ import annotations

import json

import pytest
from crawl_fixture_site import LBC_REMOVED

from spiders.run import crawl, recheck


def _rows(ws, sql, params=()):
    return [dict(zip([d[0] for d in cur.description], r, strict=True))
            for cur in [ws.db.execute(sql, params)] for r in cur.fetchall()]


@pytest.mark.parametrize("writer_process", ["1", "0"])
def test_crawl_stores_posts_pages_media_and_evidence(site, fast_ws, monkeypatch, writer_process, tmp_path):
    monkeypatch.setenv("VEILLE_STORAGE_PROCESS", writer_process)  # storage in a second process, or on threads
    monkeypatch.setenv("VEILLE_CPU_REPORT", str(tmp_path / "cpu.jsonl"))
    ws = fast_ws
    rep = crawl(ws, ["leboncoin"], keywords=["rdv préfecture"], max_pages=2,
                base_urls={"leboncoin": site.base("lbc")})
    # the crawl process ran with spiders/gcpolicy.py's collector policy
    from spiders.gcpolicy import THRESHOLDS

    cpu = json.loads((tmp_path / "cpu.jsonl").read_text().splitlines()[-1])
    assert tuple(cpu["gc_thresholds"]) == THRESHOLDS and cpu["gc_frozen"] > 10_000
    r = rep.sites["leboncoin"]
    assert r.status == "ok", r
    # 2 result pages of 4 ads are read (page 3 is beyond --max-pages); the removed ad is recorded, not saved
    assert r.pages == 2 and r.items == 8 and r.new == 8
    assert r.removed == 1
    posts = _rows(ws, "select * from posts where platform = 'leboncoin' order by external_id")
    assert [p["external_id"] for p in posts] == [str(1000 + i) for i in range(8)]
    p0 = posts[0]
    assert p0["title"] == "Vends rendez-vous préfecture Bobigny n°0"
    assert p0["price"] == 100.0 and p0["currency"] == "EUR"
    assert p0["author"] == "Vendeur Fictif 0" and p0["author_handle"] == "u-0000"
    assert p0["posted_at"] == "2026-11-10T13:30:00Z"  # Paris time in the page, UTC in the store
    assert p0["url"] == f"{site.base('lbc')}/ad/services/1000"
    # classification ran: the resale ads are positive, the bicycle is not
    cats = {p["external_id"]: p["category"] for p in posts}
    assert cats["1000"] == "appointment_resale" and cats["1003"] == "none"
    assert r.positive == sum(1 for c in cats.values() if c != "none")
    # every ad has a fetch capture with the raw page and the headers, in the evidence store
    caps = _rows(ws, "select c.*, p.external_id from captures c join posts p on p.id = c.post_id where c.kind='fetch'")
    assert len(caps) == 8
    for c in caps:
        arts = _rows(ws, "select role, sha256 from artifacts where capture_id = ?", [c["id"]])
        roles = {a["role"] for a in arts}
        assert {"raw_html", "headers", "media"} <= roles
        raw = ws.store.read(next(a["sha256"] for a in arts if a["role"] == "raw_html"))
        assert f"/ad/services/{c['external_id']}".encode() in raw or b"__NEXT_DATA__" in raw
        assert c["http_status"] == 200 and c["user_agent"].startswith("veille/")
        assert "secret-cookie-value" not in (c["headers"] or "")  # cookies are never stored
    # the search pages themselves are evidence too
    assert _rows(ws, "select count(*) n from captures where post_id is null and outcome='ok'")[0]["n"] == 2
    # images: downloaded once, SHA-256 and perceptual hash recorded in post.media
    media = json.loads(p0["media"])
    assert len(media) == 1 and media[0]["kind"] == "image" and len(media[0]["phash"]) == 16
    assert ws.store.has(media[0]["sha256"]) and media[0]["mime"] == "image/png"
    # the removed ad: a capture proving it (410 + page), outcome removed
    gone = _rows(ws, "select * from captures where outcome = 'removed'")
    assert len(gone) == 1 and gone[0]["http_status"] == 410 and str(LBC_REMOVED) in gone[0]["url"]
    # a runs row per site
    run = _rows(ws, "select * from runs where source = 'leboncoin'")[-1]
    assert run["status"] == "ok" and run["items"] == 8


def test_second_run_skips_seen_and_recaptures_due_positives(site, fast_ws):
    ws = fast_ws
    base = {"leboncoin": site.base("lbc")}
    first = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls=base).sites["leboncoin"]
    assert first.items == 4
    # make one positive post's last capture old: it is due for re-capture
    pid = _rows(ws, "select id from posts where external_id = '1000'")[0]["id"]
    ws.db.execute("update captures set fetched_at = '2020-01-01T00:00:00Z' where post_id = ?", [pid])
    second = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls=base).sites["leboncoin"]
    assert second.status == "ok"
    assert second.skipped_seen == 3 and second.recaptured == 1 and second.new == 0
    assert _rows(ws, "select count(*) n from posts")[0]["n"] == 4
    kinds = [c["kind"] for c in _rows(ws, "select kind from captures where post_id = ? order by id", [pid])]
    assert kinds == ["fetch", "recapture"]


def test_daily_recapture_of_a_deleted_positive_records_the_removal_with_proof(site, fast_ws):
    """A positive post due for re-capture whose page now answers 410 is marked removed during the crawl itself,
    the 410 page being the capture that proves it (and a removal alert is raised)."""
    ws = fast_ws
    base = {"leboncoin": site.base("lbc")}
    crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls=base)
    pid = _rows(ws, "select id from posts where external_id = '1000'")[0]["id"]
    ws.db.execute("update captures set fetched_at = '2020-01-01T00:00:00Z' where post_id = ?", [pid])
    site.state.removed.add(1000)
    try:
        r = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls=base).sites["leboncoin"]
    finally:
        site.state.removed.discard(1000)
    assert r.removed == 2 and r.recaptured == 0  # ad 1000 now, and the ad that was already gone
    post = _rows(ws, "select status, status_capture_id from posts where id = ?", [pid])[0]
    assert post["status"] == "removed"
    cap = _rows(ws, "select * from captures where id = ?", [post["status_capture_id"]])[0]
    assert cap["post_id"] == pid and cap["outcome"] == "removed" and cap["http_status"] == 410
    assert cap["kind"] == "recapture"
    assert _rows(ws, "select count(*) n from alerts where post_id = ?", [pid])[0]["n"] >= 1


def test_recheck_records_removed_with_proof(site, fast_ws):
    ws = fast_ws
    crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls={"leboncoin": site.base("lbc")})
    ids = {r["external_id"]: r["id"] for r in _rows(ws, "select id, external_id from posts")}
    site.state.removed.add(1001)
    try:
        res = recheck(ws, [ids["1000"], ids["1001"], 999999], base_urls={"leboncoin": site.base("lbc")})
    finally:
        site.state.removed.discard(1001)
    by = {r["post_id"]: r for r in res}
    assert by[ids["1001"]]["outcome"] == "removed" and by[ids["1001"]]["http_status"] == 410
    assert by[ids["1000"]]["outcome"] == "live"
    assert 999999 not in by  # unknown ids are left out
    post = _rows(ws, "select status, status_capture_id from posts where id = ?", [ids["1001"]])[0]
    assert post["status"] == "removed"
    cap = _rows(ws, "select * from captures where id = ?", [post["status_capture_id"]])[0]
    assert cap["kind"] == "recapture" and cap["outcome"] == "removed" and cap["http_status"] == 410
    arts = _rows(ws, "select role, sha256 from artifacts where capture_id = ?", [cap["id"]])
    assert b"plus en ligne" in ws.store.read(next(a["sha256"] for a in arts if a["role"] == "raw_html"))
    assert _rows(ws, "select status from posts where id = ?", [ids["1000"]])[0]["status"] == "live"


def test_killed_crawl_resumes_without_duplicates(site, fast_ws):
    ws = fast_ws
    base = {"leboncoin": site.base("lbc")}
    slow = {"DOWNLOAD_DELAY": 0.7, "CONCURRENT_REQUESTS": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "RANDOMIZE_DOWNLOAD_DELAY": False}
    first = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=2, base_urls=base, settings=slow, timeout=6)
    r1 = first.sites["leboncoin"]
    assert r1.status == "interrupted"
    done = _rows(ws, "select count(*) n from posts")[0]["n"]
    assert done < 8
    assert _rows(ws, "select status from runs where source = 'leboncoin'")[-1]["status"] == "interrupted"
    second = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=2, base_urls=base).sites["leboncoin"]
    assert second.status == "ok" and second.new == 8 - done
    assert _rows(ws, "select count(*) n from posts")[0]["n"] == 8
    dup = _rows(ws, "select post_id, count(*) n from captures where kind = 'fetch' and post_id is not null "
                    "group by post_id having n > 1")
    assert dup == []


def test_recheck_of_a_site_without_profile_goes_through_the_page_check_spider(site, fast_ws):
    """Posts of a platform no profile describes are re-checked by Scrapy too (robots.txt, user agent, retries):
    live / changed by the stored text, removed on 410, blocked on a challenge page, robots.txt obeyed."""
    from crawl_fixture_site import LBC_ADS

    from storage.ingest import ingest
    from storage.post import Post

    ws = fast_ws
    base = site.base("lbc")
    host = base.rsplit("/", 1)[0]
    ad0 = LBC_ADS[0]
    posts = {
        "live": Post(platform="petites_annonces", external_id="pa-1", url=f"{base}/ad/services/1000",
                     title=ad0["title"], text=ad0["text"]),
        "changed": Post(platform="petites_annonces", external_id="pa-2", url=f"{base}/ad/services/1002",
                        title="Vélo de course carbone", text="Cadre carbone, groupe complet, roues neuves, 900 euros."),
        "removed": Post(platform="petites_annonces", external_id="pa-3", url=f"{base}/ad/services/1001",
                        title="x", text="Vends rendez-vous préfecture"),
        "blocked": Post(platform="autre_site", external_id="as-1", url=f"{host}/blocked/ad/1", title="y", text="z"),
        "robots": Post(platform="autre_site", external_id="as-2", url=f"{base}/private/ad/9", title="y", text="z"),
    }
    ids = {k: ingest(ws, p).save.post_id for k, p in posts.items()}
    site.state.removed.add(1001)
    try:
        res = recheck(ws, list(ids.values()))
    finally:
        site.state.removed.discard(1001)
    by = {r["post_id"]: r for r in res}
    assert {k: by[v]["outcome"] for k, v in ids.items()} == {
        "live": "live", "changed": "changed", "removed": "removed", "blocked": "blocked", "robots": "error"}
    assert "robots.txt" in by[ids["robots"]]["note"] and "/lbc/private/ad/9" not in site.state.hits
    assert by[ids["removed"]]["http_status"] == 410
    # every answer is a dated re-capture of the post with the raw page in the evidence store
    for k in ("live", "changed", "removed", "blocked"):
        cap = _rows(ws, "select * from captures where id = ?", [by[ids[k]]["capture_id"]])[0]
        assert cap["post_id"] == ids[k] and cap["kind"] == "recapture", (k, cap)
        raw = _rows(ws, "select sha256 from artifacts where capture_id = ? and role = 'raw_html'", [cap["id"]])
        assert ws.store.read(raw[0]["sha256"]), k
        assert json.loads(cap["extra"])["site"] in ("petites_annonces", "autre_site")
    assert _rows(ws, "select status from posts where id = ?", [ids["removed"]])[0]["status"] == "removed"
    runs = _rows(ws, "select source, kind from runs where kind = 'recheck' order by source")
    assert [r["source"] for r in runs] == ["autre_site", "petites_annonces"]
