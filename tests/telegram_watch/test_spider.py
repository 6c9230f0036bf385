"""The t.me/s spider against pages served by a 127.0.0.1 fixture server (real Scrapy crawl, subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def crawl(ws_root, base_url, channels, *extra):
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="spiders.settings", VEILLE_WORKSPACE=str(ws_root),
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "scrapy", "crawl", "tme", "-a", f"channels={channels}", "-a",
           f"base_url={base_url}", "-a", "max_pages=5", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
           "-s", "VEILLE_DOWNLOAD_IMAGES=0", "-s", "VEILLE_SCREENSHOTS=0", "-s", "LOG_LEVEL=WARNING",
           "-s", "ROBOTSTXT_OBEY=0", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_spider_crawls_paginates_and_stores(workspace, tme_server):
    root = workspace.root
    workspace.close()
    res = crawl(root, tme_server.url, "rdv_express_test,nobody_here_test")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "/s/rdv_express_test?before=101" in tme_server.hits  # went back in history
    from storage import Workspace

    ws = Workspace.open(root)
    try:
        ids = sorted(r[0] for r in ws.db.execute("select external_id from posts where platform='telegram'"))
        assert len(ids) == 8, (ids, res.stderr[-3000:])  # 6 on page 1, 2 on page 2: assert counts, not exit codes
        assert "rdv_express_test/99" in ids and "rdv_express_test/106" in ids
        row = ws.db.execute("select url, text, extra from posts where external_id='rdv_express_test/105'").fetchone()
        assert row[0] == "https://t.me/rdv_express_test/105"
        assert "alert('xss')" not in row[1]
        # the raw page is the evidence of every message read from it
        n_raw = ws.db.execute("select count(*) from artifacts a join captures c on c.id=a.capture_id "
                              "where c.post_id is not null and a.role='raw_html'").fetchone()[0]
        assert n_raw == 8
        positives = ws.db.execute("select count(*) from posts where category != 'none'").fetchone()[0]
        assert positives >= 2
        # the nonexistent channel: a clear error capture, no post
        note = ws.db.execute("select note from captures where outcome='error'").fetchall()
        assert any("nobody_here_test" in (n[0] or "") and "does not exist" in n[0] for n in note), note
    finally:
        ws.close()


def test_spider_downloads_photos(workspace, tme_server, tgf):
    """With images on, a t.me photo parsed by the spider gets its SHA-256, size and perceptual hash."""
    import hashlib
    import io
    import json

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buf, "JPEG")
    jpg = buf.getvalue()
    chan = "photo_chan_test"
    tme_server.route("/file/ok.jpg", jpg, headers={"Content-Type": "image/jpeg"})
    photo = (f'<a class="tgme_widget_message_photo_wrap" href="https://t.me/{chan}/7?single" '
             f'style="background-image:url(\'{tme_server.url}/file/ok.jpg\')"></a>')
    msg = tgf.msg_html(7, f"""{photo}<div class="tgme_widget_message_text js-message_text">{tgf.NEUTRAL}</div>
     {tgf.footer(7, "2026-11-03T10:00:00+00:00", "40", chan=chan)}""", chan)
    tme_server.route(f"/s/{chan}", tgf.channel_page([msg], before=None, chan=chan))
    root = workspace.root
    workspace.close()
    res = crawl(root, tme_server.url, chan, "-s", "VEILLE_DOWNLOAD_IMAGES=1")
    assert res.returncode == 0, res.stderr[-3000:]
    from storage import Workspace

    ws = Workspace.open(root)
    try:
        pid, media = ws.db.execute("select id, media from posts where external_id='photo_chan_test/7'").fetchone()
        (m,) = json.loads(media)
        assert m["kind"] == "photo" and m["sha256"] == hashlib.sha256(jpg).hexdigest() and len(m["phash"]) == 16
        assert ws.store.read(m["sha256"]) == jpg
        n = ws.db.execute("select count(*) from artifacts a join captures c on c.id=a.capture_id where c.post_id=? "
                          "and a.role='media' and a.sha256=?", [pid, m["sha256"]]).fetchone()[0]
        assert n == 1
    finally:
        ws.close()


def test_spider_screenshots_the_message_embed_on_the_server_it_crawls(tme_server):
    """Positive messages are screenshotted through their ``?embed=1`` view on the crawled server (a fixture or
    a mirror given with base_url), not on https://t.me."""
    import urllib.request

    from scrapy.http import HtmlResponse, Request

    from spiders.items import AdItem
    from spiders.sites.tme import TmeSpider

    url = f"{tme_server.url}/s/rdv_express_test"
    body = urllib.request.urlopen(url, timeout=10).read()  # noqa: S310 - the local fixture server
    spider = TmeSpider(channels="rdv_express_test", base_url=tme_server.url)
    resp = HtmlResponse(url, body=body, encoding="utf-8",
                        request=Request(url, meta={"veille_channel": "rdv_express_test", "veille_page": 1}))
    ads = [x for x in spider.parse(resp) if isinstance(x, AdItem)]
    assert len(ads) == 6
    for ad in ads:
        mid = ad.post.extra["message_id"]
        assert ad.screenshot_url == f"{tme_server.url}/rdv_express_test/{mid}?embed=1"
        assert ad.post.url == f"https://t.me/rdv_express_test/{mid}"  # the post keeps its canonical address
