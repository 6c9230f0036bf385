"""ouedkniss.com: its pages are an empty single-page-app shell; the data comes from its public GraphQL API.

Search: operation ``SearchQuery``; each ad: operation ``AnnouncementGet``
(its JSON answer is the ad's evidence; ``null`` means the ad is gone). The
fields are read by the profile's ``json:`` sources, so a renamed field is
fixed in ``profiles/ouedkniss.toml``. Phones (behind a reCAPTCHA-gated call)
are never requested.
"""

from __future__ import annotations

import json
import re

import scrapy

from ..items import AdItem, FetchErrorItem, PageEvidence, PageItem, RemovedItem
from ..profile import Page, parse_ad
from .profile_spider import HANDLED_STATUSES, ProfileSpider

SEARCH_QUERY = """query SearchQuery($q: String, $filter: SearchFilterInput) {
  search(q: $q, filter: $filter) {
    announcements { data { id title slug refreshedAt price pricePreview }
      paginatorInfo { lastPage hasMorePages } } } }"""
AD_QUERY = """query AnnouncementGet($id: ID!) {
  announcement: announcementDetails(id: $id) {
    id reference title slug description createdAt: refreshedAt price pricePreview priceUnit oldPrice priceType
    status cities { name region { name } } user { id username displayName } store { id name }
    category { slug name } medias(size: LARGE) { mediaUrl mimeType } } }"""


class OuedknissSpider(ProfileSpider):
    name = "ouedkniss"
    profile_name = "ouedkniss"

    @property
    def api_url(self) -> str:
        if self.profile.base_override:
            return self.profile.base + "/graphql"
        return self.profile.api.get("graphql_url", "https://api.ouedkniss.com/graphql")

    def _post(self, payload: dict, callback, meta: dict) -> scrapy.Request:
        return scrapy.Request(self.api_url, method="POST", body=json.dumps(payload, ensure_ascii=False),
                              headers={"Content-Type": "application/json", "Accept": "application/json",
                                       "Origin": self.profile.base, "Referer": self.profile.base + "/"},
                              callback=callback, errback=self.errback, meta=meta, dont_filter=True)

    def _search(self, kw: str, page: int) -> scrapy.Request:
        payload = {"operationName": "SearchQuery", "query": SEARCH_QUERY,
                   "variables": {"q": kw, "filter": {"page": page, "count": int(self.profile.api.get("page_size", 48)),
                                                     "orderByField": {"field": "REFRESHED_AT"}}}}
        return self._post(payload, self.parse_search, {"veille_kind": "search", "veille_page": page,
                                                       "veille_keyword": kw, "handle_httpstatus_list": HANDLED_STATUSES})

    def ad_url(self, ad_id: str, slug: str | None) -> str:
        return f"{self.profile.base}/{slug or 'annonce'}-d{ad_id}"

    def _ad(self, ad_id: str, url: str, post_id=None) -> scrapy.Request:
        payload = {"operationName": "AnnouncementGet", "query": AD_QUERY, "variables": {"id": str(ad_id)}}
        meta = {"veille_kind": "ad", "veille_ad_url": url, "handle_httpstatus_list": HANDLED_STATUSES}
        if post_id:
            meta.update(veille_post_id=post_id, veille_recapture=post_id)
        return self._post(payload, self.parse_ad_json, meta)

    def start_requests_list(self):
        if self.direct:
            out = []
            for d in self.direct:
                m = re.search(r"-d(\d+)/?$", d["url"])
                if m:
                    out.append(self._ad(m.group(1), d["url"], d.get("post_id")))
            return out
        return [self._search(kw, 1) for kw in self.keywords]

    def parse_search(self, response):
        ev = PageEvidence.from_response(response)
        blocked = self._check_block(response, ev)
        if blocked:
            yield blocked
            return
        try:
            data = json.loads(response.text)
            ann = data["data"]["search"]["announcements"]
        except (ValueError, KeyError, TypeError, AttributeError):
            yield FetchErrorItem(site=self.site, url=response.url,
                                 error=f"HTTP {response.status}: unexpected GraphQL search answer")
            return
        yield PageItem(site=self.site, evidence=ev, kind="search",
                       note=f"GraphQL search {response.meta['veille_keyword']!r} page {response.meta['veille_page']}")
        items = [a for a in ann.get("data") or [] if isinstance(a, dict) and a.get("id")]
        for a in items:
            yield self._ad(str(a["id"]), self.ad_url(str(a["id"]), a.get("slug")))
        n = int(response.meta["veille_page"])
        if items and n < self.max_pages and (ann.get("paginatorInfo") or {}).get("hasMorePages"):
            yield self._search(response.meta["veille_keyword"], n + 1)

    def parse_ad_json(self, response):
        ev = PageEvidence.from_response(response)
        url = response.meta["veille_ad_url"]
        pid = response.meta.get("veille_post_id")
        blocked = self._check_block(response, ev)
        if blocked:
            yield blocked
            return
        page = Page(url, response.body, status=response.status)
        data = page.body_json()
        if not isinstance(data, dict) or "data" not in data:
            yield FetchErrorItem(site=self.site, url=url, post_id=pid,
                                 error=f"HTTP {response.status}: unexpected GraphQL answer")
            return
        if (data.get("data") or {}).get("announcement") is None:
            yield RemovedItem(site=self.site, url=url, evidence=ev, post_id=pid,
                              reason="announcementDetails is null (deleted or unavailable)")
            return
        parsed = parse_ad(self.profile, page, fetched_at=ev.fetched_at)
        ann = data["data"]["announcement"]
        parsed.post.url = self.ad_url(str(ann.get("id")), ann.get("slug")) if ann.get("slug") else url
        parsed.post.extra["api"] = "graphql AnnouncementGet"
        yield AdItem(site=self.site, post=parsed.post, evidence=ev, recapture=bool(pid), post_id=pid,
                     image_urls=parsed.image_urls, missing_fields=parsed.missing)
