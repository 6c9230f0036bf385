"""Middlewares: skip URLs already stored, back off on 429/5xx, date each fetch.

- :class:`SeenUrlsMiddleware` (spider middleware, so it acts before the
  scheduler): an ad request (``meta["veille_kind"] == "ad"``) whose URL is
  already stored is dropped, unless the post is classified positive and due
  for re-capture (``collect.recapture_interval_hours``): then it goes through
  with ``meta["veille_recapture"] = post_id``.
- :class:`BackoffMiddleware` (downloader): on 429/503 (and other retryable
  5xx) the site's download slot delay is doubled (up to
  ``VEILLE_BACKOFF_MAX`` seconds), honouring ``Retry-After``; Scrapy's
  RetryMiddleware then retries. A success slowly brings the delay back.
- :class:`FetchTimeMiddleware`: ``meta["veille_fetched_at"]`` = UTC time the
  answer arrived.
- :class:`MemoryDupeFilter`: in-run duplicate filter only. With a JOBDIR,
  Scrapy's default filter would remember every URL forever and a later daily
  run would silently skip search pages and failed ads; "already stored" is
  decided by the database instead.
"""

from __future__ import annotations

import logging
import random
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter
from scrapy.exceptions import IgnoreRequest, NotConfigured

from storage.post import utcnow

log = logging.getLogger("veille.spiders.middlewares")


class MemoryDupeFilter(RFPDupeFilter):
    @classmethod
    def from_crawler(cls, crawler):
        return cls(path=None, debug=crawler.settings.getbool("DUPEFILTER_DEBUG"),
                   fingerprinter=crawler.request_fingerprinter)


class SeenUrlsMiddleware:
    def __init__(self, workspace: str, recapture_hours: float, enabled: bool = True):
        self.workspace = workspace
        self.recapture_hours = recapture_hours
        self.enabled = enabled
        self.seen: set[str] | None = None
        self.due: dict[str, int] = {}
        self.skipped = 0

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE")
        mw = cls(ws, crawler.settings.getfloat("VEILLE_RECAPTURE_HOURS", 24.0),
                 crawler.settings.getbool("VEILLE_SKIP_SEEN", True))
        mw.crawler = crawler
        return mw

    def _load(self, spider) -> None:
        from storage.crawl_state import due_for_recapture, seen_urls

        from .pipelines import db_call

        platform = getattr(spider, "platform", spider.name)
        self.seen = db_call(seen_urls, self.workspace, platform) if self.enabled else set()
        self.due = db_call(due_for_recapture, self.workspace, platform, self.recapture_hours)

    def _filter(self, req: Request, spider):
        if self.seen is None:
            self._load(spider)
        if req.meta.get("veille_kind") != "ad" or req.meta.get("veille_post_id"):
            return req
        url = req.meta.get("veille_ad_url") or req.url
        if url in self.due:
            pid = self.due.pop(url)
            meta = dict(req.meta, veille_recapture=pid, veille_post_id=pid)
            return req.replace(meta=meta, dont_filter=True)
        if url in self.seen:
            self.skipped += 1
            self.crawler.stats.inc_value("veille/skipped_seen")
            return None
        return req

    def process_spider_output(self, response, result, spider=None):
        spider = spider or self.crawler.spider
        for r in result:
            if isinstance(r, Request):
                r = self._filter(r, spider)
                if r is None:
                    continue
            yield r

    async def process_spider_output_async(self, response, result, spider=None):
        spider = spider or self.crawler.spider
        async for r in result:
            if isinstance(r, Request):
                r = self._filter(r, spider)
                if r is None:
                    continue
            yield r

    async def process_start(self, start):
        spider = self.crawler.spider
        async for r in start:
            if isinstance(r, Request):
                r = self._filter(r, spider)
                if r is None:
                    continue
            yield r


class AlreadySeen(IgnoreRequest):
    """An ad request dropped because its URL is stored or was fetched in this run (not an error)."""


class DownloadOnceMiddleware(SeenUrlsMiddleware):
    """Downloader side of :class:`SeenUrlsMiddleware`: each ad URL is downloaded at most once.

    Requests resumed from a JOBDIR queue never pass through the spider
    middlewares, and the in-run duplicate filter does not know them; this
    catches them (and any other duplicate) just before the download.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fetched: set[str] = set()

    def process_request(self, request, spider=None):
        if (request.meta.get("veille_kind") != "ad" or request.meta.get("veille_post_id")
                or request.meta.get("retry_times") or request.meta.get("redirect_times")):
            return None  # re-checks, retries and redirects of a request already let through
        if self.seen is None:
            self._load(spider or self.crawler.spider)
        url = request.meta.get("veille_ad_url") or request.url
        if url in self.seen or url in self.fetched:
            self.crawler.stats.inc_value("veille/skipped_duplicate")
            raise AlreadySeen(f"already fetched or stored: {url}")
        self.fetched.add(url)
        return None


class BackoffMiddleware:
    BACKOFF_CODES = (429, 503, 502, 504, 520, 522, 524)

    def __init__(self, max_delay: float, base_delay: float):
        self.max_delay = max_delay
        self.base_delay = base_delay

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings.getfloat("VEILLE_BACKOFF_MAX", 60.0), crawler.settings.getfloat("DOWNLOAD_DELAY"))
        mw.crawler = crawler
        return mw

    def _slot(self, request):
        downloader = self.crawler.engine.downloader
        key = request.meta.get("download_slot") or downloader.get_slot_key(request)
        return downloader.slots.get(key)

    @staticmethod
    def _retry_after(response) -> float | None:
        raw = response.headers.get(b"Retry-After")
        if not raw:
            return None
        text = raw.decode("latin-1").strip()
        if text.isdigit():
            return float(text)
        try:
            return max(0.0, (parsedate_to_datetime(text) - utcnow()).total_seconds())
        except (TypeError, ValueError):
            return None

    def process_response(self, request, response, spider=None):
        slot = self._slot(request)
        if slot is None:
            return response
        if response.status in self.BACKOFF_CODES:
            ra = self._retry_after(response)
            new = max(slot.delay * 2, 0.25, self.base_delay)
            if ra is not None:
                new = max(new, ra)
            slot.delay = min(new, self.max_delay) * random.uniform(1.0, 1.2)  # noqa: S311 - jitter, not crypto
            self.crawler.stats.inc_value("veille/backoff")
            log.info("HTTP %s from %s: backing off, delay now %.2fs", response.status, request.url, slot.delay)
        elif response.status < 400 and slot.delay > self.base_delay:
            slot.delay = max(self.base_delay, slot.delay * 0.75)
        return response


class FetchTimeMiddleware:
    def process_response(self, request, response, spider=None):
        request.meta["veille_fetched_at"] = utcnow()
        return response
