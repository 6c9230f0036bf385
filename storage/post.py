"""``Post``: the one record every source produces and every stage reads.

A spider, the t.me/s parser, the Telethon watcher and every importer build a
``Post``; the matchers read its ``title`` and ``text``; storage saves it. The
same fields are the JSONL interchange format (``veille import jsonl`` /
``veille export jsonl``), documented in ``docs/jsonl.md``.

Field by field:

=================  ==========================================================
``platform``       slug of the platform: ``telegram``, ``leboncoin``,
                   ``vivastreet``, ``jemepropose``, ``avito_ma``,
                   ``ouedkniss``, ``tayara``, ``snapchat``, ``whatsapp`` …
``source``         the site host or the channel/chat the post was read from
``url``            canonical URL of the post (may be empty for chats)
``external_id``    the platform's own id (ad id, ``channel/123`` …)
``author``         display name of the author
``author_handle``  the author's handle or account id on that platform
``author_url``     link to the author's profile
``title``          title (ads); empty for messages
``text``           body text, as published
``price``          asking price as a number, or ``None``
``currency``       ISO 4217 code (``EUR``, ``MAD``, ``DZD``, ``TND`` …)
``posted_at``      when the author published it, UTC
``fetched_at``     when veille read it, UTC
``lang``           ISO 639-1 hint, or ``None``
``media``          list of ``{"url", "sha256", "kind"}`` dicts
``reply_to``       id or URL of the message this one answers
``forwarded_from`` name or link of the original author of a forward
``extra``          anything source-specific (views, location, role …)
=================  ==========================================================

A post is identified by ``(platform, external_id)``, or by ``url`` when there
is no id: see :meth:`Post.dedupe_key`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import InputError

MAX_TEXT_CHARS = 1_000_000
MEDIA_KINDS = {"photo", "image", "video", "document", "audio", "sticker", "screenshot", "other"}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_utc(value: Any, field_name: str = "date") -> datetime | None:
    """Parse an ISO 8601 string, a Unix timestamp or a datetime into aware UTC.

    Naive datetimes are taken to be UTC already.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"{field_name}: not an ISO 8601 date: {value[:40]!r}") from exc
    else:
        raise InputError(f"{field_name}: expected a date string, got {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` suffix, the one date format veille writes."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Post:
    platform: str
    source: str = ""
    url: str = ""
    external_id: str | None = None
    author: str | None = None
    author_handle: str | None = None
    author_url: str | None = None
    title: str = ""
    text: str = ""
    price: float | None = None
    currency: str | None = None
    posted_at: datetime | None = None
    fetched_at: datetime | None = field(default_factory=utcnow)
    lang: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    reply_to: str | None = None
    forwarded_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ identity
    def dedupe_key(self) -> str:
        if self.external_id:
            return f"{self.platform}:id:{self.external_id}"
        if self.url:
            return f"{self.platform}:url:{self.url}"
        raise InputError("a post needs an external_id or a url")

    @property
    def full_text(self) -> str:
        """Title and text joined as the matchers read them."""
        if self.title and self.text:
            return f"{self.title}\n{self.text}"
        return self.title or self.text

    def content_hash(self) -> str:
        """SHA-256 of what can change between versions of one post."""
        payload = json.dumps(
            [self.title, self.text, self.price, self.currency, self.media],
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["posted_at"] = iso(self.posted_at)
        d["fetched_at"] = iso(self.fetched_at)
        return d

    @classmethod
    def from_dict(cls, data: Any) -> Post:
        """Build and validate a Post from a JSON object; raise InputError."""
        if not isinstance(data, dict):
            raise InputError(f"expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(unknown[:5])}")
        platform = data.get("platform")
        if not isinstance(platform, str) or not platform.strip():
            raise InputError("missing required field 'platform'")
        kwargs: dict[str, Any] = {"platform": platform.strip()}
        for name in ("source", "url", "title", "text"):
            v = data.get(name)
            if v is None:
                continue
            if not isinstance(v, str):
                raise InputError(f"field '{name}' must be a string, got {type(v).__name__}")
            if len(v) > MAX_TEXT_CHARS:
                raise InputError(f"field '{name}' is longer than {MAX_TEXT_CHARS} characters")
            kwargs[name] = v
        for name in ("external_id", "author", "author_handle", "author_url", "currency", "lang",
                     "reply_to", "forwarded_from"):
            v = data.get(name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise InputError(f"field '{name}' must be a string, got {type(v).__name__}")
            kwargs[name] = str(v)
        if data.get("price") is not None:
            p = data["price"]
            if isinstance(p, bool) or not isinstance(p, (int, float)):
                raise InputError(f"field 'price' must be a number, got {type(p).__name__}")
            kwargs["price"] = float(p)
        kwargs["posted_at"] = to_utc(data.get("posted_at"), "posted_at")
        if "fetched_at" in data:
            kwargs["fetched_at"] = to_utc(data.get("fetched_at"), "fetched_at")
        media = data.get("media") or []
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise InputError("field 'media' must be a list of objects")
        kwargs["media"] = [
            {"url": m.get("url"), "sha256": m.get("sha256"), "kind": m.get("kind") or "other",
             **{k: v for k, v in m.items() if k not in ("url", "sha256", "kind")}}
            for m in media
        ]
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise InputError("field 'extra' must be an object")
        kwargs["extra"] = extra
        post = cls(**kwargs)
        if not post.external_id and not post.url:
            raise InputError("missing required field: 'external_id' or 'url'")
        return post
