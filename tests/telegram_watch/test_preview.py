"""t.me/s and embed parsing, saved-page import, embed re-check (local 127.0.0.1 server)."""

from __future__ import annotations

import json

import pytest

from storage.errors import InputError
from telegram_watch.preview import import_pages, normalise_channel, parse_channel_page, recheck


def test_channel_page_fields(tgf):
    page = parse_channel_page(tgf.page1(), url="https://t.me/s/rdv_express_test")
    assert page.channel == "rdv_express_test"
    assert page.info.title == "RDV Express (fiction)"
    assert page.info.counters == {"subscribers": 2500, "photos": 31}
    assert "Contact: @rdv_rapide_vendeur" in page.info.description
    assert page.before == 101 and not page.not_found
    posts = {p.extra["message_id"]: p for p in page.posts}
    assert sorted(posts) == [101, 102, 103, 104, 105, 106]
    p = posts[101]
    assert p.platform == "telegram" and p.external_id == "rdv_express_test/101"
    assert p.url == "https://t.me/rdv_express_test/101"
    assert p.text.startswith("Vends RDV préfecture de Bobigny pour titre de séjour,\ncréneau disponible demain, 80€.")
    assert p.text.endswith("#rdv 🔥")
    assert p.posted_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert p.extra["views"] == 1200 and p.extra["author_signature"] == "Admin Fiction"
    assert p.author == "Admin Fiction"
    assert p.media[0]["kind"] == "photo" and p.media[0]["url"] == "https://cdn.example/file/photo101.jpg"
    ents = {(e["type"], e["text"]) for e in p.extra["entities"]}
    assert ("bold", "Vends RDV préfecture") in ents
    assert ("mention", "@rdv_rapide_vendeur") in ents
    assert ("url", "https://t.me/rdvexpress_autre") in ents
    assert ("hashtag", "#rdv") in ents
    for e in p.extra["entities"]:  # offsets point at the text
        assert p.text[e["offset"]:e["offset"] + e["length"]] == e["text"]
    f = posts[102]
    assert f.forwarded_from == "https://t.me/source_chan_test/55"
    assert f.extra["forwarded"]["channel"] == "source_chan_test" and f.extra["forwarded"]["message_id"] == 55
    assert f.reply_to == "https://t.me/rdv_express_test/101"
    assert f.extra["reply"]["text"] == "Vends RDV préfecture de Bobigny"
    assert f.text == "Encore 3 créneaux ANEF, appelez le 06 39 98 12 34"  # the quote is not in the text
    assert [m["kind"] for m in f.media] == ["video"] and f.media[0]["url"].endswith("video102.mp4")
    assert f.extra["edited"] is True and f.extra["views"] == 987
    lp = posts[103].extra["link_preview"]
    assert lp == {"url": "https://rdv-express.example/tarifs", "site_name": "rdv-express.example",
                  "title": "Tarifs RDV", "description": "Préfecture, VFS, TLS",
                  "image": "https://cdn.example/file/lp.jpg"}
    assert posts[103].extra["views"] == 3_000_000
    assert posts[104].extra.get("service") is True
    doc = posts[106]
    assert doc.extra["media_not_public"] is True and doc.media[0]["kind"] == "document"


def test_hostile_html_is_inert(tgf):
    p = next(p for p in parse_channel_page(tgf.page1()).posts if p.extra["message_id"] == 105)
    assert "alert('xss')" not in p.text and "<script" not in p.text and "display:none" not in p.text
    assert "onerror" not in json.dumps(p.to_dict())
    assert "javascript:" not in json.dumps(p.to_dict())
    # text stays literal: escaped markup is text, template syntax is not evaluated
    assert "<b>pas du gras</b>" in p.text and "{{ 7*7 }}" in p.text and "49" not in p.text
    assert "cliquez" in p.text


def test_pagination_page_and_empty_text(tgf):
    page = parse_channel_page(tgf.page2())
    assert [p.extra["message_id"] for p in page.posts] == [99, 100] and page.before is None


