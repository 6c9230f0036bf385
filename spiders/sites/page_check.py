"""Re-check of known posts on a site that has no profile: fetch each post's page politely and say whether it is
still there.

``spiders.run.recheck`` uses it for posts whose platform no profile describes
(a site added by hand, an import): the requests go through the same Scrapy
settings as every crawl (user agent, robots.txt, delay and AutoThrottle,
retries with backoff on 429/5xx), and the answers become the usual items:

- a challenge / captcha / access-denied page -> ``BlockedItem``;
- HTTP 404/410, or a page showing one of ``removed_markers`` -> ``RemovedItem``;
- another error status -> ``FetchErrorItem``;
- otherwise a ``PageItem`` of kind ``recheck`` for the post: the storage
  pipeline stores it as a re-capture and records the post ``live`` when most of
  its stored text is still on the page, else ``changed``.

``scrapy crawl page_check -a urls="https://site.example/ad/1,https://site.example/ad/2"`` works too (with
``VEILLE_WORKSPACE`` set, the pages are stored; a URL with no stored post is only stored as a capture).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import scrapy

from ..items import BlockedItem, FetchErrorItem, PageEvidence, PageItem, RemovedItem
from ..profile import decode_html, detect_block
from .profile_spider import HANDLED_STATUSES


class PageCheckSpider(scrapy.Spider):
    name = "page_check"

    def __init__(self, urls: Any = None, site: str | None = None, platform: str | None = None,
                 removed_markers: Any = None, **kw):
        super().__init__(**kw)
        if isinstance(urls, str):
            urls = json.loads(urls) if urls.strip().startswith("[") else [
                {"url": u.strip()} for u in urls.split(",") if u.strip()]
        self.direct = [u if isinstance(u, dict) else {"url": u} for u in (urls or [])]
        self.site = site or self.name
        self.platform = platform or self.site
        if isinstance(removed_markers, str):
            removed_markers = json.loads(removed_markers) if removed_markers.startswith("[") else [removed_markers]
        self.removed_markers = [m.lower() for m in (removed_markers or []) if m]
        self.allowed_domains = sorted({urlsplit(d["url"]).hostname or "" for d in self.direct} - {""})

    async def start(self):
        for d in self.direct:
            pid = d.get("post_id")
            yield scrapy.Request(d["url"], callback=self.parse, errback=self.errback, dont_filter=True,
                                 meta={"veille_kind": "page_check", "veille_post_id": pid,
                                       "handle_httpstatus_list": HANDLED_STATUSES})

    def errback(self, failure):
        req = failure.request
        msg = failure.getErrorMessage() or type(failure.value).__name__
        yield FetchErrorItem(site=self.site, url=req.url, error=f"{type(failure.value).__name__}: {msg}"[:1000],
                             post_id=req.meta.get("veille_post_id"))

    def parse(self, response):
        ev = PageEvidence.from_response(response)
        pid = response.meta.get("veille_post_id")
        why = detect_block(None, response.status, ev.headers, response.body)
        if why:
            yield BlockedItem(site=self.site, url=ev.url, evidence=ev, reason=why, post_id=pid)
            return
        if response.status in (404, 410):
            yield RemovedItem(site=self.site, url=ev.url, evidence=ev, reason=f"HTTP {response.status}", post_id=pid)
            return
        if response.status >= 300:
            yield FetchErrorItem(site=self.site, url=response.url, post_id=pid, error=f"HTTP {response.status}")
            return
        text = decode_html(response.body[:2_000_000], getattr(response, "encoding", None)).lower()
        hit = next((m for m in self.removed_markers if m in text), None)
        if hit:
            yield RemovedItem(site=self.site, url=ev.url, evidence=ev, reason=f"page says {hit!r}", post_id=pid)
            return
        yield PageItem(site=self.site, evidence=ev, kind="recheck", note="re-check of a known post", post_id=pid)
