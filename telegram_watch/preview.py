"""Telegram's public web previews: ``t.me/s/<channel>`` pages and ``?embed=1`` single messages.

Pure parsing (HTML in, :class:`~storage.post.Post` records and channel info out)
plus :func:`recheck`, the single-message re-capture used by ``veille recheck``.
No account is needed; only public channels have a preview.

What a preview shows: text with its links and formatting, date, views, author
signature, forwarded-from, the quoted reply, photos and videos (their CDN URLs),
link previews and service messages. Documents and long videos are *not*
public on t.me/s: the page only says "Please open Telegram to view this post".

The page content is hostile: it is only ever read as data. Scripts, styles and
event attributes are never copied out; URLs other than http(s)/tg are dropped.
The raw HTML is kept byte for byte in the evidence store (never served).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree

from storage.errors import InputError, SourceError
from storage.post import Post, to_utc, utcnow

TME = "https://t.me"
MAX_PAGE_BYTES = 5_000_000
_CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_BG_URL_RE = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_SAFE_SCHEMES = ("http://", "https://", "tg://")
_SKIP_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg"}
_FORMAT_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
                "s": "strike", "del": "strike", "code": "code", "pre": "pre", "blockquote": "blockquote",
                "tg-spoiler": "spoiler"}


def normalise_channel(name: str) -> str:
    """``@Name``, ``t.me/Name``, ``https://t.me/s/Name`` → ``name`` (lower case); InputError if invalid."""
    raw = (name or "").strip()
    m = re.match(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?([^/?#]+)", raw)
    if m:
        raw = m.group(1)
    raw = raw.lstrip("@")
    if not _CHANNEL_RE.match(raw):
        raise InputError(f"not a public Telegram channel name: {name[:80]!r}")
    return raw.lower()


def message_url(channel: str, msg_id: int | str) -> str:
    return f"{TME}/{channel}/{msg_id}"


def _classes(el) -> set[str]:
    return set((el.get("class") or "").split())


def _find(el, cls: str):
    found = el.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")
    return found[0] if found else None


def _find_all(el, cls: str):
    return el.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")


def _safe_url(url: str | None, base: str = TME) -> str | None:
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    elif url.startswith("?") or url.startswith("/"):
        url = urllib.parse.urljoin(base + "/", url)
    if not url.lower().startswith(_SAFE_SCHEMES):
        return None
    return url[:2000]


def _url_key(url: str) -> str:
    """An address without scheme, trailing slash, percent-encoding or case, to compare a link's text and href."""
    u = urllib.parse.unquote(url.strip()).rstrip("/")
    return re.sub(r"^[a-z][a-z0-9+.-]*://", "", u, flags=re.I).removeprefix("www.").lower()


def _plain(el) -> str:
    if el is None:
        return ""
    text, _ = rich_text(el)
    return text.strip()


_BR = "\x00"


def rich_text(el, base: str = TME) -> tuple[str, list[dict[str, Any]]]:
    """Text of an element as a reader sees it, and its entities (offsets in that text).

    ``<br>`` becomes a newline and other whitespace of the HTML source collapses
    as a browser renders it; emoji images give their character; links become
    ``url``/``text_link``/``mention``/``hashtag`` entities; formatting tags give
    ``bold``/``italic``… entities. Script/style content is skipped.
    """
    parts: list[str] = []
    entities: list[dict[str, Any]] = []
    length = 0

    def add(s: str | None) -> None:
        nonlocal length
        if s:
            s = s.replace(_BR, "")
            parts.append(s)
            length += len(s)

    def walk(node) -> None:
        nonlocal length
        if not isinstance(node.tag, str):  # comments, processing instructions
            add(node.tail)
            return
        tag = node.tag.lower()
        start = length
        if tag == "br":
            parts.append(_BR)
            length += 1
        elif tag not in _SKIP_TAGS:
            add(node.text)
            for child in node:
                walk(child)
            end = length
            parent = node.getparent()
            in_emoji = "emoji" in _classes(node) or (parent is not None and "emoji" in _classes(parent))
            if end > start and not in_emoji:
                if tag == "a":
                    seg = "".join(parts)[start:end].strip()
                    href = node.get("href") or ""
                    safe = _safe_url(href, base)
                    if href.startswith(("?q=%23", "?q=#")) or seg.startswith("#"):
                        entities.append({"type": "hashtag", "offset": start, "length": end - start})
                    elif seg.startswith("@"):
                        entities.append({"type": "mention", "offset": start, "length": end - start,
                                         "href": safe})
                    elif href.lower().startswith("mailto:"):
                        entities.append({"type": "email", "offset": start, "length": end - start})
                    elif safe:
                        # "url": the link shows its own address (Telegram adds http:// when the author
                        # wrote none); "text_link": other words link somewhere (hidden address)
                        kind = "url" if seg and _url_key(seg) == _url_key(safe) else "text_link"
                        entities.append({"type": kind, "offset": start, "length": end - start, "href": safe})
                elif tag in _FORMAT_TAGS:
                    entities.append({"type": _FORMAT_TAGS[tag], "offset": start, "length": end - start})
        add(node.tail)

    add(el.text)
    for child in el:
        walk(child)
    text, mapping = _collapse("".join(parts))
    lead = len(text) - len(text.lstrip(" \n"))
    text = text.strip(" \n")
    fixed = []
    for e in entities:
        s = max(mapping[e["offset"]] - lead, 0)
        t = min(mapping[e["offset"] + e["length"]] - lead, len(text))
        seg = text[s:t]
        # trim the spaces the collapse left at the edges
        s += len(seg) - len(seg.lstrip())
        t -= len(seg) - len(seg.rstrip())
        if t > s:
            fixed.append(dict(e, offset=s, length=t - s, text=text[s:t]))
    return text, fixed


def _collapse(raw: str) -> tuple[str, list[int]]:
    """Collapse HTML-source whitespace as a browser does; <br> (marked _BR) is a newline.

    Returns the text and, for each index of ``raw`` (and its end), the index in the text.
    """
    out: list[str] = []
    mapping: list[int] = []
    for ch in raw:
        mapping.append(len(out))
        if ch == _BR:
            while out and out[-1] == " ":
                out.pop()
            out.append("\n")
        elif ch in " \t\r\n\f\v":
            if out and out[-1] not in (" ", "\n"):
                out.append(" ")
        else:
            out.append(ch)
    mapping.append(len(out))
    n = len(out)
    return "".join(out), [min(m, n) for m in mapping]


def _parse_count(text: str | None) -> int | None:
    """``4.4K`` → 4400, ``3M`` → 3000000, ``987`` → 987; None if unreadable."""
    if not text:
        return None
    t = text.strip().replace(" ", "").replace("\u202f", "").replace(",", ".")
    m = re.match(r"^(\d+(?:\.\d+)?)([KkMmBb]?)", t)
    if not m:
        return None
    n = float(m.group(1))
    mult = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}[m.group(2).lower()]
    return int(round(n * mult))


@dataclass
class ChannelInfo:
    channel: str | None = None
    title: str | None = None
    description: str | None = None
    counters: dict[str, int | str] = field(default_factory=dict)
    photo_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "title": self.title, "description": self.description,
                "counters": self.counters, "photo_url": self.photo_url}


@dataclass
class PreviewPage:
    """One parsed t.me/s page (or embed page)."""

    channel: str | None
    info: ChannelInfo
    posts: list[Post]
    before: int | None = None  # id for the next (older) page: ?before=N
    after: int | None = None
    not_found: bool = False  # no channel history: unknown, private or not a channel
    error: str | None = None  # embed pages: "Post not found" …


def _forwarded(msg) -> tuple[str | None, dict[str, Any]]:
    box = _find(msg, "tgme_widget_message_forwarded_from")
    if box is None:
        return None, {}
    name_el = _find(box, "tgme_widget_message_forwarded_from_name")
    name = _plain(name_el) if name_el is not None else _plain(box).removeprefix("Forwarded from").strip()
    href = _safe_url(name_el.get("href")) if name_el is not None else None
    author_el = _find(box, "tgme_widget_message_forwarded_from_author")
    info = {"name": name or None, "url": href, "author": _plain(author_el) or None}
    if href:
        m = re.match(r"^https?://t\.me/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})(?:/(\d+))?", href)
        if m:
            info["channel"] = m.group(1).lower()
            if m.group(2):
                info["message_id"] = int(m.group(2))
    label = href or name
    return label, info


def _reply(msg) -> tuple[str | None, dict[str, Any]]:
    a = _find(msg, "tgme_widget_message_reply")
    if a is None:
        return None, {}
    href = _safe_url(a.get("href"))
    author = _plain(_find(a, "tgme_widget_message_author_name"))
    quoted = _plain(_find(a, "tgme_widget_message_metatext"))
    return href, {"url": href, "author": author or None, "text": quoted or None}


def _media(msg) -> list[dict[str, Any]]:
    media: list[dict[str, Any]] = []
    for el in _find_all(msg, "tgme_widget_message_photo_wrap"):
        m = _BG_URL_RE.search(el.get("style") or "")
        url = _safe_url(m.group(1)) if m else None
        media.append({"url": url, "sha256": None, "kind": "photo", "link": _safe_url(el.get("href"))})
    for el in msg.xpath(".//video"):
        url = _safe_url(el.get("src"))
        media.append({"url": url, "sha256": None, "kind": "video"})
    for el in _find_all(msg, "tgme_widget_message_video_thumb"):
        m = _BG_URL_RE.search(el.get("style") or "")
        if m and not any(x["kind"] == "video" for x in media):
            media.append({"url": None, "sha256": None, "kind": "video", "thumb": _safe_url(m.group(1))})
    for el in msg.xpath(".//audio"):
        media.append({"url": _safe_url(el.get("src")), "sha256": None, "kind": "audio"})
    for el in _find_all(msg, "tgme_widget_message_document"):
        media.append({"url": None, "sha256": None, "kind": "document",
                      "title": _plain(_find(el, "tgme_widget_message_document_title")) or None,
                      "note": "documents are not public on t.me/s"})
    for el in _find_all(msg, "tgme_widget_message_sticker"):
        m = _BG_URL_RE.search(el.get("style") or "")
        media.append({"url": _safe_url(m.group(1)) if m else None, "sha256": None, "kind": "sticker"})
    return media


def _link_preview(msg) -> dict[str, Any] | None:
    a = _find(msg, "tgme_widget_message_link_preview")
    if a is None:
        return None
    img = _find(a, "link_preview_image") or _find(a, "link_preview_right_image")
    m = _BG_URL_RE.search(img.get("style") or "") if img is not None else None
    return {"url": _safe_url(a.get("href")),
            "site_name": _plain(_find(a, "link_preview_site_name")) or None,
            "title": _plain(_find(a, "link_preview_title")) or None,
            "description": _plain(_find(a, "link_preview_description")) or None,
            "image": _safe_url(m.group(1)) if m else None}


def _poll(msg) -> dict[str, Any] | None:
    box = _find(msg, "tgme_widget_message_poll")
    if box is None:
        return None
    options = []
    for opt in _find_all(box, "tgme_widget_message_poll_option"):
        text = _plain(_find(opt, "tgme_widget_message_poll_option_text"))
        if text:
            options.append({"text": text,
                            "percent": _plain(_find(opt, "tgme_widget_message_poll_option_percent")) or None})
    return {"question": _plain(_find(box, "tgme_widget_message_poll_question")) or None,
            "type": _plain(_find(box, "tgme_widget_message_poll_type")) or None, "options": options}


def _parse_message(msg, channel_hint: str | None, info: ChannelInfo, page_url: str | None) -> Post | None:
    data_post = (msg.get("data-post") or "").strip()
    m = re.match(r"^([A-Za-z][A-Za-z0-9_]{3,31})/(\d+)$", data_post)
    if not m:
        return None
    channel, msg_id = m.group(1).lower(), int(m.group(2))
    text_el = None
    for el in _find_all(msg, "tgme_widget_message_text"):
        # the reply box quotes the other message's text in its own element
        if not el.xpath("ancestor::*[contains(@class, 'tgme_widget_message_reply')]"):
            text_el = el
            break
    text, entities = rich_text(text_el) if text_el is not None else ("", [])
    service = "service_message" in _classes(msg)
    time_el = None
    date_a = _find(msg, "tgme_widget_message_date")
    if date_a is not None:
        ts = date_a.xpath(".//time[@datetime]")
        time_el = ts[0] if ts else None
    if time_el is None:
        ts = msg.xpath(".//time[@datetime]")
        time_el = ts[-1] if ts else None
    try:
        posted = to_utc(time_el.get("datetime")) if time_el is not None else None
    except InputError:
        posted = None
    meta = _find(msg, "tgme_widget_message_meta")
    edited = bool(meta is not None and "edited" in (meta.text_content() or "").lower())
    views_text = _plain(_find(msg, "tgme_widget_message_views")) or None
    signature = _plain(_find(msg, "tgme_widget_message_from_author")) or None
    owner = _plain(_find(msg, "tgme_widget_message_owner_name")) or None
    fwd_label, fwd = _forwarded(msg)
    reply_url, reply = _reply(msg)
    media = _media(msg)
    not_supported = _find(msg, "message_media_not_supported") is not None
    extra: dict[str, Any] = {
        "via": "tme_preview",
        "chat": channel,
        "message_id": msg_id,
        "views": _parse_count(views_text),
        "views_text": views_text,
        "author_signature": signature,
        "channel_title": info.title or owner,
        "entities": entities,
        "role": "channel",  # t.me/s shows public channels only: every message is the channel's own post
    }
    if edited:
        extra["edited"] = True
    if fwd:
        extra["forwarded"] = fwd
    if reply:
        extra["reply"] = reply
    lp = _link_preview(msg)
    if lp:
        extra["link_preview"] = lp
    poll = _poll(msg)
    if poll:
        extra["poll"] = poll
    if service:
        extra["service"] = True
    if not_supported:
        extra["media_not_public"] = True
    if page_url:
        extra["page_url"] = page_url
    return Post(
        platform="telegram",
        source=channel,
        url=message_url(channel, msg_id),
        external_id=f"{channel}/{msg_id}",
        author=signature or info.title or owner or channel,
        author_handle=channel,
        author_url=f"{TME}/{channel}",
        text=text,
        posted_at=posted,
        fetched_at=utcnow(),
        media=media,
        reply_to=reply_url,
        forwarded_from=fwd_label,
        extra={k: v for k, v in extra.items() if v not in (None, [], {})} | {"entities": entities},
    )


def _channel_info(doc, channel_hint: str | None) -> ChannelInfo:
    info = ChannelInfo(channel=channel_hint)
    box = _find(doc, "tgme_channel_info")
    if box is not None:
        info.title = _plain(_find(box, "tgme_channel_info_header_title")) or None
        user = _plain(_find(box, "tgme_channel_info_header_username"))
        if user.startswith("@") and _CHANNEL_RE.match(user[1:]):
            info.channel = user[1:].lower()
        desc = _find(box, "tgme_channel_info_description")
        info.description = _plain(desc) or None
        for c in _find_all(box, "tgme_channel_info_counter"):
            kind = _plain(_find(c, "counter_type"))
            value = _plain(_find(c, "counter_value"))
            if kind:
                n = _parse_count(value)
                info.counters[kind] = n if n is not None else value
        img = box.xpath(".//i[contains(@class,'tgme_page_photo_image')]//img/@src")
        info.photo_url = _safe_url(img[0]) if img else None
    if not info.title:
        og = doc.xpath("//meta[@property='og:title']/@content")
        info.title = og[0].strip() if og else None
    return info


def _decode(html: bytes | str) -> str:
    if isinstance(html, str):
        return html
    if len(html) > MAX_PAGE_BYTES:
        raise InputError(f"page larger than {MAX_PAGE_BYTES} bytes")
    return html.decode("utf-8", errors="replace")


def parse_channel_page(html: bytes | str, url: str | None = None, channel: str | None = None) -> PreviewPage:
    """Parse a t.me/s/<channel> page (live or saved from a browser) into Posts.

    ``url`` is where the page was read (recorded on each post). A page without
    a channel history (unknown or private channel, a user, a redirect to the
    t.me landing page) has ``not_found`` set and no posts.
    """
    text = _decode(html)
    if not text.strip():
        raise InputError("empty page")
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(f"not an HTML page: {exc}") from exc
    hint = None
    if channel:
        hint = normalise_channel(channel)
    elif url:
        try:
            hint = normalise_channel(url)
        except InputError:
            hint = None
    info = _channel_info(doc, hint)
    posts = []
    for msg in _find_all(doc, "tgme_widget_message"):
        if "tgme_widget_message" not in _classes(msg) or not msg.get("data-post"):
            continue
        p = _parse_message(msg, hint, info, url)
        if p is not None:
            posts.append(p)
    if info.channel is None and posts:
        info.channel = posts[0].source
    before = after = None
    more = doc.xpath("//a[contains(@class,'tme_messages_more')][@data-before]/@data-before")
    if more and more[0].isdigit():
        before = int(more[0])
    else:
        prev = doc.xpath("//link[@rel='prev']/@href")
        m = re.search(r"[?&]before=(\d+)", prev[0]) if prev else None
        before = int(m.group(1)) if m else None
    nxt = doc.xpath("//a[contains(@class,'tme_messages_more')][@data-after]/@data-after")
    if nxt and nxt[0].isdigit():
        after = int(nxt[0])
    has_history = bool(_find(doc, "tgme_channel_history") is not None or posts)
    err_el = _find(doc, "tgme_widget_message_error")
    return PreviewPage(channel=info.channel, info=info, posts=posts, before=before, after=after,
                       not_found=not has_history and err_el is None,
                       error=_plain(err_el) or None if err_el is not None else None)


def parse_embed_page(html: bytes | str, channel: str, msg_id: int) -> PreviewPage:
    """Parse ``t.me/<channel>/<id>?embed=1``: one message, or an error such as "Post not found"."""
    page = parse_channel_page(html, channel=channel)
    page.posts = [p for p in page.posts if p.external_id == f"{channel}/{msg_id}"]
    return page


# --------------------------------------------------------------------- fetching
def fetch(url: str, user_agent: str, timeout: float = 30.0, max_bytes: int = MAX_PAGE_BYTES) -> tuple[int, str, bytes,
                                                                                                      dict]:
    """GET a t.me page; return (status, final url, body, headers). SourceError on network failure."""
    req = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept-Language": "en"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) URL built here
            body = resp.read(max_bytes + 1)
            return resp.status, resp.geturl(), body[:max_bytes], dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        body = exc.read(max_bytes) if exc.fp else b""
        return exc.code, url, body, dict(exc.headers.items()) if exc.headers else {}
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"cannot reach {url}: {reason}") from None