def test_not_found_and_bad_input(tgf):
    page = parse_channel_page(tgf.LANDING_PAGE)
    assert page.not_found and not page.posts
    with pytest.raises(InputError):
        parse_channel_page(b"   ")
    assert normalise_channel("https://t.me/s/Rdv_Express_Test") == "rdv_express_test"
    assert normalise_channel("@Rdv_Express_Test") == "rdv_express_test"
    with pytest.raises(InputError):
        normalise_channel("../../etc")


def test_import_saved_pages_idempotent_and_raw_html_kept(workspace, tmp_path, tgf):
    f1 = tmp_path / "page1.html"
    f1.write_text(tgf.page1(), encoding="utf-8")
    bad = tmp_path / "landing.html"
    bad.write_text(tgf.LANDING_PAGE, encoding="utf-8")
    rep = import_pages(workspace, [str(f1), str(bad), str(tmp_path / "missing.html")])
    assert rep.imported == 6 and len(rep.errors) == 2
    assert "does not exist" in rep.errors[0][1] and "no such file" in rep.errors[1][1]
    assert rep.positives >= 1 and rep.channels["rdv_express_test"]["title"] == "RDV Express (fiction)"
    row = workspace.db.execute("select a.sha256 from artifacts a join captures c on c.id=a.capture_id "
                               "join posts p on p.id=c.post_id where p.external_id='rdv_express_test/105' "
                               "and a.role='raw_html'").fetchone()
    assert workspace.store.read(row[0]) == f1.read_bytes()  # byte for byte, stored inert
    rep2 = import_pages(workspace, [str(f1)])
    assert rep2.imported == 0 and rep2.unchanged == 6
    assert workspace.db.execute("select count(*) from captures").fetchone()[0] == 6
    alerts = workspace.db.execute("select count(*) from alerts where kind='offer'").fetchone()[0]
    assert alerts == rep.positives


def test_recheck_live_changed_deleted(workspace, tmp_path, tgf, tme_server):
    f1 = tmp_path / "page1.html"
    f1.write_text(tgf.page1(), encoding="utf-8")
    import_pages(workspace, [str(f1)])
    pid = workspace.db.execute("select id from posts where external_id='rdv_express_test/103'").fetchone()[0]
    text = 'Nos tarifs: <a href="https://rdv-express.example/tarifs">ici</a>'
    tme_server.route("/rdv_express_test/103?embed=1", tgf.embed_page(103, text))
    r = recheck(workspace, pid, base_url=tme_server.url)
    assert r.outcome == "live" and r.http_status == 200
    tme_server.route("/rdv_express_test/103?embed=1", tgf.embed_page(103, "Nos tarifs ont changé: 120€"))
    r = recheck(workspace, pid, base_url=tme_server.url)
    assert r.outcome == "changed"
    row = workspace.db.execute("select version, text, status from posts where id=?", [pid]).fetchone()
    assert row == (2, "Nos tarifs ont changé: 120€", "live")
    tme_server.route("/rdv_express_test/103?embed=1", tgf.EMBED_NOT_FOUND)
    r = recheck(workspace, pid, base_url=tme_server.url)
    assert r.outcome == "deleted"
    status, at, cap = workspace.db.execute("select status, status_at, status_capture_id from posts where id=?",
                                           [pid]).fetchone()
    assert status == "deleted" and at and cap == r.capture_id
    versions = workspace.db.execute("select count(*) from post_versions where post_id=?", [pid]).fetchone()[0]
    assert versions == 2  # nothing erased
    outcome = workspace.db.execute("select outcome from captures where id=?", [r.capture_id]).fetchone()[0]
    assert outcome == "removed"
    # network failure: an error capture, the post stays as it was
    r = recheck(workspace, pid, base_url="http://127.0.0.1:9")
    assert r.outcome == "error"
    assert workspace.db.execute("select status from posts where id=?", [pid]).fetchone()[0] == "deleted"


