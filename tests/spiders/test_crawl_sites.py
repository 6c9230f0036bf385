"""Crawls of the other profiled sites' fixture pages: encodings, malformed HTML, Arabic, GraphQL, removals."""

from __future__ import annotations

from pathlib import Path

import pytest
from crawl_fixture_site import TAYARA_GONE, TAYARA_LIVE

from spiders.run import crawl


def _rows(ws, sql, params=()):
    cur = ws.db.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_four_sites_side_by_side(site, fast_ws):
    ws = fast_ws
    bases = {k: site.base(v) for k, v in
             {"vivastreet": "viva", "avito_ma": "avito", "tayara": "tayara", "ouedkniss": "ouedkniss"}.items()}
    rep = crawl(ws, list(bases), keywords=["rdv"], max_pages=1, base_urls=bases)
    assert {k: v.status for k, v in rep.sites.items()} == dict.fromkeys(bases, "ok"), rep.to_dict()
    posts = {(p["platform"], p["external_id"]): p for p in _rows(ws, "select * from posts")}

    # vivastreet: a windows-1252 page (no charset header, <meta charset>) and a malformed one
    v1 = posts[("vivastreet", "123456781")]
    assert v1["title"] == "Vends rendez-vous préfecture Évry – titre de séjour"
    assert "préfecture d'Évry" in v1["text"] and v1["price"] == 130.0
    assert v1["author"] == "Agence Rapide Fictive"
    assert "06 39 98 12 35" in v1["text"] and v1["category"] == "appointment_resale"
    raw = _rows(ws, "select a.sha256 from artifacts a join captures c on c.id = a.capture_id "
                    "where c.post_id = ? and a.role = 'raw_html'", [v1["id"]])[0]["sha256"]
    assert "préfecture".encode("cp1252") in ws.store.read(raw)  # the bytes as served, not re-encoded
    v3 = posts[("vivastreet", "123456783")]
    assert v3["title"].startswith("RDV préfecture Cergy") and "Cergy à vendre" in v3["text"]
    assert rep.sites["vivastreet"].items == 3

    # avito.ma: Arabic ad read from JSON-LD, seller from the inline JSON string, currency DH -> MAD
    a1 = posts[("avito_ma", "5551001")]
    assert a1["title"] == "موعد فيزا فرنسا متوفر" and "القنصلية" in a1["text"]
    assert a1["price"] == 2000.0 and a1["currency"] == "MAD" and a1["author"] == "محل الخدمات الوهمي"
    assert a1["posted_at"] == "2026-11-18T09:00:00Z"
    assert a1["category"] == "appointment_resale"

    # tayara: __NEXT_DATA__ ad with its phone; the removed ad's 302 to a listing is recorded as removed
    t1 = posts[("tayara", TAYARA_LIVE)]
    assert t1["price"] == 300.0 and t1["currency"] == "TND" and t1["author"] == "Services Fictifs Tunis"
    assert "+216 20 000 000" in t1["text"]
    assert ("tayara", TAYARA_GONE) not in posts
    gone = _rows(ws, "select * from captures where outcome = 'removed'")
    assert any(TAYARA_GONE in g["url"] and "/ads/c/" in g["final_url"] for g in gone)

    # ouedkniss: GraphQL search + AnnouncementGet; a null announcement is a removal
    o1 = posts[("ouedkniss", "7770001")]
    assert o1["url"] == f"{site.base('ouedkniss')}/rendez-vous-visa-france-d7770001"
    assert o1["price"] == 30000.0 and o1["currency"] == "DZD" and o1["author"] == "Agence Fictive"
    assert o1["category"] == "appointment_resale"
    json_art = _rows(ws, "select a.role from artifacts a join captures c on c.id = a.capture_id where c.post_id = ?",
                     [o1["id"]])
    assert "json" in {a["role"] for a in json_art}
    assert rep.sites["ouedkniss"].removed == 1 and rep.sites["ouedkniss"].items == 1