@dataclass
class RecheckResult:
    post_id: int
    outcome: str  # live | changed | deleted | error
    http_status: int | None
    capture_id: int | None
    url: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def recheck(ws, post_id: int, base_url: str | None = None, fetcher=None) -> RecheckResult:
    """Re-capture one stored Telegram post through ``t.me/<channel>/<id>?embed=1``.

    - still there, same content → capture stored, outcome ``live``;
    - still there, edited → a new version is saved, outcome ``changed``;
    - "Post not found" → capture stored with outcome ``removed`` and the post is
      marked ``deleted`` with the time (nothing is erased), outcome ``deleted``;
    - network failure or unexpected answer → capture with outcome ``error``.

    ``base_url`` replaces https://t.me (tests, demo); ``fetcher(url) ->
    (status, final_url, body, headers)`` replaces the HTTP GET.
    """
    from storage.posts import Artifact, Capture, add_capture, get_post, mark_status, save_post

    row = get_post(ws, post_id)
    if row["platform"] != "telegram" or not row["external_id"]:
        raise InputError(f"post {post_id} is not a Telegram post")
    m = re.match(r"^([a-z][a-z0-9_]{3,31})/(\d+)$", row["external_id"])
    if not m:  # private chat or channel without a public name: no embed page exists
        return RecheckResult(post_id, "error", None, None, row["url"] or "",
                             f"{row['external_id']} has no public t.me address to re-check")
    channel, msg_id = m.group(1), int(m.group(2))
    base = (base_url or TME).rstrip("/")
    url = f"{base}/{channel}/{msg_id}?embed=1"
    ua = ws.config.get("collect.user_agent", "veille")
    if fetcher is None:  # polite by default: robots.txt obeyed (collect.obey_robots)
        web = PoliteWeb(ua, 0.0, bool(ws.config.get("collect.obey_robots", True)))

        def fetcher(u):
            if not web.allowed(u):
                raise SourceError(f"{u} is disallowed by robots.txt (collect.obey_robots)")
            return web.get(u)
    try:
        status, final_url, body, headers = fetcher(url)
    except SourceError as exc:
        cap = Capture(kind="embed", url=url, outcome="error", note=str(exc), user_agent=ua,
                      extra={"via": "tme_embed"})
        cid = add_capture(ws, cap, post_id)
        return RecheckResult(post_id, "error", None, cid, url, str(exc))
    arts = [Artifact(role="raw_html", data=body, mime="text/html", name=f"{channel}-{msg_id}-embed.html")]
    cap = Capture(kind="embed", url=url, final_url=final_url, http_status=status, user_agent=ua,
                  headers={k: v for k, v in headers.items() if k.lower() not in ("set-cookie",)},
                  artifacts=arts, extra={"via": "tme_embed"})
    if status != 200:
        cap.outcome, cap.note = "error", f"HTTP {status}"
        cid = add_capture(ws, cap, post_id)
        return RecheckResult(post_id, "error", status, cid, url, f"HTTP {status}")
    page = parse_embed_page(body, channel, msg_id)
    if page.posts:
        post = page.posts[0]
        post.url = message_url(channel, msg_id)
        post.extra["page_url"] = url
        reuse_stored_photos(ws, post)
        old = row["content_sha256"]
        res = save_post(ws, post, cap, alert_on_offer=False)
        if row["status"] != "live":
            mark_status(ws, post_id, "live", capture_id=res.capture_id, reason="embed shows the message again")
        outcome = "changed" if res.changed or post.content_hash() != old else "live"
        return RecheckResult(post_id, outcome, status, res.capture_id, url)
    if page.error and re.search(r"not found|deleted|unavailable", page.error, re.I):
        cap.outcome, cap.note = "removed", page.error[:200]
        cid = add_capture(ws, cap, post_id)
        mark_status(ws, post_id, "deleted", capture_id=cid, reason=f"t.me embed: {page.error[:120]}")
        return RecheckResult(post_id, "deleted", status, cid, url, page.error[:200])
    cap.outcome, cap.note = "error", "embed page without the message or a known error"
    cid = add_capture(ws, cap, post_id)
    return RecheckResult(post_id, "error", status, cid, url, cap.note)


