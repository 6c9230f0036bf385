"""Fixtures for telegram_watch: our own t.me/s pages, a 127.0.0.1 server, Telethon TL builders, a recorded seam.

Everything here is fictional (ARCEP fiction phone numbers, .test/.example domains).
Nothing ever reaches Telegram.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

OFFER = ("Vends RDV préfecture de Bobigny pour titre de séjour, créneau disponible demain, 80€. "
         "Contact @rdv_rapide_vendeur ou https://t.me/rdvexpress_autre")
NEUTRAL = "Bonjour à tous, la préfecture sera fermée lundi (jour férié)."


def msg_html(mid: int, inner: str, chan: str = "rdv_express_test", cls: str = "") -> str:
    return f"""
  <div class="tgme_widget_message_wrap js-widget_message_wrap">
   <div class="tgme_widget_message js-widget_message {cls}" data-post="{chan}/{mid}">
    <div class="tgme_widget_message_bubble">
     {inner}
    </div>
   </div>
  </div>"""


def footer(mid: int, when: str, views: str = "1.2K", edited: bool = False, chan: str = "rdv_express_test") -> str:
    ed = "edited " if edited else ""
    return (f'<div class="tgme_widget_message_footer"><div class="tgme_widget_message_info">'
            f'<span class="tgme_widget_message_views">{views}</span>'
            f'<span class="tgme_widget_message_meta">{ed}<a class="tgme_widget_message_date" '
            f'href="https://t.me/{chan}/{mid}"><time datetime="{when}">12:00</time></a></span></div></div>')


def channel_page(messages: list[str], before: int | None = 101, chan: str = "rdv_express_test") -> str:
    more = f'<a href="/s/{chan}?before={before}" class="tme_messages_more js-messages_more" data-before="{before}"></a>' \
        if before else ""
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>RDV Express (fiction) – Telegram</title>
<meta property="og:title" content="RDV Express (fiction)">
{f'<link rel="prev" href="/s/{chan}?before={before}">' if before else ''}
<link rel="canonical" href="https://t.me/s/{chan}">
</head><body>
<div class="tgme_channel_info">
 <div class="tgme_channel_info_header">
  <div class="tgme_channel_info_header_title"><span dir="auto">RDV Express (fiction)</span></div>
  <div class="tgme_channel_info_header_username"><a href="https://t.me/{chan}">@{chan}</a></div>
 </div>
 <div class="tgme_channel_info_counters">
  <div class="tgme_channel_info_counter"><span class="counter_value">2.5K</span> <span class="counter_type">subscribers</span></div>
  <div class="tgme_channel_info_counter"><span class="counter_value">31</span> <span class="counter_type">photos</span></div>
 </div>
 <div class="tgme_channel_info_description">Créneaux <b>préfecture</b> &amp; visas<br>Contact: <a href="https://t.me/rdv_rapide_vendeur">@rdv_rapide_vendeur</a></div>
</div>
<main class="tgme_main"><section class="tgme_channel_history js-message_history">{more}
{''.join(messages)}
</section></main></body></html>"""