def test_blocked_site_is_recorded_and_others_continue(site, fast_ws):
    ws = fast_ws
    ws.path("profiles").mkdir(exist_ok=True)
    ws.path("profiles", "broken.toml").write_text('name = "broken"\nbase_url = "ftp://x"\n', "utf-8")
    rep = crawl(ws, ["leboncoin", "tayara", "broken", "nosuchsite"], keywords=["rdv"], max_pages=1,
                base_urls={"leboncoin": site.base("blocked"), "tayara": site.base("tayara")})
    assert rep.sites["leboncoin"].status == "blocked"
    assert "captcha" in (rep.sites["leboncoin"].error or "")
    assert rep.sites["tayara"].status == "ok" and rep.sites["tayara"].items == 1
    assert rep.sites["broken"].status == "failed" and "written_on" in rep.sites["broken"].error
    assert rep.sites["nosuchsite"].status == "failed"
    assert rep.blocked == ["leboncoin"]
    # the challenge page is kept as evidence, never parsed as an ad
    assert _rows(ws, "select count(*) n from posts where platform = 'leboncoin'")[0]["n"] == 0
    caps = _rows(ws, "select * from captures where outcome = 'blocked'")
    assert len(caps) == 1 and caps[0]["http_status"] == 403
    run = _rows(ws, "select status from runs where source = 'leboncoin'")[-1]
    assert run["status"] == "blocked"
    from storage.status import workspace_status

    st = workspace_status(ws)
    assert "leboncoin" in st["blocked_sources"] and st["blocked_pages"] == {"leboncoin": 1}
    from typer.testing import CliRunner

    from cli import app

    out = CliRunner().invoke(app, ["status", "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "blocked sources: leboncoin" in " ".join(out.output.split())


def test_429_storm_backs_off_and_retries(site, fast_ws):
    ws = fast_ws
    site.state.storm.clear()
    rep = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls={"leboncoin": site.base("storm")},
                settings={"VEILLE_BACKOFF_MAX": 0.2}, timeout=120)
    r = rep.sites["leboncoin"]
    # two ads answer 429 three times, then 200: both are saved; ad 1011 never stops answering 429
    assert r.items == 2
    assert site.state.storm["/storm/ad/services/1000"] == 4 and site.state.storm["/storm/ad/services/1001"] == 4
    assert site.state.storm["/storm/ad/services/1011"] == 4  # RETRY_TIMES = 3, then given up
    assert r.backoffs >= 9
    assert r.blocked == 1 and r.status == "partial"
    cap = _rows(ws, "select * from captures where outcome = 'blocked'")[0]
    assert cap["http_status"] == 429 and "1011" in cap["url"]


def test_20mb_page_is_stored_and_a_smaller_limit_is_reported(site, tmp_path):
    from conftest import fast_workspace

    ws = fast_workspace(tmp_path / "big")
    rep = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls={"leboncoin": site.base("big")})
    assert rep.sites["leboncoin"].items == 2
    big = _rows(ws, "select b.size from posts p join captures c on c.post_id = p.id join artifacts a on "
                    "a.capture_id = c.id join blobs b on b.sha256 = a.sha256 where p.external_id = '1000' "
                    "and a.role = 'raw_html'")
    assert big[0]["size"] > 20_000_000
    ws.close()
    ws2 = fast_workspace(tmp_path / "small", max_page_bytes="5_000_000")
    rep2 = crawl(ws2, ["leboncoin"], keywords=["rdv"], max_pages=1, base_urls={"leboncoin": site.base("big")})
    r = rep2.sites["leboncoin"]
    assert r.items == 1 and r.errors == 1 and r.status == "partial"
    err = _rows(ws2, "select * from captures where outcome = 'error'")
    assert len(err) == 1 and "1000" in err[0]["url"]
    ws2.close()


ROBOTS_PROFILE = """
name = "{name}"
base_url = "https://robots.test"
written_on = "2026-11-22"
basis = "test fixture"
[search]
urls = ["{{base}}/private/recherche?q={{keyword}}"]
[listing]
ad_links = ["css:a::attr(href)"]
[ad.fields]
title = ["css:h1"]
[politeness]
robots_override = {override}
{reason}
"""


