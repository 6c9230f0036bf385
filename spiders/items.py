"""What a veille spider yields: the item contract shared by every spider.

Spiders parse and yield; the pipelines (``spiders.pipelines``) store. Every
spider of the project (the generic profile spider, the per-site spiders in
``spiders/sites/`` and the t.me/s spider of ``spiders/sites/tme.py``) yields
only the four item classes below, each carrying the raw evidence of the
response it came from as a :class:`PageEvidence`.

==================  ===========================================================
``AdItem``          one post (``storage.post.Post``) read from an ad page (or a
                    message). The pipelines download its images (SHA-256 +
                    perceptual hash into ``post.media``), call
                    ``storage.ingest.ingest(ws, post, capture)`` (classify,
                    extract, save with a capture holding the raw page and its
                    headers) and, for a positive verdict, take a full-page
                    screenshot with a URL/UTC banner (a ``screenshot``
                    capture). ``recapture=True`` marks a scheduled re-capture
                    of a known post (capture kind ``recapture``).
``PageItem``        a page that is evidence but not a post: a search/listing
                    page, a JSON API answer. Stored as a capture with no post.
                    Kind ``recheck`` (with ``post_id``): a known post's page
                    re-fetched on a site with no profile; stored as a
                    re-capture, the post recorded ``live`` or ``changed``.
``RemovedItem``     a known ad that is gone: 404/410, a redirect to a listing,
                    or the site's "annonce supprimée" page. The capture that
                    proves it is stored and the post (found by ``post_id``, by
                    ``dedupe_key`` or by URL) is marked ``removed``
                    (``storage.posts.mark_status``). An ad never stored before
                    gets only the capture.
``BlockedItem``     a challenge, captcha or access-denied page (DataDome,
                    Cloudflare, reCAPTCHA, HTTP 401/403, 429 after all
                    retries). Never parsed as an ad: its capture is stored with
                    outcome ``blocked`` and the site's run ends ``blocked``
                    (``veille status`` lists it).
``FetchErrorItem``  a request that produced no usable answer (DNS, timeout,
                    page above ``collect.max_page_bytes``). Stored as a capture
                    with outcome ``error`` and counted in the run report.
==================  ===========================================================

:class:`PageEvidence` is built from a Scrapy response with
:meth:`PageEvidence.from_response`; :meth:`PageEvidence.to_capture` gives the
``storage.posts.Capture`` with its ``raw_html`` (or ``json``) and ``headers``
artifacts. Cookies and ``Set-Cookie`` are never stored.

Every item carries ``site`` (the profile name, e.g. ``leboncoin``, or
``telegram``). A spider writing its own items must not touch the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.post import Post, utcnow
from storage.posts import Artifact, Capture

#: Response headers never written to the evidence store (they identify the collector's session).
PRIVATE_HEADERS = frozenset({"set-cookie", "cookie", "authorization", "proxy-authorization"})


def _header_dict(headers: Any) -> dict[str, str]:
    """Scrapy ``Headers`` (bytes, multi-valued) or a plain dict -> ``{name: value}`` of str."""
    out: dict[str, str] = {}
    if not headers:
        return out
    items = headers.items() if hasattr(headers, "items") else headers
    for k, v in items:
        name = k.decode("latin-1") if isinstance(k, bytes) else str(k)
        if name.lower() in PRIVATE_HEADERS:
            continue
        if isinstance(v, (list, tuple)):
            vals = [x.decode("latin-1") if isinstance(x, bytes) else str(x) for x in v]
            value = ", ".join(vals)
        else:
            value = v.decode("latin-1") if isinstance(v, bytes) else str(v)
        out[name] = value
    return out


@dataclass
class PageEvidence:
    """The raw answer a spider read: what goes into the evidence store."""

    url: str
    final_url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fetched_at: datetime = field(default_factory=utcnow)
    user_agent: str | None = None
    method: str = "GET"
    via: str = "http"  # http | playwright | import
    redirects: list[str] = field(default_factory=list)
    truncated: bool = False

    @classmethod
    def from_response(cls, response, fetched_at: datetime | None = None) -> PageEvidence:
        req = response.request
        ua = None
        if req is not None:
            raw = req.headers.get(b"User-Agent") or req.headers.get("User-Agent")
            ua = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        redirects = list(response.meta.get("redirect_urls", [])) if req is not None else []
        first = redirects[0] if redirects else (req.url if req is not None else response.url)
        return cls(
            url=first,
            final_url=response.url,
            status=response.status,
            headers=_header_dict(response.headers),
            body=bytes(response.body),
            fetched_at=fetched_at or response.meta.get("veille_fetched_at") or utcnow(),
            user_agent=ua,
            method=req.method if req is not None else "GET",
            via="playwright" if response.meta.get("playwright") else "http",
            redirects=redirects,
        )

    @property
    def content_type(self) -> str:
        for k, v in self.headers.items():
            if k.lower() == "content-type":
                return v.split(";")[0].strip().lower()
        return "text/html"

    def to_capture(self, kind: str = "fetch", outcome: str = "ok", note: str | None = None,
                   extra: dict[str, Any] | None = None, capture_key: str | None = None) -> Capture:
        """A ``storage.posts.Capture`` with the body and the headers as artifacts."""
        arts: list[Artifact] = []
        if self.body:
            is_json = "json" in self.content_type
            arts.append(Artifact(role="json" if is_json else "raw_html", data=self.body,
                                 mime=self.content_type or None,
                                 extra={"truncated": True} if self.truncated else {}))
        meta = {"status": self.status, "url": self.url, "final_url": self.final_url, "redirects": self.redirects,
                "headers": self.headers, "fetched_at": self.fetched_at.isoformat(), "via": self.via}
        arts.append(Artifact(role="headers", data=json.dumps(meta, ensure_ascii=False, sort_keys=True)
                             .encode("utf-8"), mime="application/json"))
        ex = {"via": self.via}
        if self.redirects:
            ex["redirects"] = self.redirects
        ex.update(extra or {})
        return Capture(kind=kind, url=self.url, final_url=self.final_url, method=self.method,
                       http_status=self.status, headers=self.headers or None, fetched_at=self.fetched_at,
                       user_agent=self.user_agent, outcome=outcome, note=note, capture_key=capture_key,
                       artifacts=arts, extra=ex)


def evidence_for_feed(ev: PageEvidence) -> dict[str, Any]:
    """How a page's evidence appears in a Scrapy feed (``scrapy crawl NAME -O items.jsonl``): everything but
    the raw bytes, which are named by their SHA-256 (they are stored only in a workspace's evidence store)."""
    import hashlib

    return {"url": ev.url, "final_url": ev.final_url, "status": ev.status, "headers": ev.headers,
            "fetched_at": ev.fetched_at.isoformat(), "user_agent": ev.user_agent, "method": ev.method, "via": ev.via,
            "redirects": ev.redirects, "truncated": ev.truncated, "content_type": ev.content_type,
            "body_sha256": hashlib.sha256(ev.body).hexdigest(), "body_size": len(ev.body)}


def _sizes(data: dict[str, bytes]) -> dict[str, int]:
    return {k: len(v) for k, v in (data or {}).items()}


#: Field metadata read by Scrapy's item exporters (through itemadapter): feeds get the evidence without bytes.
_FEED = {"serializer": evidence_for_feed}


@dataclass
class AdItem:
    """A post read from a page, with the page it was read from."""

    site: str
    post: Post
    evidence: PageEvidence = field(metadata=_FEED)
    recapture: bool = False
    post_id: int | None = None  # set for re-captures/re-checks of a known post
    image_urls: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    #: the page to screenshot when the ad is positive (default: the post's URL); a t.me message's embed view
    screenshot_url: str | None = None
    # filled by the pipelines (a spider leaves them alone)
    #: downloaded image bytes by SHA-256, handed to the storage writer with the ad (feeds get their sizes)
    media_data: dict[str, bytes] = field(default_factory=dict, metadata={"serializer": _sizes})
    positive: bool = False
    capture_id: int | None = None
    changed: bool = False


@dataclass
class PageItem:
    """A fetched page stored as evidence without being a post (search results, API answers)."""

    site: str
    evidence: PageEvidence = field(metadata=_FEED)
    kind: str = "search"  # search | unparsed | api | recheck (a known post's page on a site with no profile)
    note: str | None = None
    post_id: int | None = None  # kind "recheck": the post whose page this is


@dataclass
class RemovedItem:
    """A known ad that is gone, with the page that proves it."""

    site: str
    url: str
    evidence: PageEvidence = field(metadata=_FEED)
    reason: str = ""
    post_id: int | None = None
    dedupe_key: str | None = None


@dataclass
class BlockedItem:
    """A challenge / captcha / access-denied answer: the source is blocked."""

    site: str
    url: str
    evidence: PageEvidence = field(metadata=_FEED)
    reason: str = ""
    post_id: int | None = None


@dataclass
class FetchErrorItem:
    """A request with no usable answer (network error, timeout, page too big)."""

    site: str
    url: str
    error: str
    post_id: int | None = None
    fetched_at: datetime = field(default_factory=utcnow)


VEILLE_ITEMS = (AdItem, PageItem, RemovedItem, BlockedItem, FetchErrorItem)

__all__ = ["AdItem", "BlockedItem", "FetchErrorItem", "PageEvidence", "PageItem", "RemovedItem", "VEILLE_ITEMS"]