def page1(chan: str = "rdv_express_test") -> str:
    m = []
    m.append(msg_html(101, f"""
     <div class="tgme_widget_message_author"><a class="tgme_widget_message_owner_name" href="https://t.me/{chan}"><span dir="auto">RDV Express (fiction)</span></a></div>
     <a class="tgme_widget_message_photo_wrap" href="https://t.me/{chan}/101?single" style="width:800px;background-image:url('https://cdn.example/file/photo101.jpg')"></a>
     <div class="tgme_widget_message_text js-message_text" dir="auto"><b>Vends RDV préfecture</b> de Bobigny pour titre de séjour,<br>créneau disponible demain, 80€.<br>Contact <a href="https://t.me/rdv_rapide_vendeur">@rdv_rapide_vendeur</a> ou <a href="https://t.me/rdvexpress_autre" target="_blank">https://t.me/rdvexpress_autre</a> <a href="?q=%23rdv">#rdv</a> <i class="emoji" style="background-image:url('//telegram.org/img/emoji/40/F09F94A5.png')"><b>🔥</b></i></div>
     <span class="tgme_widget_message_from_author" dir="auto">Admin Fiction</span>
     {footer(101, "2026-11-01T10:00:00+00:00", "1.2K")}""", chan))
    m.append(msg_html(102, f"""
     <div class="tgme_widget_message_forwarded_from accent_color">Forwarded from <a class="tgme_widget_message_forwarded_from_name" href="https://t.me/source_chan_test/55"><span dir="auto">Source Chan (fiction)</span></a></div>
     <a class="tgme_widget_message_reply" href="https://t.me/{chan}/101"><div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_author_name" dir="auto">RDV Express (fiction)</span></div><div class="tgme_widget_message_metatext js-message_reply_text" dir="auto">Vends RDV préfecture de Bobigny</div></a>
     <div class="tgme_widget_message_text js-message_text" dir="auto">Encore 3 créneaux ANEF, appelez le 06 39 98 12 34</div>
     <a class="tgme_widget_message_video_player" href="https://t.me/{chan}/102"><i class="tgme_widget_message_video_thumb" style="background-image:url('https://cdn.example/file/thumb102.jpg')"></i><div class="tgme_widget_message_video_wrap"><video class="tgme_widget_message_video js-message_video" src="https://cdn.example/file/video102.mp4" width="100%" height="100%"></video></div></a>
     {footer(102, "2026-11-01T11:00:00+00:00", "987", edited=True)}""", chan))
    m.append(msg_html(103, f"""
     <div class="tgme_widget_message_text js-message_text" dir="auto">Nos tarifs: <a href="https://rdv-express.example/tarifs" target="_blank" rel="noopener">ici</a></div>
     <a class="tgme_widget_message_link_preview" href="https://rdv-express.example/tarifs"><i class="link_preview_right_image" style="background-image:url('https://cdn.example/file/lp.jpg')"></i><div class="link_preview_site_name accent_color" dir="auto">rdv-express.example</div><div class="link_preview_title" dir="auto">Tarifs RDV</div><div class="link_preview_description" dir="auto">Préfecture, VFS, TLS</div></a>
     {footer(103, "2026-11-02T09:30:00+00:00", "3M")}""", chan))
    m.append(msg_html(104, f"""
     <div class="tgme_widget_message_text js-message_text" dir="auto">Channel photo updated</div>
     {footer(104, "2026-11-02T10:00:00+00:00", "")}""", chan, cls="service_message"))
    m.append(msg_html(105, f"""
     <div class="tgme_widget_message_text js-message_text" dir="auto">Faux passeport dispo <script>alert('xss')</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">cliquez</a> {{{{ 7*7 }}}} =cmd|' /C calc'!A0 &lt;b&gt;pas du gras&lt;/b&gt;</div>
     <style>body{{display:none}}</style>
     {footer(105, "2026-11-02T11:00:00+00:00", "12")}""", chan))
    m.append(msg_html(106, f"""
     <div class="tgme_widget_message_document_wrap"><div class="tgme_widget_message_document"><div class="tgme_widget_message_document_title" dir="auto">liste_rdv.pdf</div></div></div>
     <div class="message_media_not_supported_wrap"><div class="message_media_not_supported"><div class="message_media_not_supported_label">Please open Telegram to view this post</div></div></div>
     {footer(106, "2026-11-02T12:00:00+00:00", "40")}""", chan))
    return channel_page(m, before=101, chan=chan)


def page2(chan: str = "rdv_express_test") -> str:
    m = [msg_html(99, f"""<div class="tgme_widget_message_text js-message_text" dir="auto">{NEUTRAL}</div>
     {footer(99, "2026-10-30T08:00:00+00:00", "500")}""", chan),
         msg_html(100, f"""<div class="tgme_widget_message_text js-message_text" dir="auto">Carte d'identité et permis de conduire vrais faux, livraison rapide, 06 39 98 45 67</div>
     {footer(100, "2026-10-31T08:00:00+00:00", "700")}""", chan)]
    return channel_page(m, before=None, chan=chan)


def embed_page(mid: int, text: str, chan: str = "rdv_express_test") -> str:
    return f"""<!doctype html><html><body class="widget_frame_base tgme_widget body_widget_post">
<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{chan}/{mid}">
 <div class="tgme_widget_message_bubble">
  <div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>
  {footer(mid, "2026-11-01T10:00:00+00:00", "1.3K")}
 </div></div></body></html>"""


