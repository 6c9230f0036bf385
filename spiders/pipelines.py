"""Item pipelines: everything after parsing (spiders only parse and yield).

In order (``ITEM_PIPELINES``):

1. :class:`MediaPipeline` downloads an ad's images (at most
   ``VEILLE_MAX_IMAGES_PER_AD``, each at most ``VEILLE_MAX_MEDIA_BYTES``) and
   records, in ``post.media``, ``{"url", "sha256", "kind": "image", "size",
   "mime", "phash"}``; the bytes travel with the item to the storage writer,
   which stores them in the evidence store and reads ``phash`` (ImageHash's
   perceptual hash, hex, read by the seller clustering) and the mime type
   from them before the post is saved.
2. :class:`StoragePipeline` stores every item: an ``AdItem`` through
   ``storage.ingest.ingest`` (classify, extract, save, with a capture holding
   the raw page, its headers and the media); a ``PageItem`` as a capture; a
   ``RemovedItem`` as the proving capture plus ``mark_status(removed)``; a
   ``BlockedItem`` as a ``blocked`` capture; a ``FetchErrorItem`` as an
   ``error`` capture.
3. :class:`ScreenshotPipeline` takes, for an ad classified positive, a
   full-page screenshot through scrapy-playwright with a banner showing the
   URL and the UTC capture time (Berkeley Protocol), stored as a
   ``screenshot`` capture of the post. ``collect.screenshots = false`` turns it
   off.

:class:`RunRecorder` (an extension) opens a ``runs`` row per site when the
spider opens and closes it with ``ok``, ``partial``, ``blocked``, ``failed``
or ``interrupted``; it also writes the site's report (counts, errors,
re-check results) as JSON for ``spiders.run``.

All components follow the Zyte pattern: ``from_crawler()`` reads the settings,
``__init__`` takes plain values.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured

from storage.post import iso, utcnow
from storage.posts import Artifact, Capture, add_capture, finish_run, start_run

from .items import AdItem, BlockedItem, FetchErrorItem, PageItem, RemovedItem
from .writer import (
    DbWriter,
    page_check,
    perceptual_hash,
    store_ad,
    store_blocked,
    store_error,
        store_removed,
    writer,
)

__all__ = ["DbWriter", "MediaPipeline", "RunRecorder", "ScreenshotPipeline", "StoragePipeline", "db_call",
           "perceptual_hash", "stored"]

log = logging.getLogger("veille.spiders.pipelines")


async def stored(kind: str, fn, ws_path: str, *args):
    """Run ``fn(ws, *args)`` on the crawl's storage writer (``spiders.writer``) and await its committed result.

    ``kind`` is ``blob`` (evidence store only), ``db`` (inside a database transaction) or ``blobs_db`` (the
    blobs of the first argument, a ``Capture``, then the transaction)."""
    return await writer().submit_async(kind, fn, ws_path, *args)


def db_call(fn, ws_path: str, *args):
    """Run ``fn(ws, *args)`` in a committed transaction of the writer and wait for it (reactor callbacks and
    signals)."""
    return writer().submit("db", fn, ws_path, *args).result()


def _results(crawler) -> list[dict]:
    if not hasattr(crawler, "veille_results"):
        crawler.veille_results = []
    return crawler.veille_results


def _errors(crawler) -> list[str]:
    if not hasattr(crawler, "veille_errors"):
        crawler.veille_errors = []
    return crawler.veille_errors


# ------------------------------------------------------------------ media
class MediaPipeline:
    #: Image URLs remembered within a crawl (an image shared by several ads is downloaded once); the least
    #: recently used are forgotten beyond this, so a long crawl's memory stays bounded.
    CACHE_SIZE = 20_000

    def __init__(self, workspace_path: str, max_bytes: int, max_images: int, enabled: bool):
        self.workspace_path = workspace_path
        self.max_bytes = max_bytes
        self.max_images = max_images
        self.enabled = enabled
        self.cache: OrderedDict[str, dict | None] = OrderedDict()  # image URL -> stored entry (bounded)

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE")
        if not crawler.settings.getbool("VEILLE_DOWNLOAD_IMAGES", True):
            raise NotConfigured("images off")  # (not a pipeline step each item goes through for nothing)
        p = cls(ws, crawler.settings.getint("VEILLE_MAX_MEDIA_BYTES", 15_000_000),
                crawler.settings.getint("VEILLE_MAX_IMAGES_PER_AD", 8), True)
        p.crawler = crawler
        return p

    async def _fetch(self, url: str) -> tuple[dict, bytes | None] | None:
        """(media entry, bytes) of an image URL; the bytes are None when an earlier ad of this crawl had it."""
        if url in self.cache:
            self.cache.move_to_end(url)
            hit = self.cache[url]
            return None if hit is None else (hit, None)
        req = Request(url, meta={"download_maxsize": self.max_bytes, "veille_kind": "media",
                                 "download_warnsize": self.max_bytes}, dont_filter=True)
        try:
            resp = await self.crawler.engine.download_async(req)
        except Exception as exc:  # noqa: BLE001 - one image's failure stops nothing
            log.info("image %s not downloaded: %s", url, exc)
            self.crawler.stats.inc_value("veille/media_errors")
            self._remember(url, None)
            return None
        if resp.status != 200 or not resp.body:
            self.crawler.stats.inc_value("veille/media_errors")
            self._remember(url, None)
            return None
        body = bytes(resp.body)
        ctype = (resp.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        # stored with the ad, in one hand-off to the writer, which also reads the perceptual hash and the mime
        # type from the bytes (phash None until then)
        entry = {"url": url, "sha256": hashlib.sha256(body).hexdigest(), "kind": "image", "size": len(body),
                 "mime": ctype or None, "phash": None}
        self._remember(url, entry)
        self.crawler.stats.inc_value("veille/media_stored")
        return entry, body

    def _remember(self, url: str, entry: dict | None) -> None:
        self.cache[url] = entry
        if len(self.cache) > self.CACHE_SIZE:
            self.cache.popitem(last=False)

    async def process_item(self, item):
        if not (self.enabled and isinstance(item, AdItem) and item.image_urls):
            return item
        urls = list(dict.fromkeys(item.image_urls))[: self.max_images]
        # an ad's images are requested together; the site's download slot still paces them (delay, concurrency)
        entries = await asyncio.gather(*(self._fetch(u) for u in urls)) if len(urls) > 1 else \
            [await self._fetch(u) for u in urls]
        media = []
        for got in entries:
            if got is not None:
                entry, body = got
                media.append(dict(entry))
                if body is not None:
                    item.media_data[entry["sha256"]] = body
        parsed = {m.get("url"): m for m in item.post.media if m.get("url")}
        for m in media:
            if m["url"] in parsed:  # an entry the spider already parsed (a t.me photo): add what the download gave
                parsed[m["url"]].update({k: v for k, v in m.items() if k != "kind" and v is not None})
            else:
                item.post.media.append(m)
        return item


# ------------------------------------------------------------------ storage
class StoragePipeline:
    def __init__(self, workspace_path: str, store_listings: bool, ad_results: bool = True):
        self.workspace_path = workspace_path
        self.store_listings = store_listings
        self.ad_results = ad_results  # each ad's outcome in the site's report (re-checks read them; crawls do not)

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE: set it to store items (env VEILLE_WORKSPACE)")
        p = cls(ws, crawler.settings.getbool("VEILLE_STORE_LISTINGS", True),
                crawler.settings.get("VEILLE_RUN_KIND", "crawl") != "crawl")
        p.crawler = crawler
        return p

    def _inc(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"veille/{key}", n)

    async def process_item(self, item):
        path = self.workspace_path
        try:
            if isinstance(item, AdItem):
                cap = self._ad_capture(item)
                self._ad_done(item, await stored("blobs_db", store_ad, path, cap, item.post, item.recapture,
                                                 item.post_id))
            elif isinstance(item, PageItem) and item.kind == "recheck" and item.post_id:
                cap = item.evidence.to_capture(kind="recapture", extra={"site": item.site, "page": "recheck"})
                ev = item.evidence
                _results(self.crawler).append(await stored("blobs_db", page_check, path, cap, item.post_id,
                                                           ev.url, ev.final_url, ev.status, ev.fetched_at, ev.body))
                self._inc("pages")
                self._inc("rechecked")
            elif isinstance(item, PageItem):
                if self.store_listings:
                    cap = item.evidence.to_capture(kind="fetch", note=item.note or f"{item.kind} page",
                                                   extra={"page": item.kind, "site": item.site})
                    await stored("blobs_db", add_capture, path, cap)
                self._inc("pages")
            elif isinstance(item, RemovedItem):
                platform = getattr(self.crawler.spider, "platform", item.site)
                _results(self.crawler).append(await stored("db", store_removed, path, item, platform))
                self._inc("removed")
            elif isinstance(item, BlockedItem):
                _results(self.crawler).append(await stored("db", store_blocked, path, item))
                self._inc("blocked")
                self._note_error(f"blocked: {item.url}: {item.reason}")
            elif isinstance(item, FetchErrorItem):
                _results(self.crawler).append(await stored("db", store_error, path, item))
                self._inc("errors")
                self._note_error(f"{item.url}: {item.error}")
        except Exception as exc:  # noqa: BLE001 - a storage failure is reported, the crawl goes on
            log.error("storing %s failed: %s: %s", type(item).__name__, type(exc).__name__, exc)
            _errors(self.crawler).append(f"store {type(item).__name__}: {type(exc).__name__}: {exc}")
            self._inc("store_errors")
        return item

    def _note_error(self, msg: str) -> None:
        if len(_errors(self.crawler)) < 50:
            _errors(self.crawler).append(msg)

    def _ad_capture(self, item: AdItem) -> Capture:
        kind = "recapture" if item.recapture else "fetch"
        cap = item.evidence.to_capture(kind=kind, extra={"site": item.site, "missing_fields": item.missing_fields})
        for m in item.post.media:
            if m.get("sha256") and m.get("size") is not None:
                data = item.media_data.get(m["sha256"])
                cap.artifacts.append(Artifact(role="media", sha256=m["sha256"], size=m["size"], mime=m.get("mime"),
                                              data=data, extra={"url": m.get("url"), "phash": m.get("phash")}))
        item.media_data = {}  # handed over (the item goes on to the screenshot pipeline and feeds)
        return cap

    def _ad_done(self, item: AdItem, out) -> None:
        """Reactor thread, once the post is committed: fill the item, count, record the outcome."""
        item.changed = out["changed"]
        for m in item.post.media:  # the hashes the writer read, for the next pipelines and feeds
            got = out["media"].get(m.get("sha256"))
            if got is not None and m.get("phash") is None:
                m["phash"], m["mime"] = got[0], got[1] or m.get("mime")
        item.post_id = out["post_id"]
        item.capture_id = out["capture_id"]
        item.positive = out["positive"]
        self._inc("ads_saved")
        if out["created"]:
            self._inc("ads_new")
        if item.positive:
            self._inc("positive")
        if item.recapture:
            self._inc("recaptured")
        for stage, err in out["stage_errors"].items():
            self._inc(f"stage_errors/{stage}")
            if len(_errors(self.crawler)) < 50:
                _errors(self.crawler).append(f"{stage}: {err}")
        if not self.ad_results:  # (a crawl's report counts them; a list of every ad would only grow with it)
            return
        _results(self.crawler).append({"post_id": item.post_id, "url": item.post.url,
                                       "outcome": "changed" if item.changed and item.recapture else "live",
                                       "http_status": item.evidence.status, "capture_id": item.capture_id,
                                       "note": "re-captured" if item.recapture else "new" if out["created"]
                                       else "seen", "positive": item.positive})


# ------------------------------------------------------------------ screenshots
BANNER_JS = """([text]) => {
  const b = document.createElement('div');
  b.setAttribute('data-veille-banner', '1');
  b.textContent = text;
  b.style.cssText = 'all:initial;display:block;box-sizing:border-box;width:100%;padding:8px 12px;' +
    'background:#ffd400;color:#000;font:bold 14px/1.4 monospace;border-bottom:3px solid #000;' +
    'position:relative;z-index:2147483647;white-space:pre-wrap;word-break:break-all;';
  document.documentElement.insertBefore(b, document.documentElement.firstChild);  // above the body's margin
}"""


class ScreenshotPipeline:
    def __init__(self, workspace_path: str, enabled: bool):
        self.workspace_path = workspace_path
        self.enabled = enabled

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws or not crawler.settings.getbool("VEILLE_SCREENSHOTS"):
            raise NotConfigured("screenshots off")
        handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
        if "scrapy_playwright" not in str(handlers.get("http", "")):
            raise NotConfigured("screenshots need the scrapy-playwright download handler")
        p = cls(ws, True)
        p.crawler = crawler
        return p

    async def process_item(self, item):
        if not (isinstance(item, AdItem) and item.positive and item.post_id):
            return item
        url = item.screenshot_url or item.post.url or item.evidence.final_url or item.evidence.url
        req = Request(url, meta={"playwright": True, "playwright_include_page": True, "veille_kind": "screenshot"},
                      dont_filter=True)
        page = None
        try:
            resp = await self.crawler.engine.download_async(req)
            page = resp.meta.get("playwright_page")
            if page is None:
                raise RuntimeError("no Playwright page (is the scrapy-playwright handler active?)")
            at = utcnow()
            banner = f"veille capture | {url} | {iso(at)} (UTC) | HTTP {resp.status}"
            await page.evaluate(BANNER_JS, [banner])
            png = await page.screenshot(full_page=True, type="png")
            cap = Capture(kind="screenshot", url=url, final_url=page.url, http_status=resp.status, fetched_at=at,
                          user_agent=await page.evaluate("() => navigator.userAgent"), note=banner,
                          artifacts=[Artifact(role="screenshot", data=png, mime="image/png", name="screenshot.png",
                                              extra={"banner": banner, "full_page": True})],
                          extra={"site": item.site, "banner": banner})
            await stored("blobs_db", add_capture, self.workspace_path, cap, item.post_id)
            self.crawler.stats.inc_value("veille/screenshots")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot is reported, the item is kept
            log.warning("screenshot of %s failed: %s: %s", url, type(exc).__name__, exc)
            self.crawler.stats.inc_value("veille/screenshot_errors")
            _errors(self.crawler).append(f"screenshot {url}: {type(exc).__name__}: {exc}"[:500])
        finally:
            if page is not None:
                try:
                    await page.close()
                except Exception:  # noqa: BLE001, S110
                    pass
        return item


# ------------------------------------------------------------------ runs
class RunRecorder:
    """A ``runs`` row per site crawl, and the site's JSON report for ``spiders.run``."""

    def __init__(self, workspace_path: str, report_dir: str, run_kind: str):
        self.workspace_path = workspace_path
        self.report_dir = report_dir
        self.run_kind = run_kind
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE")
        ext = cls(ws, crawler.settings.get("VEILLE_REPORT_DIR", ""), crawler.settings.get("VEILLE_RUN_KIND", "crawl"))
        ext.crawler = crawler
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_opened(self, spider):
        if self.run_kind != "none":
            self.run_id = db_call(start_run, self.workspace_path, getattr(spider, "site", spider.name),
                                  self.run_kind)

    def spider_error(self, failure, response, spider):
        _errors(self.crawler).append(f"parse error on {response.url}: {failure.getErrorMessage()}"[:500])

    def summary(self, reason: str) -> dict[str, Any]:
        st = self.crawler.stats.get_stats()
        g = lambda k: int(st.get(f"veille/{k}", 0))  # noqa: E731
        errors = list(_errors(self.crawler))
        n_err = g("errors") + g("store_errors") + sum(1 for e in errors if e.startswith("parse error"))
        if reason not in ("finished", "closespider_itemcount", "closespider_pagecount"):
            status = "interrupted"
        elif g("blocked") and not g("ads_saved"):
            status = "blocked"
        elif g("blocked"):
            status = "partial"
        elif n_err and not (g("ads_saved") or g("pages") or g("removed")):
            status = "failed"
        elif n_err:
            status = "partial"
        else:
            status = "ok"
        spider = self.crawler.spider
        return {"site": getattr(spider, "site", spider.name), "status": status, "reason": reason,
                "items": g("ads_saved"), "new": g("ads_new"), "positive": g("positive"), "pages": g("pages"),
                "removed": g("removed"), "blocked": g("blocked"), "errors": n_err, "skipped_seen": g("skipped_seen"),
                "recaptured": g("recaptured"), "media": g("media_stored"), "screenshots": g("screenshots"),
                "screenshot_errors": g("screenshot_errors"), "backoffs": g("backoff"),
                "requests": int(st.get("downloader/request_count", 0)),
                "error": "; ".join(errors[:5]) or None, "error_list": errors[:50],
                "results": _results(self.crawler), "run_id": self.run_id}

    def spider_closed(self, spider, reason):
        rep = self.summary(reason)
        if self.run_id is not None:
            try:
                db_call(finish_run, self.workspace_path, self.run_id, rep["status"], rep["items"],
                        rep["error"])
            except Exception:  # noqa: BLE001
                log.exception("could not close run %s", self.run_id)
        if self.report_dir:
            d = Path(self.report_dir)
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{rep['site']}.json.tmp"
            tmp.write_text(json.dumps(rep, ensure_ascii=False, default=str), "utf-8")
            tmp.replace(d / f"{rep['site']}.json")