# --------------------------------------------------------------------- saved pages
@dataclass
class PageImportReport:
    files: int = 0
    posts: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    positives: int = 0
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["errors"] = [{"file": f, "error": e} for f, e in self.errors]
        return d


def page_captures(page: PreviewPage, raw_sha: str, raw_size: int, url: str | None, name: str, kind: str,
                  tool: str, http_status: int | None = None) -> list[tuple[Post, Any]]:
    """(Post, Capture) pairs for the posts of one page; every capture points at the page's raw HTML."""
    from storage.posts import Artifact, Capture

    out = []
    for post in page.posts:
        cap = Capture(kind=kind, url=url, method=None if kind == "import" else "GET", http_status=http_status,
                      tool=tool, fetched_at=post.fetched_at,
                      capture_key=f"tme:{raw_sha}:{post.external_id}",
                      artifacts=[Artifact(role="raw_html", sha256=raw_sha, size=raw_size, mime="text/html",
                                          name=name)],
                      extra={"via": "tme_preview", "channel_info": page.info.to_dict(), "page": name})
        out.append((post, cap))
    return out


def import_pages(ws, files: list[str]) -> PageImportReport:
    """``veille import telegram-page``: store saved t.me/s (or embed) pages and their posts.

    A file that is not a t.me/s page, or the page of a channel that does not
    exist or is private, is reported and skipped; the other files are imported.
    """
    from pathlib import Path

    from storage.ingest import ingest_many

    rep = PageImportReport()
    for f in files:
        p = Path(f)
        rep.files += 1
        try:
            if not p.is_file():
                raise InputError("no such file")
            if p.stat().st_size > MAX_PAGE_BYTES:
                raise InputError(f"larger than {MAX_PAGE_BYTES} bytes")
            body = p.read_bytes()
            page = parse_channel_page(body)
            canonical = None
            m = re.search(rb'<link[^>]+rel="canonical"[^>]+href="([^"]{1,300})"', body)
            if m:
                canonical = _safe_url(m.group(1).decode("utf-8", "replace"))
            else:  # browsers mark a saved page with the address it came from
                m = re.search(rb"<!--\s*saved from url=\(\d+\)(https?://[^\s>]{1,300}?)\s*-->", body[:4096])
                canonical = _safe_url(m.group(1).decode("utf-8", "replace")) if m else None
            if page.not_found or (not page.posts and page.error):
                raise InputError(page.error or "no channel history in this page: the channel does not exist, is "
                                 "private, or this is not a t.me/s page")
            if not page.posts:
                raise InputError("no message in this page")
        except InputError as exc:
            rep.errors.append((str(p), str(exc)))
            continue
        sha = ws.store.put_bytes(body)
        if page.channel:
            rep.channels[page.channel] = page.info.to_dict()
        for post in page.posts:
            reuse_stored_photos(ws, post)
        pairs = page_captures(page, sha, len(body), canonical, p.name, "import", "veille import telegram-page")
        for res in ingest_many(ws, pairs):
            rep.posts += 1
            s = res.save
            rep.imported += s.created
            rep.updated += s.changed
            rep.unchanged += not (s.created or s.changed)
            if res.positive and (s.created or s.changed):
                rep.positives += 1
                v = res.analysis.verdict
                rep.alerts.append({"post_id": s.post_id, "category": v.category, "subtype": v.subtype,
                                   "score": round(float(v.score), 3)})
    return rep