EMBED_NOT_FOUND = """<!doctype html><html><body class="widget_frame_base tgme_widget body_widget_post">
<div class="tgme_widget_message_error">Post not found</div></body></html>"""

LANDING_PAGE = """<!doctype html><html><head><title>Telegram: Contact @nobody_here_test</title></head><body>
<div class="tgme_page"><div class="tgme_page_title">Telegram</div>
<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can contact the user right away.</div>
</div></body></html>"""


class FixtureServer:
    """A 127.0.0.1 HTTP server answering from a {path?query: (status, body, headers)} table."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, dict]] = {}
        self.hits: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits.append(self.path)
                status, body, headers = outer.routes.get(self.path, (404, b"not found", {}))
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, path: str, body: str | bytes, status: int = 200, headers: dict | None = None) -> None:
        self.routes[path] = (status, body.encode("utf-8") if isinstance(body, str) else body, headers or {})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tme_server():
    srv = FixtureServer()
    srv.route("/s/rdv_express_test", page1())
    srv.route("/s/rdv_express_test?before=101", page2())
    srv.route("/s/nobody_here_test", b"", status=302, headers={"Location": "/nobody_here_test"})
    srv.route("/nobody_here_test", LANDING_PAGE)
    yield srv
    srv.close()


# ------------------------------------------------------------------ Telethon
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CHANNEL_ID = 1_500_000_001


def tl_channel(cid: int = CHANNEL_ID, username: str = "rdv_express_test", title: str = "RDV Express (fiction)"):
    from telethon.tl import types

    return types.Channel(id=cid, title=title, photo=types.ChatPhotoEmpty(), date=T0, username=username,
                         access_hash=42, broadcast=True)


def tl_message(mid: int, text: str, cid: int = CHANNEL_ID, date: datetime | None = None, edit_date=None, **kw):
    from telethon.tl import types

    return types.Message(id=mid, peer_id=types.PeerChannel(cid), date=date or T0 + timedelta(minutes=mid),
                         message=text, post=True, edit_date=edit_date, views=kw.pop("views", 10 * mid), **kw)


class RecordedSeam:
    """Replays a recorded channel history; scripted failures fire once at a given message id."""

    def __init__(self, entity, messages, fail_before: dict | None = None, pace: float = 0.0):
        self.entity = entity
        self.messages = sorted(messages, key=lambda m: m.id)
        self.fail_before = dict(fail_before or {})  # message id -> exception raised before yielding it
        self.pace = pace
        self.calls: list[tuple] = []
        self.slept: list[float] = []
        self.authorized = True

    async def connect(self):
        self.calls.append(("connect",))

    async def disconnect(self):
        self.calls.append(("disconnect",))

    async def is_user_authorized(self):
        return self.authorized

    async def get_entity(self, ref):
        self.calls.append(("get_entity", ref))
        from telethon import errors

        if str(ref).lstrip("@").lower() != self.entity.username.lower():
            raise errors.UsernameNotOccupiedError(request=None)
        return self.entity

    async def latest_message_id(self, entity):
        return self.messages[-1].id if self.messages else 0

    def iter_messages(self, entity, *, min_id=0, offset_date=None, limit=None, reverse=True):
        self.calls.append(("iter_messages", min_id, offset_date, limit))
        seam = self

        async def gen():
            n = 0
            for m in seam.messages:
                if m.id <= min_id or (offset_date is not None and m.date <= offset_date):
                    continue
                if m.id in seam.fail_before:
                    raise seam.fail_before.pop(m.id)
                if limit is not None and n >= limit:
                    return
                n += 1
                yield m
        return gen()

    async def download_media(self, message, max_bytes):
        return None

    async def search(self, query, limit=50):
        from telethon.tl import types

        self.calls.append(("search", query, limit))
        return types.contacts.Found(my_results=[], results=[types.PeerChannel(self.entity.id)],
                                    chats=[self.entity], users=[])

    async def sleep(self, seconds):
        self.slept.append(seconds)


@pytest.fixture
def tgf():
    """This module's builders (tests import nothing from conftest directly under importlib mode)."""
    import sys

    return sys.modules[__name__]