def test_cli_import_telegram_page(runner, cli_app, workspace, tmp_path, tgf):
    f1 = tmp_path / "page1.html"
    f1.write_text(tgf.page1(), encoding="utf-8")
    res = runner.invoke(cli_app, ["import", "telegram-page", str(f1), "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "6 new" in res.output and "ALERT" in res.output
    bad = tmp_path / "landing.html"
    bad.write_text(tgf.LANDING_PAGE, encoding="utf-8")
    res = runner.invoke(cli_app, ["import", "telegram-page", str(bad), "-w", str(workspace.root)])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_crawl_channels_for_daily(workspace, tme_server):
    from telegram_watch.preview import crawl_channels

    workspace.config.data["collect"]["download_delay"] = 0.25
    slept = []
    rep = crawl_channels(workspace, ["rdv_express_test", "@nobody_here_test", "bad name!"],
                         base_url=tme_server.url, sleep=slept.append, screenshots=False)
    assert rep.imported == 8 and rep.pages == 3 and rep.items == 8
    assert set(rep.failed) == {"nobody_here_test", "bad name!"} and "does not exist" in rep.failed["nobody_here_test"]
    # a polite delay between two requests to one host: 127.0.0.1 (robots.txt, then 3 pages; the redirect's
    # landing page follows inside one GET), and cdn.example (its robots.txt, then the photo of message 101)
    assert slept == [0.25] * 4 and tme_server.hits[0] == "/robots.txt"
    runs = dict(workspace.db.execute("select source, status from runs"))
    assert runs == {"tme:rdv_express_test": "ok", "tme:nobody_here_test": "failed"}
    # second day: the first page has nothing new, paging stops there
    hits = len(tme_server.hits)
    rep = crawl_channels(workspace, ["rdv_express_test"], base_url=tme_server.url, sleep=slept.append,
                         screenshots=False)
    assert rep.imported == 0 and len(tme_server.hits) == hits + 2  # robots.txt and the first page


def test_recheck_private_chat_is_an_error_not_a_crash(workspace):
    from storage import Post, save_post

    res = save_post(workspace, Post(platform="telegram", source="chat/9", external_id="chat/9/3", text="x"))
    r = recheck(workspace, res.post_id)
    assert r.outcome == "error" and "no public t.me address" in r.note


def _jpeg(color, size=(64, 48)) -> bytes:
    import io

    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, color)
    ImageDraw.Draw(im).rectangle([5, 5, size[0] // 2, size[1] // 2], fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    return buf.getvalue()


def _photo(srv, name, chan="photo_chan_test"):
    return (f'<a class="tgme_widget_message_photo_wrap" href="https://t.me/{chan}/1?single" '
            f'style="background-image:url(\'{srv.url}/file/{name}\')"></a>')


def _photo_page(tgf, srv, chan="photo_chan_test"):
    def photo(name):
        return _photo(srv, name, chan)

    m = [tgf.msg_html(7, f"""{photo("ok.jpg")}{photo("huge.jpg")}{photo("gone.jpg")}
     <div class="tgme_widget_message_text js-message_text" dir="auto">{tgf.OFFER}</div>
     {tgf.footer(7, "2026-11-03T10:00:00+00:00", "40", chan=chan)}""", chan),
         tgf.msg_html(8, f"""<div class="tgme_widget_message_text js-message_text" dir="auto">{tgf.NEUTRAL}</div>
     {tgf.footer(8, "2026-11-03T11:00:00+00:00", "41", chan=chan)}""", chan)]
    return tgf.channel_page(m, before=None, chan=chan)


class _Shooter:
    """Records the screenshot requests (the real Chromium path is tested in test_crawl_screenshot_chromium)."""

    def __init__(self):
        self.urls = []

    def take(self, url, extra=None):
        from storage.posts import Artifact, Capture

        self.urls.append(url)
        return Capture(kind="screenshot", url=url, http_status=200, note=f"veille capture | {url}",
                       artifacts=[Artifact(role="screenshot", data=b"\x89PNG fake " + url.encode(), mime="image/png")])

    def close(self):
        pass


def test_crawl_channels_robots_photos_and_screenshots(workspace, tme_server, tgf):
    import hashlib

    from telegram_watch.preview import crawl_channels

    srv = tme_server
    srv.route("/robots.txt", "User-agent: *\nDisallow: /s/secret_chan_test\nDisallow: /file/private\n",
              headers={"Content-Type": "text/plain"})
    srv.route("/s/photo_chan_test", _photo_page(tgf, srv))
    ok = _jpeg((200, 30, 30))
    srv.route("/file/ok.jpg", ok, headers={"Content-Type": "image/jpeg"})
    srv.route("/file/huge.jpg", b"\xff\xd8" + b"0" * 5000, headers={"Content-Type": "image/jpeg"})
    workspace.config.data["telegram"]["max_media_bytes"] = 4000
    shooter = _Shooter()
    rep = crawl_channels(workspace, ["secret_chan_test", "photo_chan_test"], base_url=srv.url, sleep=lambda s: None,
                         shooter=shooter)
    # robots.txt is read first and obeyed: the disallowed channel is never fetched
    assert srv.hits[0] == "/robots.txt" and "/s/secret_chan_test" not in srv.hits
    assert "robots.txt" in rep.failed["secret_chan_test"]
    assert rep.imported == 2 and rep.positives == 1
    row = workspace.db.execute("select id, media, version from posts where external_id='photo_chan_test/7'").fetchone()
    media = {m["url"].rsplit("/", 1)[1]: m for m in json.loads(row[1])}
    good = media["ok.jpg"]
    assert good["sha256"] == hashlib.sha256(ok).hexdigest() and good["size"] == len(ok)
    assert good["mime"] == "image/jpeg" and len(good["phash"]) == 16
    assert workspace.store.read(good["sha256"]) == ok
    assert "larger than 4000 bytes" in media["huge.jpg"]["note"] and not media["huge.jpg"].get("sha256")
    assert not media["gone.jpg"].get("sha256") and any("gone.jpg: HTTP 404" in e for e in rep.errors)
    assert rep.media_stored == 1 and rep.media_errors == 1
    art = workspace.db.execute("select a.role from artifacts a join captures c on c.id=a.capture_id "
                               "where c.post_id=? and a.sha256=?", [row[0], good["sha256"]]).fetchone()
    assert art == ("media",)
    # the positive message (only) got a screenshot of its public page, stored as a capture of the post
    assert shooter.urls == [f"{srv.url}/photo_chan_test/7?embed=1"]
    shot = workspace.db.execute("select c.kind, a.role from captures c join artifacts a on a.capture_id=c.id "
                                "where c.post_id=? and c.kind='screenshot'", [row[0]]).fetchall()
    assert shot == [("screenshot", "screenshot")]
    # next day: nothing fetched again but the page (and the photo that failed), nothing changes, no 2nd screenshot
    hits = list(srv.hits)
    rep2 = crawl_channels(workspace, ["photo_chan_test"], base_url=srv.url, sleep=lambda s: None, shooter=shooter)
    new_hits = srv.hits[len(hits):]
    assert sorted(new_hits) == ["/file/gone.jpg", "/robots.txt", "/s/photo_chan_test"], new_hits
    assert rep2.imported == 0 and rep2.updated == 0 and len(shooter.urls) == 1
    assert workspace.db.execute("select version from posts where id=?", [row[0]]).fetchone()[0] == 1


def test_crawl_channels_photo_disallowed_and_robots_403(workspace, tme_server, tgf):
    from telegram_watch.preview import crawl_channels

    srv = tme_server
    srv.route("/robots.txt", "User-agent: *\nDisallow: /file/\n")
    srv.route("/s/photo_chan_test", _photo_page(tgf, srv))
    rep = crawl_channels(workspace, ["photo_chan_test"], base_url=srv.url, sleep=lambda s: None, screenshots=False)
    assert rep.imported == 2 and rep.media_stored == 0
    assert not any(h.startswith("/file/") for h in srv.hits)
    assert any("disallowed by robots.txt" in e for e in rep.errors)
    srv.route("/robots.txt", "no", status=403)
    rep = crawl_channels(workspace, ["photo_chan_test"], base_url=srv.url, sleep=lambda s: None, screenshots=False)
    assert "robots.txt" in rep.failed["photo_chan_test"]


@pytest.mark.browser
def test_crawl_screenshot_chromium(workspace, tme_server, tgf):
    import io

    from PIL import Image

    from telegram_watch.preview import crawl_channels

    srv = tme_server
    srv.route("/s/photo_chan_test", _photo_page(tgf, srv))
    srv.route("/photo_chan_test/7?embed=1", tgf.embed_page(7, tgf.OFFER, chan="photo_chan_test"))
    rep = crawl_channels(workspace, ["photo_chan_test"], base_url=srv.url, sleep=lambda s: None, screenshots=True)
    assert rep.screenshots == 1 and rep.screenshot_errors == 0, rep.errors
    note, sha = workspace.db.execute(
        "select c.note, a.sha256 from captures c join artifacts a on a.capture_id=c.id join posts p on p.id=c.post_id "
        "where p.external_id='photo_chan_test/7' and c.kind='screenshot' and a.role='screenshot'").fetchone()
    assert f"{srv.url}/photo_chan_test/7?embed=1" in note and "Z (UTC)" in note and "HTTP 200" in note
    png = workspace.store.read(sha)
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.convert("RGB").getpixel((4, 4)) == (255, 212, 0)  # the banner


def test_links_email_voice_poll(tgf):
    inner = """<div class="tgme_widget_message_text js-message_text" dir="auto">Voir <a href="https://rdv.example/tarifs/2026">rdv.example</a>,
     <a href="http://rdv.example/page">rdv.example/page</a>, <a href="https://www.rdv.example/%C3%A9t%C3%A9/">https://www.rdv.example/été</a>
     et <a href="mailto:contact@rdv.example">contact@rdv.example</a></div>
     <audio class="tgme_widget_message_voice js-message_voice" src="https://cdn.example/file/voice.ogg"></audio>
     <div class="tgme_widget_message_poll"><div class="tgme_widget_message_poll_question">Quel créneau ?</div>
      <div class="tgme_widget_message_poll_type">Anonymous poll</div><div class="tgme_widget_message_poll_options">
      <div class="tgme_widget_message_poll_option"><div class="tgme_widget_message_poll_option_percent">60%</div>
       <div class="tgme_widget_message_poll_option_text">Matin</div></div>
      <div class="tgme_widget_message_poll_option"><div class="tgme_widget_message_poll_option_percent">40%</div>
       <div class="tgme_widget_message_poll_option_text">Soir</div></div></div></div>"""
    page = tgf.channel_page([tgf.msg_html(1, inner + tgf.footer(1, "2026-11-01T10:00:00+00:00"))], before=None)
    (p,) = parse_channel_page(page).posts
    ents = [(e["type"], e["text"]) for e in p.extra["entities"]]
    # a link whose words are not its address is a text_link (hidden address), even if they are its domain
    assert ents == [("text_link", "rdv.example"), ("url", "rdv.example/page"), ("url", "https://www.rdv.example/été"),
                    ("email", "contact@rdv.example")]
    assert p.media == [{"url": "https://cdn.example/file/voice.ogg", "sha256": None, "kind": "audio"}]
    assert p.extra["poll"] == {"question": "Quel créneau ?", "type": "Anonymous poll",
                               "options": [{"text": "Matin", "percent": "60%"}, {"text": "Soir", "percent": "40%"}]}
    assert p.extra["role"] == "channel"


def test_recheck_obeys_robots(workspace, tmp_path, tgf, tme_server):
    f1 = tmp_path / "page1.html"
    f1.write_text(tgf.page1(), encoding="utf-8")
    import_pages(workspace, [str(f1)])
    pid = workspace.db.execute("select id from posts where external_id='rdv_express_test/103'").fetchone()[0]
    tme_server.route("/robots.txt", "User-agent: *\nDisallow: /rdv_express_test/\n")
    tme_server.route("/rdv_express_test/103?embed=1", tgf.EMBED_NOT_FOUND)
    r = recheck(workspace, pid, base_url=tme_server.url)
    assert r.outcome == "error" and "robots.txt" in r.note
    assert "/rdv_express_test/103?embed=1" not in tme_server.hits
    assert workspace.db.execute("select status from posts where id=?", [pid]).fetchone()[0] == "live"


def test_import_page_saved_by_a_browser_keeps_its_address(workspace, tmp_path, tgf):
    html = tgf.page2().replace('<link rel="canonical" href="https://t.me/s/rdv_express_test">', "")
    f = tmp_path / "saved.html"
    f.write_text("<!-- saved from url=(0040)https://t.me/s/rdv_express_test?before=101 -->\n" + html, encoding="utf-8")
    rep = import_pages(workspace, [str(f)])
    assert rep.imported == 2
    urls = {r[0] for r in workspace.db.execute("select url from captures")}
    assert urls == {"https://t.me/s/rdv_express_test?before=101"}


def test_photo_downloads_survive_other_readings(workspace, tme_server, tgf, tmp_path):
    """A saved page or an embed re-check of a crawled message reuses its downloaded photos: no false new version."""
    from telegram_watch.preview import crawl_channels

    srv = tme_server
    srv.route("/s/photo_chan_test", _photo_page(tgf, srv))
    srv.route("/file/ok.jpg", _jpeg((0, 90, 0)), headers={"Content-Type": "image/jpeg"})
    crawl_channels(workspace, ["photo_chan_test"], base_url=srv.url, sleep=lambda s: None, screenshots=False)
    pid, v = workspace.db.execute("select id, version from posts where external_id='photo_chan_test/7'").fetchone()
    assert v == 1
    f = tmp_path / "saved.html"
    f.write_text(_photo_page(tgf, srv), encoding="utf-8")
    rep = import_pages(workspace, [str(f)])
    assert rep.imported == 0 and rep.updated == 0 and rep.unchanged == 2
    photos = "".join(_photo(srv, n) for n in ("ok.jpg", "huge.jpg", "gone.jpg"))
    embed = tgf.embed_page(7, tgf.OFFER, chan="photo_chan_test").replace(
        '<div class="tgme_widget_message_text', photos + '<div class="tgme_widget_message_text', 1)
    srv.route("/photo_chan_test/7?embed=1", embed)
    r = recheck(workspace, pid, base_url=srv.url)
    assert r.outcome == "live", r
    assert workspace.db.execute("select version from posts where id=?", [pid]).fetchone()[0] == 1


def test_daily_step_reports_photos_screenshots_and_their_problems(workspace, monkeypatch):
    from storage import daily
    from telegram_watch.preview import CrawlReport

    rep = CrawlReport(channels=1, imported=3, media_stored=2, screenshots=1, screenshot_errors=1,
                      errors=["screenshots off: no Chromium found"])
    monkeypatch.setattr(daily, "telegram_web_crawler", lambda: (lambda ws, channels, base_url=None: rep))
    step = daily.Step("telegram t.me/s", "source")
    daily.source_telegram_web(workspace, step, ["rdv_express_test"], None)
    assert step.items == 3 and "2 photo(s), 1 screenshot(s)" in step.detail
    assert "1 photo/screenshot problem(s), first: screenshots off: no Chromium found" in step.detail
    assert step.data["evidence_problems"] == ["screenshots off: no Chromium found"]