# --------------------------------------------------------------------- daily crawl (no Scrapy)
MAX_PHOTOS_PER_MESSAGE = 10  # an album has at most 10


@dataclass
class CrawlReport:
    channels: int = 0
    pages: int = 0
    posts: int = 0
    imported: int = 0
    updated: int = 0
    positives: int = 0
    media_stored: int = 0
    media_errors: int = 0
    screenshots: int = 0
    screenshot_errors: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # media and screenshot problems (the crawl went on)

    @property
    def items(self) -> int:
        return self.imported + self.updated

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, items=self.items)


class PoliteWeb:
    """The GETs of the t.me/s crawl: user agent, robots.txt, a delay between requests to a host, size caps.

    ``fetcher(url) -> (status, final_url, body, headers)`` replaces the HTTP GET
    (tests, demo); ``sleep`` replaces ``time.sleep``. robots.txt is read once
    per host through the same fetcher: 200 → its rules apply to the
    workspace user agent; 401/403 → everything is refused; anything else
    (404, network error) → allowed, as crawlers usually do.
    """

    def __init__(self, user_agent: str, delay: float, obey_robots: bool = True, fetcher=None, sleep=None):
        import time

        self.user_agent = user_agent
        self.delay = max(0.0, float(delay))
        self.obey_robots = obey_robots
        self.fetcher = fetcher
        self.sleep = sleep or time.sleep
        self._seen_hosts: set[str] = set()
        self._robots: dict[str, Any] = {}
        self.requests = 0

    def get(self, url: str, max_bytes: int = MAX_PAGE_BYTES) -> tuple[int, str, bytes, dict]:
        """GET with the per-host delay; SourceError on network failure or a body above ``max_bytes``."""
        host = urllib.parse.urlsplit(url).netloc
        if host in self._seen_hosts and self.delay:
            self.sleep(self.delay)
        self._seen_hosts.add(host)
        self.requests += 1
        if self.fetcher is not None:
            status, final_url, body, headers = self.fetcher(url)
        else:
            status, final_url, body, headers = fetch(url, self.user_agent, max_bytes=max_bytes + 1)
        if len(body) > max_bytes:
            raise SourceError(f"{url}: larger than {max_bytes} bytes, not stored")
        return status, final_url, body, headers

    def allowed(self, url: str) -> bool:
        if not self.obey_robots:
            return True
        import urllib.robotparser

        parts = urllib.parse.urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._robots:
            rp = None
            try:
                status, _, body, _ = self.get(key + "/robots.txt", max_bytes=500_000)
            except SourceError:
                status, body = None, b""
            if status == 200:
                rp = urllib.robotparser.RobotFileParser()
                rp.parse(body.decode("utf-8", "replace").splitlines())
            elif status in (401, 403):
                rp = urllib.robotparser.RobotFileParser()
                rp.disallow_all = True
            self._robots[key] = rp
        rp = self._robots[key]
        return rp is None or rp.can_fetch(self.user_agent, url)


