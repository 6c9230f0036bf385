"""Profiles as data: validation, the field sources, values, block/removal detection, shipped profiles."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from spiders.profile import (
    Page,
    ProfileError,
    detect_block,
    detect_removed,
    list_profiles,
    load_profile,
    parse_ad,
    parse_currency,
    parse_price,
    parse_profile,
    walk,
)
from storage.errors import VeilleError

SHIPPED = ["avito_ma", "jemepropose", "leboncoin", "ouedkniss", "tayara", "vivastreet"]


def test_shipped_profiles_load_and_are_dated():
    assert set(SHIPPED) <= set(list_profiles())
    for name in SHIPPED:
        p = load_profile(name)
        assert datetime.strptime(p.written_on, "%Y-%m-%d")
        assert len(p.basis) > 80 and p.base_url.startswith("https://")
        assert p.fields.get("title") and p.fields.get("text") and not p.robots_override
        if p.spider == "profile":
            assert p.search_urls and "{keyword}" in p.search_urls[0] and p.ad_links and p.ad_url_pattern


def test_default_keywords_come_from_the_lexicon():
    from spiders.keywords import default_keywords

    lbc = default_keywords(load_profile("leboncoin"))
    assert "préfecture" in lbc or "rdv" in lbc
    avito = default_keywords(load_profile("avito_ma"))
    assert any("\u0600" <= ch <= "\u06ff" for k in avito for ch in k)  # Arabic terms for the Maghreb sites


@pytest.mark.parametrize("data, words", [
    ({"base_url": "https://x.example", "written_on": "2026-01-01"}, "basis"),
    ({"base_url": "ftp://x.example", "written_on": "2026-01-01", "basis": "b"}, "http"),
    ({"base_url": "https://x.example", "written_on": "2026-01-01", "basis": "b",
      "politeness": {"robots_override": True}}, "robots_override_reason"),
    ({"base_url": "https://x.example", "written_on": "2026-01-01", "basis": "b",
      "ad": {"fields": {"colour": ["css:h1"]}}}, "unknown field"),
    ({"base_url": "https://x.example", "written_on": "2026-01-01", "basis": "b",
      "ad": {"fields": {"title": ["sql:select"]}}}, "unknown source kind"),
    ({"base_url": "https://x.example", "written_on": "2026-01-01", "basis": "b",
      "listing": {"ad_url_pattern": "(["}}, "ad_url_pattern"),
])
def test_bad_profiles_are_refused_with_the_key_named(data, words):
    with pytest.raises(ProfileError, match=words):
        parse_profile(data, name="demo")


def test_unknown_profile_and_path_traversal():
    with pytest.raises(VeilleError, match="unknown profile"):
        load_profile("nosuch")
    with pytest.raises(VeilleError, match="unknown profile"):
        load_profile("../../etc/passwd")


def test_values():
    assert parse_price("1 200,50 €") == 1200.5
    assert parse_price("1.200,00 DH") == 1200.0
    assert parse_price("30\u202f000 DA") == 30000.0
    assert parse_price("Demander le prix") is None
    assert parse_price(150) == 150.0 and parse_price(None) is None and parse_price(True) is None
    assert parse_currency("DH", None) == "MAD" and parse_currency("€", None) == "EUR"
    assert parse_currency("TND", None) == "TND" and parse_currency(None, "DZD") == "DZD"
    assert walk({"a": [{"b": 1}, {"b": 2}, {"c": 3}]}, "a.*.b") == [1, 2]
    assert walk({"a": [10, 20]}, "a.1") == [20]


def test_sources_prefer_structured_data_and_fall_back_to_css():
    prof = parse_profile({
        "base_url": "https://shop.example", "written_on": "2026-11-22", "basis": "test", "currency": "EUR",
        "ad": {"fields": {"title": ["ld:Product:name", "css:h1"], "text": ["next:props.ad.body", "css:.desc"],
                          "price": ["ld:Product:offers.price", "css:.price"],
                          "author": ["re:\"seller\":\"([^\"]+)\""], "images": ["css:img::attr(src)"]}},
    }, name="shop")
    html = ('<html><head><script type="application/ld+json">{"@type":"Product","name":"Titre LD",'
            '"offers":{"price":"42"}}</script></head><body><h1>Titre CSS</h1><div class="desc"><p>ligne 1</p>'
            '<p>ligne 2</p></div><img src="/a.png"><img src="data:image/png;base64,xx">'
            '<script>var x={"seller":"Vendeur \\u00e9"}</script></body></html>')
    ad = parse_ad(prof, Page("https://shop.example/annonce/123456", html))
    assert ad.post.title == "Titre LD" and ad.found["title"] == "ld:Product:name"
    assert ad.post.text == "ligne 1\nligne 2" and ad.found["text"] == "css:.desc"
    assert ad.post.price == 42.0 and ad.post.currency == "EUR"
    assert ad.post.author == "Vendeur é"
    assert ad.image_urls == ["https://shop.example/a.png"]
    assert ad.post.external_id == "123456"
    assert "posted_at" in ad.missing and "title" not in ad.missing


def test_hostile_page_is_data_not_code():
    prof = load_profile("leboncoin")
    html = ('<h1 data-qa-id="adview_title">&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}</h1>'
            '<script id="__NEXT_DATA__" type="application/json">{not json</script>')
    ad = parse_ad(prof, Page("https://www.leboncoin.fr/ad/x/1", html))
    assert ad.post.title == "<script>alert(1)</script>{{ 7*7 }}"  # kept verbatim, escaped on output


def test_block_and_removal_detection():
    lbc = load_profile("leboncoin")
    assert detect_block(lbc, 403, {}, b"<script src='https://ct.captcha-delivery.com/c.js'></script>")
    assert detect_block(lbc, 200, {}, b"<html><title>Just a moment...</title>_cf_chl_opt</html>")
    assert detect_block(lbc, 200, {"cf-mitigated": "challenge"}, b"")
    assert detect_block(lbc, 429, {}, b"slow down")
    assert detect_block(lbc, 200, {}, b"<h1>Vends passeport</h1>") is None
    page = Page("https://www.leboncoin.fr/ad/x/1", "<h1>Cette annonce n'est plus en ligne</h1>")
    assert "plus en ligne" in detect_removed(lbc, 200, page.url, page.url, page)
    assert detect_removed(lbc, 410, page.url, page.url, None) == "HTTP 410"
    tay = load_profile("tayara")
    assert "redirected" in detect_removed(tay, 200, "https://www.tayara.tn/item/x/1/",
                                          "https://www.tayara.tn/ads/c/immobilier/", None)
    flagged = Page("https://www.tayara.tn/item/x/1/", '<script id="__NEXT_DATA__" type="application/json">'
                   '{"props":{"pageProps":{"adDetails":{"deleted":true}}}}</script>')
    assert "deleted" in detect_removed(tay, 200, flagged.url, flagged.url, flagged)


def test_base_url_override_keeps_the_crawl_on_the_local_host():
    p = load_profile("leboncoin").with_base("http://127.0.0.1:8000/leboncoin")
    assert p.search_url(p.search_urls[0], "rdv préfecture", 2) == \
        "http://127.0.0.1:8000/leboncoin/recherche?text=rdv+pr%C3%A9fecture&page=2"
    assert p.rebase("https://www.leboncoin.fr/ad/services/1") == "http://127.0.0.1:8000/leboncoin/ad/services/1"
    assert p.rebase("https://img.leboncoin.fr/api/v1/x.jpg") == "http://127.0.0.1:8000/leboncoin/api/v1/x.jpg"
    assert p.rebase("http://127.0.0.1:8000/ad/services/1") == "http://127.0.0.1:8000/leboncoin/ad/services/1"
    assert p.is_ad_url("http://127.0.0.1:8000/leboncoin/ad/services/1")
    assert p.allowed_hosts == ["127.0.0.1"]


def test_scrapy_list_works_as_for_any_scrapy_project():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([str(Path(sys.executable).parent / "scrapy"), "list"], cwd=root, capture_output=True,
                         text=True, timeout=120, env={"SCRAPY_SETTINGS_MODULE": "spiders.settings",
                                                      "PATH": "/usr/bin:/bin", "HOME": str(root)})
    assert out.returncode == 0, out.stderr
    assert set(SHIPPED) <= set(out.stdout.split())


def _scrapy(args, env_extra, cwd):
    """The venv's ``scrapy`` command, as a user runs it from the project root (no PYTHONPATH)."""
    env = {"SCRAPY_SETTINGS_MODULE": "spiders.settings", "PATH": "/usr/bin:/bin", "HOME": str(cwd), **env_extra}
    return subprocess.run([str(Path(sys.executable).parent / "scrapy"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=env)


def test_scrapy_crawl_works_as_for_any_scrapy_project(site, tmp_path):
    """``scrapy crawl leboncoin`` from the project root: items to a feed without a workspace, and into the
    workspace (posts, evidence, a runs row) with ``VEILLE_WORKSPACE``."""
    import json

    from conftest import fast_workspace

    root = Path(__file__).resolve().parents[2]
    args = ["crawl", "leboncoin", "-a", f"base_url={site.base('lbc')}", "-a", "keywords=rdv", "-a", "max_pages=1",
            "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING"]
    feed = tmp_path / "items.jsonl"
    out = _scrapy([*args, "-O", str(feed)], {}, root)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Error" not in out.stderr, out.stderr[-2000:]
    items = [json.loads(line) for line in feed.read_text("utf-8").splitlines()]
    ads = [i for i in items if "post" in i]
    assert len(ads) == 4, out.stderr[-2000:]  # page 1 of the fixture site: 4 ads (and one removed ad)
    assert {a["post"]["external_id"] for a in ads} == {"1000", "1001", "1002", "1003"}
    ev = ads[0]["evidence"]
    assert ev["status"] == 200 and len(ev["body_sha256"]) == 64 and ev["body_size"] > 500
    assert sum(1 for i in items if i.get("reason") == "HTTP 410") == 1

    ws = fast_workspace(tmp_path / "ws")
    ws_root = ws.root
    ws.close()
    out = _scrapy(args, {"VEILLE_WORKSPACE": str(ws_root)}, root)
    assert out.returncode == 0, out.stderr[-2000:]
    from storage import Workspace

    ws = Workspace.open(ws_root)
    try:
        posts = ws.db.execute("select external_id, category from posts where platform = 'leboncoin'").fetchall()
        assert sorted(p[0] for p in posts) == ["1000", "1001", "1002", "1003"], out.stderr[-2000:]
        n_raw = ws.db.execute("select count(*) from artifacts a join captures c on c.id = a.capture_id "
                              "where c.post_id is not null and a.role = 'raw_html'").fetchone()[0]
        assert n_raw == 4
        assert ws.db.execute("select source, kind, status, items from runs").fetchall() == [
            ("leboncoin", "crawl", "ok", 4)]
    finally:
        ws.close()


@pytest.mark.parametrize("text", [
    "<html><body><h1>x</h1></body></html>", "  \n<!doctype html><p>a", "\ufeff<html><p>b</p></html>",
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>',
    ' \n<?xml version="1.0" encoding="utf-8"?><rss><channel><title>t</title></channel></rss>',
    '{"props": {"pageProps": {"ad": {"subject": "x"}}}}', ' \r\n[1, 2, {"a": "b"}]', "123", '"just a string"',
    "{not json at all <p>x</p>", "[broken", "\u00a0{}", "\ufeff{}", "",
])
def test_a_pages_selector_has_the_type_parsel_would_give_it(text):
    """Page.sel names its type instead of letting parsel try json.loads on every page: the same type."""
    from parsel import Selector

    from spiders.profile import Page

    page = Page("https://example.test/a", text)
    assert page.sel.type == Selector(text=text or "<html></html>").type


def test_block_markers_with_accents_are_found_in_the_pages_own_charset():
    """A windows-1252 "Accès refusé" page is a block page (the body used to be read as UTF-8 only); a page
    without a declared charset is still read as UTF-8."""
    lbc = load_profile("leboncoin")
    page = "<html><head><title>Accès refusé</title></head><body>Vous êtes un robot ?</body></html>"
    cp = page.encode("windows-1252")
    assert detect_block(lbc, 200, {"Content-Type": "text/html; charset=windows-1252"}, cp)
    meta = b'<meta charset="windows-1252">' + cp
    assert detect_block(lbc, 200, {}, meta)
    assert detect_block(lbc, 200, {}, page.encode("utf-8"))
    assert detect_block(lbc, 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode("utf-8"))
    assert detect_block(lbc, 200, {"Content-Type": "text/html; charset=nonsense"}, page.encode("utf-8"))
    assert detect_block(lbc, 200, {}, cp) is None  # undeclared windows-1252: read as UTF-8, as before
    assert detect_block(lbc, 200, {"Content-Type": "text/html; charset=windows-1252"},
                        "<h1>Vends passeport, accès rapide</h1>".encode("windows-1252")) is None