def test_robots_txt_is_obeyed_unless_a_profile_says_why(site, fast_ws):
    ws = fast_ws
    ws.path("profiles").mkdir(exist_ok=True)
    ws.path("profiles", "polite.toml").write_text(
        ROBOTS_PROFILE.format(name="polite", override="false", reason=""), "utf-8")
    ws.path("profiles", "override.toml").write_text(
        ROBOTS_PROFILE.format(name="override", override="true",
                              reason='robots_override_reason = "test: the operator allowed it in writing"'), "utf-8")
    site.state.hits.pop("/lbc/private/recherche", None)
    rep = crawl(ws, ["polite"], keywords=["rdv"], max_pages=1, base_urls={"polite": site.base("lbc")})
    r = rep.sites["polite"]
    assert r.status == "failed" and "robots.txt" in r.error
    assert "/lbc/private/recherche" not in site.state.hits  # never requested
    rep = crawl(ws, ["override"], keywords=["rdv"], max_pages=1, base_urls={"override": site.base("lbc")})
    assert site.state.hits.get("/lbc/private/recherche") == 1  # fetched (it answers 404 here)
    assert "HTTP 404" in rep.sites["override"].error


def test_http_cache_switch_serves_the_second_run_from_the_workspace_cache(site, tmp_path):
    """collect.http_cache = true (profile development): answers are kept in the workspace's .cache/http and a
    second run does not hit the site again; off (the default), every run fetches."""
    from conftest import fast_workspace

    search = "/tayara/search/"
    for cache, second_run_hits in (("true", 0), ("false", 1)):
        ws = fast_workspace(tmp_path / f"ws-{cache}", http_cache=cache)
        try:
            crawl(ws, ["tayara"], keywords=["rdv"], max_pages=1, base_urls={"tayara": site.base("tayara")})
            before = site.state.hits.get(search, 0)
            rep = crawl(ws, ["tayara"], keywords=["rdv"], max_pages=1, base_urls={"tayara": site.base("tayara")})
            assert rep.sites["tayara"].status == "ok", rep.sites["tayara"]
            assert site.state.hits.get(search, 0) - before == second_run_hits, cache
            assert ws.path(".cache", "http").is_dir() == (cache == "true")
            # cached or not, the search page of each run is stored as evidence
            assert _rows(ws, "select count(*) n from captures where url like '%/tayara/search/%'")[0]["n"] == 2
        finally:
            ws.close()


def test_missing_chromium_is_named_and_only_the_javascript_site_fails(site, tmp_path, monkeypatch):
    """$VEILLE_CHROMIUM (or collect.chromium) pointing nowhere: screenshots are switched off with a warning saying
    what to install, a profile that needs JavaScript fails with the same message, the other sites go on."""
    from conftest import fast_workspace
    from crawl_fixture_site import JS_PROFILE

    from spiders.settings import find_chromium
    from storage.errors import ConfigError

    missing = str(tmp_path / "no-chromium")
    monkeypatch.setenv("VEILLE_CHROMIUM", missing)
    with pytest.raises(ConfigError) as err:
        find_chromium()
    msg = str(err.value)
    assert missing in msg and "apt-get install chromium" in msg and "playwright install chromium" in msg
    fake = tmp_path / "chromium-bin"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("VEILLE_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)  # the env var wins over /usr/bin/chromium
    assert find_chromium("/usr/bin/chromium") == "/usr/bin/chromium" or not Path("/usr/bin/chromium").exists()

    monkeypatch.setenv("VEILLE_CHROMIUM", missing)
    ws = fast_workspace(tmp_path / "ws", screenshots="true")
    try:
        ws.path("profiles").mkdir(exist_ok=True)
        ws.path("profiles", "jsfixture.toml").write_text(JS_PROFILE, "utf-8")
        rep = crawl(ws, ["jsfixture", "tayara"], keywords=["rdv"], max_pages=1,
                    base_urls={"jsfixture": site.base("js"), "tayara": site.base("tayara")})
    finally:
        ws.close()
    assert rep.sites["jsfixture"].status == "failed"
    assert "needs JavaScript" in rep.sites["jsfixture"].error and "apt-get install chromium" in rep.sites[
        "jsfixture"].error
    assert rep.sites["tayara"].status == "ok" and rep.sites["tayara"].items == 1 and rep.sites["tayara"].screenshots == 0
    assert any("screenshots off" in w and "playwright install chromium" in w for w in rep.warnings)