def _image_info(data: bytes) -> tuple[str | None, str | None]:
    """(perceptual hash, mime) of image bytes, computed as for the classifieds' images."""
    try:
        from spiders.pipelines import perceptual_hash
    except ImportError:  # pragma: no cover - Scrapy is a dependency of veille
        from .export import perceptual_hash as _ph

        return _ph(data), None
    return perceptual_hash(data)


def reuse_stored_photos(ws, post: Post) -> set[str]:
    """Give the photos of a re-read message what was stored for them (same URL); return those URLs.

    A photo's ``sha256``/``size``/``mime``/``phash`` (or the note saying it was
    too large) come from its download; a later reading of the same message
    (next crawl, saved page, embed re-check) reuses them instead of fetching
    again, so an unchanged message stays unchanged instead of becoming a new
    version that only lacks the download.
    """
    from storage.telegram_store import stored_media

    if not post.external_id or "/" not in post.external_id:
        return set()
    chat, mid = post.external_id.rsplit("/", 1)
    before = {m.get("url"): m for m in stored_media(ws, chat, mid) if m.get("url")}
    reused = set()
    for m in post.media:
        old = before.get(m.get("url")) if m.get("kind") == "photo" and m.get("url") else None
        if old is not None and (old.get("sha256") or old.get("note")):
            for k in ("sha256", "size", "mime", "phash", "note"):
                if old.get(k) is not None:
                    m[k] = old[k]
            reused.add(m["url"])
    return reused


