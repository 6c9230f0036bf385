"""The generic spider: reads a site profile, parses and yields (nothing else).

Arguments (``scrapy crawl leboncoin -a keywords="rdv préfecture,passeport"``):

- ``profile``: profile name or path (the per-site classes set it);
- ``keywords``: comma-separated, or a list; default: the profile's keywords
  taken from the classifier lexicon (``spiders.keywords``);
- ``max_pages``: result pages read per keyword (default 3);
- ``base_url``: replaces the profile's base URL (tests, ``veille demo``);
- ``urls``: ad URLs to fetch directly instead of searching, as a list of
  ``{"url", "post_id"}`` dicts or a comma-separated string (re-checks).
"""

from __future__ import annotations

import json
from typing import Any

import scrapy
from scrapy.http import TextResponse

from ..items import AdItem, BlockedItem, FetchErrorItem, PageEvidence, PageItem, RemovedItem
from ..keywords import default_keywords
from ..profile import Page, ad_links, detect_block, detect_removed, load_profile, next_page_url, parse_ad

#: Error statuses the spider sees (to record blocks, removals and errors); redirects are still followed.
HANDLED_STATUSES = [400, 401, 403, 404, 405, 407, 408, 410, 429, 451, 500, 502, 503, 504, 520, 522, 524]


def _page(response) -> Page:
    body = response.body
    enc = response.encoding if isinstance(response, TextResponse) else None
    headers = {k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v}
    return Page(response.url, body, encoding=enc, status=response.status, headers=headers)


class ProfileSpider(scrapy.Spider):
    name = "profile"
    profile_name: str | None = None

    def __init__(self, profile: str | None = None, keywords: Any = None, max_pages: Any = None,
                 base_url: str | None = None, urls: Any = None, workspace: str | None = None, **kw):
        super().__init__(**kw)
        prof = load_profile(profile or self.profile_name or "", None)
        self.profile = prof.with_base(base_url) if base_url else prof
        self.site = self.profile.name
        self.platform = self.profile.platform
        if isinstance(keywords, str):
            keywords = [k.strip() for k in keywords.split(",") if k.strip()]
        self.keywords = list(keywords) if keywords else default_keywords(self.profile)
        self.max_pages = max(1, int(max_pages or 3))
        if isinstance(urls, str):
            urls = json.loads(urls) if urls.strip().startswith("[") else [
                {"url": u.strip()} for u in urls.split(",") if u.strip()]
        self.direct = [u if isinstance(u, dict) else {"url": u} for u in (urls or [])]
        self.allowed_domains = [h for h in self.profile.allowed_hosts if h]

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        return spider

    # ---------------------------------------------------------------- requests
    def _meta(self, kind: str, **extra) -> dict:
        meta = {"veille_kind": kind, "handle_httpstatus_list": HANDLED_STATUSES, **extra}
        if self.profile.javascript:
            meta["playwright"] = True
        return meta

    async def start(self):
        for req in self.start_requests_list():
            yield req

    def start_requests_list(self) -> list[scrapy.Request]:
        out = []
        if self.direct:
            for d in self.direct:
                pid = d.get("post_id")
                meta = self._meta("ad", veille_post_id=pid, veille_recapture=pid) if pid else self._meta("ad")
                out.append(scrapy.Request(d["url"], callback=self.parse_ad, errback=self.errback, meta=meta,
                                          dont_filter=True))
            return out
        for kw in self.keywords:
            for tpl in self.profile.search_urls:
                page = self.profile.first_page
                url = self.profile.search_url(tpl, kw, page)
                out.append(scrapy.Request(url, callback=self.parse_listing, errback=self.errback, dont_filter=True,
                                          meta=self._meta("search", veille_page=1, veille_keyword=kw,
                                                          veille_template=tpl)))
        return out

    def errback(self, failure):
        from ..middlewares import AlreadySeen

        if failure.check(AlreadySeen):
            return
        req = failure.request
        msg = failure.getErrorMessage() or type(failure.value).__name__
        if "robots.txt" in msg.lower() or type(failure.value).__name__ == "IgnoreRequest":
            msg = f"not fetched: {msg}"
        yield FetchErrorItem(site=self.site, url=req.url, error=f"{type(failure.value).__name__}: {msg}"[:1000],
                             post_id=req.meta.get("veille_post_id"))

    # ---------------------------------------------------------------- parsing
    def _check_block(self, response, ev: PageEvidence):
        why = detect_block(self.profile, response.status, ev.headers, response.body)
        if why:
            return BlockedItem(site=self.site, url=ev.url, evidence=ev, reason=why,
                               post_id=response.meta.get("veille_post_id"))
        return None

    def parse_listing(self, response):
        ev = PageEvidence.from_response(response)
        blocked = self._check_block(response, ev)
        if blocked:
            yield blocked
            return
        if response.status >= 400:
            yield FetchErrorItem(site=self.site, url=response.url, error=f"HTTP {response.status} on a search page")
            return
        yield PageItem(site=self.site, evidence=ev, kind="search",
                       note=f"search {response.meta.get('veille_keyword')!r} page {response.meta.get('veille_page')}")
        page = _page(response)
        links = ad_links(self.profile, page)
        for u in links:
            yield scrapy.Request(u, callback=self.parse_ad, errback=self.errback, meta=self._meta("ad"))
        n = int(response.meta.get("veille_page", 1))
        if n >= self.max_pages or not links:
            return
        nxt = next_page_url(self.profile, page)
        tpl = response.meta.get("veille_template")
        if not nxt and tpl and "{page}" in tpl:
            nxt = self.profile.search_url(tpl, response.meta.get("veille_keyword", ""),
                                          self.profile.first_page + n * self.profile.page_step)
        if nxt:
            meta = self._meta("search", veille_page=n + 1, veille_keyword=response.meta.get("veille_keyword"),
                              veille_template=tpl)
            yield scrapy.Request(nxt, callback=self.parse_listing, errback=self.errback, meta=meta, dont_filter=True)

    def parse_ad(self, response):
        ev = PageEvidence.from_response(response)
        pid = response.meta.get("veille_post_id")
        blocked = self._check_block(response, ev)
        if blocked:
            yield blocked
            return
        page = _page(response) if response.body else None
        gone = detect_removed(self.profile, response.status, ev.url, response.url, page)
        if gone:
            yield RemovedItem(site=self.site, url=ev.url, evidence=ev, reason=gone, post_id=pid)
            return
        if response.status >= 300 or page is None:
            yield FetchErrorItem(site=self.site, url=response.url, post_id=pid,
                                 error=f"HTTP {response.status}" + ("" if page is not None else ", empty answer"))
            return
        parsed = parse_ad(self.profile, page, fetched_at=ev.fetched_at)
        if not (parsed.post.title or parsed.post.text):
            yield PageItem(site=self.site, evidence=ev, kind="unparsed",
                           note="no ad found on this page: the profile may be out of date")
            yield FetchErrorItem(site=self.site, url=response.url, post_id=pid,
                                 error=f"no ad fields found (profile {self.profile.name} written on "
                                       f"{self.profile.written_on}: check it with `veille profile test`)")
            return
        yield AdItem(site=self.site, post=parsed.post, evidence=ev, recapture=bool(response.meta.get(
            "veille_recapture")), post_id=pid, image_urls=parsed.image_urls, missing_fields=parsed.missing)