def download_photos(ws, web: PoliteWeb, post: Post, max_bytes: int, errors: list[str]) -> list:
    """Download the photos of a t.me/s message into ``post.media``; return their ``media`` artifacts.

    Each photo entry gains ``sha256``, ``size``, ``mime`` and ``phash`` (as the
    classifieds' images). A photo already stored for this message (same URL)
    is not fetched again: its stored fields are reused, so an unchanged
    message stays unchanged. A photo above ``max_bytes`` is recorded as such
    (``note``); a failed download leaves the entry as parsed and is reported
    in ``errors`` (it is tried again on the next crawl).
    """
    import hashlib

    from storage.posts import Artifact

    chat, mid = post.external_id.rsplit("/", 1)
    reused = reuse_stored_photos(ws, post)
    arts = []
    tried = 0
    for i, m in enumerate(post.media):
        url = m.get("url")
        if m.get("kind") != "photo" or not url or url in reused:
            continue
        if tried >= MAX_PHOTOS_PER_MESSAGE:
            break
        tried += 1
        if not web.allowed(url):
            errors.append(f"{post.external_id}: photo {url} disallowed by robots.txt")
            continue
        try:
            status, _, body, headers = web.get(url, max_bytes=max_bytes)
        except SourceError as exc:
            if "larger than" in str(exc):
                m["note"] = f"larger than {max_bytes} bytes: not downloaded"
            errors.append(f"{post.external_id}: photo: {exc}")
            continue
        if status != 200 or not body:
            errors.append(f"{post.external_id}: photo {url}: HTTP {status}")
            continue
        phash, mime = _image_info(body)
        ctype = str({k.lower(): v for k, v in headers.items()}.get("content-type") or "").split(";")[0].strip()
        m.update(sha256=hashlib.sha256(body).hexdigest(), size=len(body), mime=mime or ctype or None, phash=phash)
        arts.append(Artifact(role="media", data=body, mime=m["mime"], name=f"{chat}-{mid}-photo{i + 1}",
                             extra={"url": url, "phash": phash, "kind": "photo"}))
    return arts


def embed_url(base: str, post: Post) -> str:
    chat, mid = post.external_id.rsplit("/", 1)
    return f"{base}/{chat}/{mid}?embed=1"


def crawl_channels(ws, channels: list[str], base_url: str | None = None, max_pages: int | None = None,
                   fetcher=None, sleep=None, screenshots: bool | None = None, shooter=None) -> CrawlReport:
    """Read public channels through t.me/s (``veille daily``): newest page first, then back via ``before=``.

    Polite: the workspace user agent, robots.txt (``collect.obey_robots``),
    ``collect.download_delay`` seconds between two requests to a host,
    ``collect.max_pages`` pages per channel, and paging stops at the first page
    with nothing new. Each channel is a run (``veille status``); a channel that
    does not exist, is private, or is refused by robots.txt is reported in
    ``failed`` and stops no other.

    Evidence, as for the classifieds: the raw page (every message's capture
    points at it); the photos of new messages, downloaded up to
    ``telegram.max_media_bytes`` into the evidence store with their SHA-256 and
    perceptual hash; and, for each message classified positive, a screenshot
    of its public page with a URL/UTC banner (``collect.screenshots``; needs
    Chromium). A failed photo or screenshot is reported and stops nothing.

    ``fetcher`` / ``sleep`` replace the HTTP GET and ``time.sleep``; ``shooter``
    replaces the Chromium screenshotter (an object with ``take(url, extra)`` and
    ``close()``). The Scrapy spider ``tme`` (spiders/sites/tme.py) does the same
    through the spiders' pipelines.
    """
    from storage.errors import ConfigError
    from storage.ingest import ingest_many
    from storage.posts import Capture, add_capture, finish_run, start_run
    from storage.telegram_store import has_capture_kind

    base = (base_url or TME).rstrip("/")
    cfg = ws.config
    ua = cfg.get("collect.user_agent", "veille")
    web = PoliteWeb(ua, float(cfg.get("collect.download_delay", 2.0)), bool(cfg.get("collect.obey_robots", True)),
                    fetcher=fetcher, sleep=sleep)
    max_pages = int(max_pages or cfg.get("collect.max_pages", 3))
    max_media = int(cfg.get("telegram.max_media_bytes", cfg.get("collect.max_media_bytes", 15_000_000)))
    shots_on = bool(cfg.get("collect.screenshots", True)) if screenshots is None else screenshots
    own_shooter = False
    if shots_on and shooter is None:
        from .screenshot import Screenshotter

        shooter, own_shooter = Screenshotter.from_config(cfg, ua), True
    rep = CrawlReport()

    def note_error(msg: str) -> None:
        if len(rep.errors) < 200:
            rep.errors.append(msg[:500])

    def screenshot(post: Post, post_id: int) -> None:
        nonlocal shooter
        url = embed_url(base, post)
        if not web.allowed(url):
            rep.screenshot_errors += 1
            note_error(f"screenshot of {url}: disallowed by robots.txt")
            return
        try:
            cap = shooter.take(url, {"chat": post.source, "message_id": post.extra.get("message_id")})
        except ConfigError as exc:  # no Chromium: say it once, take no more screenshots this run
            rep.screenshot_errors += 1
            note_error(f"screenshots off: {exc}")
            shooter = None
            return
        except (SourceError, InputError) as exc:
            rep.screenshot_errors += 1
            note_error(str(exc))
            return
        add_capture(ws, cap, post_id)
        rep.screenshots += 1

    try:
        for raw_name in channels:
            try:
                channel = normalise_channel(raw_name)
            except InputError as exc:
                rep.failed[str(raw_name)] = str(exc)
                continue
            rep.channels += 1
            run_id = start_run(ws, f"tme:{channel}", "crawl")
            before: int | None = None
            n_items = 0
            try:
                for page_no in range(1, max_pages + 1):
                    url = f"{base}/s/{channel}" + (f"?before={before}" if before else "")
                    if not web.allowed(url):
                        raise SourceError(f"{url} is disallowed by robots.txt for user agent {ua!r} "
                                          "(collect.obey_robots); import saved pages instead")
                    status, final_url, body, headers = web.get(url)
                    rep.pages += 1
                    if status in (404, 410):
                        raise SourceError(f"Telegram channel {channel!r} does not exist or is private (HTTP "
                                          f"{status} for {url})")
                    if status != 200:
                        raise SourceError(f"HTTP {status} for {url}")
                    page = parse_channel_page(body, url=final_url, channel=channel)
                    if page.not_found or (page_no == 1 and not page.posts and page.before is None):
                        add_capture(ws, Capture(kind="fetch", url=url, final_url=final_url, http_status=status,
                                                user_agent=ua, outcome="error",
                                                note=f"channel {channel} does not exist or is private",
                                                artifacts=[_raw_artifact(body, channel)]))
                        raise SourceError(f"Telegram channel {channel!r} does not exist, is private, or has no "
                                          "public preview")
                    sha = ws.store.put_bytes(body)
                    pairs = page_captures(page, sha, len(body), url, f"tme-{channel}-{page_no}.html", "fetch",
                                          "veille t.me/s", http_status=status)
                    for post, cap in pairs:
                        cap.final_url, cap.user_agent = final_url, ua
                        cap.headers = {k: v for k, v in headers.items() if k.lower() not in ("set-cookie", "cookie")}
                        photos = download_photos(ws, web, post, max_media, rep.errors)
                        cap.artifacts.extend(photos)
                        rep.media_stored += len(photos)
                        rep.media_errors += sum(1 for m in post.media if m.get("kind") == "photo" and m.get("url")
                                                and not m.get("sha256") and not m.get("note"))
                    fresh = 0
                    shots: list[tuple[Post, int]] = []
                    for (post, _), res in zip(pairs, ingest_many(ws, pairs), strict=True):
                        s = res.save
                        rep.posts += 1
                        rep.imported += s.created
                        rep.updated += s.changed
                        fresh += s.created or s.changed
                        if res.positive and (s.created or s.changed):
                            rep.positives += 1
                            v = res.analysis.verdict
                            rep.alerts.append({"post_id": s.post_id, "chat": channel, "category": v.category,
                                               "subtype": v.subtype, "score": round(float(v.score), 3)})
                        if res.positive:
                            shots.append((post, s.post_id))
                    for post, pid in shots:  # also retried for positives left without one (failure, kill)
                        if shooter is not None and not has_capture_kind(ws, pid, "screenshot"):
                            screenshot(post, pid)
                    n_items += fresh
                    if not fresh or not page.before or not page.posts:
                        break
                    oldest = min(int(p.extra["message_id"]) for p in page.posts)
                    if page.before > oldest:
                        break
                    before = page.before
                finish_run(ws, run_id, "ok", n_items)
            except (SourceError, InputError) as exc:
                rep.failed[channel] = str(exc)
                finish_run(ws, run_id, "failed", n_items, str(exc))
    finally:
        if own_shooter and shooter is not None:
            shooter.close()
    return rep


def _raw_artifact(body: bytes, channel: str):
    from storage.posts import Artifact

    return Artifact(role="raw_html", data=body, mime="text/html", name=f"tme-{channel}.html")
