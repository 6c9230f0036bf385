"""Item pipelines: everything after parsing (spiders only parse and yield).

In order (``ITEM_PIPELINES``):

1. :class:`MediaPipeline` downloads an ad's images (at most
   ``VEILLE_MAX_IMAGES_PER_AD``, each at most ``VEILLE_MAX_MEDIA_BYTES``) into
   the evidence store and records, in ``post.media``, ``{"url", "sha256",
   "kind": "image", "size", "mime", "phash"}``. ``phash`` is ImageHash's
   perceptual hash (hex), read by the seller clustering.
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
import io
import json
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured

from storage.post import iso, utcnow
from storage.posts import Artifact, Capture, add_capture, finish_run, mark_status, start_run

from .items import AdItem, BlockedItem, FetchErrorItem, PageItem, RemovedItem
from .wsstate import workspace

log = logging.getLogger("veille.spiders.pipelines")


#: Blob writes (each one fsyncs a file and its folder) run on a small thread pool, and every database
#: write on one dedicated thread (one SQLite connection, one writer), so the reactor keeps downloading and
#: parsing while evidence is being made durable.
_BLOB_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="veille-blobs")


class DbWriter:
    """The crawl process's one database writer: a thread that groups queued calls into one transaction.

    Calls that arrive while a transaction is being written are run together in
    the next one (group commit), each inside its own SAVEPOINT: a call that
    raises rolls back only its own writes and gets the exception. A call's
    future is resolved only once its transaction is committed, so nothing is
    reported stored that a kill could still lose; a kill mid-transaction loses
    the uncommitted group, which the next run fetches again (blobs are written
    before, and are content-addressed).
    """

    MAX_GROUP = 64

    def __init__(self):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, ws, fn, *args) -> Future:
        fut: Future = Future()
        self._q.put((ws, fn, args, fut))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="veille-db", daemon=True)
                    self._thread.start()
        return fut

    def _run(self) -> None:
        while True:
            group = [self._q.get()]
            while len(group) < self.MAX_GROUP:
                try:
                    group.append(self._q.get_nowait())
                except queue.Empty:
                    break
            by_ws: dict[int, list] = {}
            for call in group:
                by_ws.setdefault(id(call[0]), []).append(call)
            for calls in by_ws.values():
                self._commit(calls[0][0], calls)

    @staticmethod
    def _commit(ws, calls: list) -> None:
        conn = ws.db.conn
        done: list[tuple[Future, Any, BaseException | None]] = []
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            for _, fn, args, fut in calls:
                if not fut.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT veille_call")
                try:
                    res = fn(*args)
                except Exception as exc:  # noqa: BLE001 - handed to the caller through its future
                    conn.execute("ROLLBACK TO veille_call")
                    conn.execute("RELEASE veille_call")
                    done.append((fut, None, exc))
                else:
                    conn.execute("RELEASE veille_call")
                    done.append((fut, res, None))
            if conn.in_transaction:  # (a call that committed on its own left none open)
                conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - the transaction failed: every call of it failed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, _, _, fut in calls:
                if not fut.done():
                    if fut.running() or fut.set_running_or_notify_cancel():
                        fut.set_exception(exc)
            for fut, _, _ in done:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, res, exc in done:
            if exc is None:
                fut.set_result(res)
            else:
                fut.set_exception(exc)


_DB = DbWriter()


async def in_blob_pool(fn, *args):
    return await asyncio.wrap_future(_BLOB_POOL.submit(fn, *args))


async def in_db_thread(ws, fn, *args):
    """Run ``fn(*args)`` on the database thread, in a committed transaction of ``ws``."""
    return await asyncio.wrap_future(_DB.submit(ws, fn, *args))


def db_call(fn, ws, *args):
    """Run ``fn(ws, *args)`` on the database thread and wait for it (from reactor callbacks and signals)."""
    return _DB.submit(ws, fn, ws, *args).result()


async def blobs_then_db(ws, capture: Capture, fn, *args):
    """Write a capture's blobs (blob pool), then run ``fn(*args)`` on the database thread: one wake-up of the
    reactor instead of two, and the database never references a blob that is not durable yet."""
    out: Future = Future()

    def relay(f: Future) -> None:
        exc = f.exception()
        if exc is None:
            out.set_result(f.result())
        else:
            out.set_exception(exc)

    def write() -> None:
        try:
            _put_blobs(ws, capture)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            out.set_exception(exc)
            return
        _DB.submit(ws, fn, *args).add_done_callback(relay)

    _BLOB_POOL.submit(write)
    return await asyncio.wrap_future(out)


def _put_blobs(ws, capture: Capture) -> None:
    """Write a capture's bytes to the evidence store (before its database transaction)."""
    for a in capture.artifacts:
        if a.data is not None and not a.sha256:
            a.sha256 = ws.store.put_bytes(a.data)
            a.size = len(a.data)


def _results(crawler) -> list[dict]:
    if not hasattr(crawler, "veille_results"):
        crawler.veille_results = []
    return crawler.veille_results


def _errors(crawler) -> list[str]:
    if not hasattr(crawler, "veille_errors"):
        crawler.veille_errors = []
    return crawler.veille_errors


# ------------------------------------------------------------------ media
def perceptual_hash(data: bytes) -> tuple[str | None, str | None]:
    """(phash hex, mime) of image bytes, or (None, None) when they are not a readable image.

    ImageHash's pHash works on a 32x32 grey version of the picture, so a JPEG is
    decoded in grey at the smallest DCT scale that still gives at least
    128x128 pixels (``draft``): several times less work than a full decode,
    and within 2 of the 64 bits (mean 0.65) of ``imagehash.phash`` on the full
    image for photos of 500-1600 px (the clustering's image match tolerates
    more; ``tests/spiders/test_pipelines.py`` checks it).
    """
    try:
        import imagehash
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            mime = Image.MIME.get(im.format or "")
            im.draft("L", (128, 128))
            return str(imagehash.phash(im)), mime
    except Exception:  # noqa: BLE001 - not an image, truncated, decompression bomb ...
        return None, None


def _store_image(ws, body: bytes) -> tuple[str, str | None, str | None]:
    """(sha256, phash, mime) of an image, stored in the evidence store (one blob-pool call)."""
    sha = ws.store.put_bytes(body)
    phash, mime = perceptual_hash(body)
    return sha, phash, mime


class MediaPipeline:
    def __init__(self, workspace_path: str, max_bytes: int, max_images: int, enabled: bool):
        self.workspace_path = workspace_path
        self.max_bytes = max_bytes
        self.max_images = max_images
        self.enabled = enabled
        self.cache: dict[str, dict] = {}

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE")
        p = cls(ws, crawler.settings.getint("VEILLE_MAX_MEDIA_BYTES", 15_000_000),
                crawler.settings.getint("VEILLE_MAX_IMAGES_PER_AD", 8),
                crawler.settings.getbool("VEILLE_DOWNLOAD_IMAGES", True))
        p.crawler = crawler
        return p

    async def _fetch(self, url: str) -> dict | None:
        if url in self.cache:
            return self.cache[url]
        req = Request(url, meta={"download_maxsize": self.max_bytes, "veille_kind": "media",
                                 "download_warnsize": self.max_bytes}, dont_filter=True)
        try:
            resp = await self.crawler.engine.download_async(req)
        except Exception as exc:  # noqa: BLE001 - one image's failure stops nothing
            log.info("image %s not downloaded: %s", url, exc)
            self.crawler.stats.inc_value("veille/media_errors")
            self.cache[url] = None
            return None
        if resp.status != 200 or not resp.body:
            self.crawler.stats.inc_value("veille/media_errors")
            self.cache[url] = None
            return None
        body = bytes(resp.body)
        sha, phash, mime = await in_blob_pool(_store_image, workspace(self.workspace_path), body)
        ctype = (resp.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        entry = {"url": url, "sha256": sha, "kind": "image", "size": len(body), "mime": mime or ctype or None,
                 "phash": phash}
        self.cache[url] = entry
        self.crawler.stats.inc_value("veille/media_stored")
        return entry

    async def process_item(self, item):
        if not (self.enabled and isinstance(item, AdItem) and item.image_urls):
            return item
        urls = list(dict.fromkeys(item.image_urls))[: self.max_images]
        # an ad's images are requested together; the site's download slot still paces them (delay, concurrency)
        entries = await asyncio.gather(*(self._fetch(u) for u in urls)) if len(urls) > 1 else \
            [await self._fetch(u) for u in urls]
        media = [dict(e) for e in entries if e is not None]
        parsed = {m.get("url"): m for m in item.post.media if m.get("url")}
        for m in media:
            if m["url"] in parsed:  # an entry the spider already parsed (a t.me photo): add what the download gave
                parsed[m["url"]].update({k: v for k, v in m.items() if k != "kind" and v is not None})
            else:
                item.post.media.append(m)
        return item


# ------------------------------------------------------------------ storage
class StoragePipeline:
    def __init__(self, workspace_path: str, store_listings: bool):
        self.workspace_path = workspace_path
        self.store_listings = store_listings

    @classmethod
    def from_crawler(cls, crawler):
        ws = crawler.settings.get("VEILLE_WORKSPACE")
        if not ws:
            raise NotConfigured("no VEILLE_WORKSPACE: set it to store items (env VEILLE_WORKSPACE)")
        p = cls(ws, crawler.settings.getbool("VEILLE_STORE_LISTINGS", True))
        p.crawler = crawler
        return p

    @property
    def ws(self):
        return workspace(self.workspace_path)

    def _inc(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"veille/{key}", n)

    async def process_item(self, item):
        try:
            ws = self.ws
            if isinstance(item, AdItem):
                cap = self._ad_capture(item)
                self._ad_done(item, await blobs_then_db(ws, cap, self._ad, item, cap))
            elif isinstance(item, PageItem) and item.kind == "recheck" and item.post_id:
                cap = item.evidence.to_capture(kind="recapture", extra={"site": item.site, "page": "recheck"})
                _results(self.crawler).append(await blobs_then_db(ws, cap, self._page_check, item, cap))
                self._inc("pages")
                self._inc("rechecked")
            elif isinstance(item, PageItem):
                if self.store_listings:
                    cap = item.evidence.to_capture(kind="fetch", note=item.note or f"{item.kind} page",
                                                   extra={"page": item.kind, "site": item.site})
                    await blobs_then_db(ws, cap, add_capture, ws, cap)
                self._inc("pages")
            elif isinstance(item, RemovedItem):
                await in_db_thread(ws, self._removed, item)
            elif isinstance(item, BlockedItem):
                await in_db_thread(ws, self._blocked, item)
            elif isinstance(item, FetchErrorItem):
                await in_db_thread(ws, self._error, item)
        except Exception as exc:  # noqa: BLE001 - a storage failure is reported, the crawl goes on
            log.exception("storing %s failed", type(item).__name__)
            _errors(self.crawler).append(f"store {type(item).__name__}: {type(exc).__name__}: {exc}")
            self._inc("store_errors")
        return item

    def _ad_capture(self, item: AdItem) -> Capture:
        kind = "recapture" if item.recapture else "fetch"
        cap = item.evidence.to_capture(kind=kind, extra={"site": item.site, "missing_fields": item.missing_fields})
        for m in item.post.media:
            if m.get("sha256") and m.get("size") is not None:
                cap.artifacts.append(Artifact(role="media", sha256=m["sha256"], size=m["size"], mime=m.get("mime"),
                                              extra={"url": m.get("url"), "phash": m.get("phash")}))
        return cap

    def _ad(self, item: AdItem, cap: Capture):
        """Database thread: classify, extract and save the post with its capture (inside a transaction)."""
        from storage.ingest import ingest

        before = None
        if item.recapture and item.post_id:
            before = self.ws.db.execute("select title, text, price from posts where id = ?",
                                        [item.post_id]).fetchone()
        res = ingest(self.ws, item.post, cap)
        if item.recapture:
            row = self.ws.db.execute("select status from posts where id = ?", [res.save.post_id]).fetchone()
            if row and row[0] != "live":
                mark_status(self.ws, res.save.post_id, "live", capture_id=res.save.capture_id, reason="online again")
        # "changed" for a re-capture: the title, text or price differ from what was stored
        changed = res.save.changed if before is None else tuple(before) != (
            item.post.title, item.post.text, item.post.price)
        return res, changed

    def _ad_done(self, item: AdItem, out) -> None:
        """Reactor thread, once the post is committed: fill the item, count, record the outcome."""
        res, item.changed = out
        item.post_id = res.save.post_id
        item.capture_id = res.save.capture_id
        item.positive = res.positive
        self._inc("ads_saved")
        if res.save.created:
            self._inc("ads_new")
        if res.positive:
            self._inc("positive")
        if item.recapture:
            self._inc("recaptured")
        for stage, err in res.analysis.errors.items():
            self._inc(f"stage_errors/{stage}")
            if len(_errors(self.crawler)) < 50:
                _errors(self.crawler).append(f"{stage}: {err}")
        _results(self.crawler).append({"post_id": item.post_id, "url": item.post.url,
                                       "outcome": "changed" if item.changed and item.recapture else "live",
                                       "http_status": item.evidence.status, "capture_id": item.capture_id,
                                       "note": "re-captured" if item.recapture else "new" if res.save.created
                                       else "seen", "positive": item.positive})

    def _page_check(self, item: PageItem, cap: Capture) -> dict:
        """Database thread: a known post's page on a site with no profile: still there (``live``) when most of
        the stored title and text are on the page, else ``changed`` (the rule of ``storage.recheck``)."""
        from storage.recheck import LIVE_THRESHOLD, text_still_there

        row = self.ws.db.execute("select title, text, status from posts where id = ?", [item.post_id]).fetchone()
        if row is None:
            cap.kind, cap.note = "fetch", "re-check of an unknown post"
            cid = add_capture(self.ws, cap)
            return {"post_id": None, "url": item.evidence.url, "outcome": "error", "capture_id": cid,
                    "http_status": item.evidence.status, "note": "unknown post"}
        share = text_still_there(f"{row[0] or ''} {row[1] or ''}", item.evidence.body)
        live = share >= LIVE_THRESHOLD
        note = f"{share:.0%} of the stored text found"
        moved = item.evidence.final_url and item.evidence.final_url.rstrip("/") != item.evidence.url.rstrip("/")
        if not live and moved:
            note = f"redirected to {item.evidence.final_url}; only {note}"
        cap.outcome, cap.note = ("ok" if live else "changed"), f"re-check (no site profile): {note}"
        cid = add_capture(self.ws, cap, post_id=item.post_id)
        if live and row[2] != "live":
            mark_status(self.ws, item.post_id, "live", capture_id=cid, at=item.evidence.fetched_at,
                        reason=f"online again ({note})")
        return {"post_id": item.post_id, "url": item.evidence.url, "outcome": "live" if live else "changed",
                "http_status": item.evidence.status, "capture_id": cid, "note": note}

    def _removed(self, item: RemovedItem) -> None:
        from storage.crawl_state import post_id_for

        platform = getattr(self.crawler.spider, "platform", item.site)
        pid = item.post_id or post_id_for(self.ws, platform, item.url, item.dedupe_key)
        if pid is None and item.evidence.final_url:
            pid = post_id_for(self.ws, platform, item.evidence.final_url)
        cap = item.evidence.to_capture(kind="recapture" if pid else "fetch", outcome="removed", note=item.reason,
                                       extra={"site": item.site})
        cid = add_capture(self.ws, cap, post_id=pid)
        if pid is not None:
            mark_status(self.ws, pid, "removed", capture_id=cid, at=item.evidence.fetched_at, reason=item.reason)
        self._inc("removed")
        _results(self.crawler).append({"post_id": pid, "url": item.url, "outcome": "removed",
                                       "http_status": item.evidence.status, "capture_id": cid, "note": item.reason})

    def _blocked(self, item: BlockedItem) -> None:
        cap = item.evidence.to_capture(kind="recapture" if item.post_id else "fetch", outcome="blocked",
                                       note=item.reason, extra={"site": item.site})
        cid = add_capture(self.ws, cap, post_id=item.post_id)
        self._inc("blocked")
        if len(_errors(self.crawler)) < 50:
            _errors(self.crawler).append(f"blocked: {item.url}: {item.reason}")
        _results(self.crawler).append({"post_id": item.post_id, "url": item.url, "outcome": "blocked",
                                       "http_status": item.evidence.status, "capture_id": cid, "note": item.reason})

    def _error(self, item: FetchErrorItem) -> None:
        cap = Capture(kind="recapture" if item.post_id else "fetch", url=item.url, fetched_at=item.fetched_at,
                      outcome="error", note=item.error[:1000], extra={"site": item.site})
        cid = add_capture(self.ws, cap, post_id=item.post_id)
        self._inc("errors")
        if len(_errors(self.crawler)) < 50:
            _errors(self.crawler).append(f"{item.url}: {item.error}")
        _results(self.crawler).append({"post_id": item.post_id, "url": item.url, "outcome": "error",
                                       "http_status": None, "capture_id": cid, "note": item.error})


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
        url = item.post.url or item.evidence.final_url or item.evidence.url
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
            ws = workspace(self.workspace_path)
            await blobs_then_db(ws, cap, add_capture, ws, cap, item.post_id)
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
            self.run_id = db_call(start_run, workspace(self.workspace_path), getattr(spider, "site", spider.name),
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
                db_call(finish_run, workspace(self.workspace_path), self.run_id, rep["status"], rep["items"],
                        rep["error"])
            except Exception:  # noqa: BLE001
                log.exception("could not close run %s", self.run_id)
        if self.report_dir:
            d = Path(self.report_dir)
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{rep['site']}.json.tmp"
            tmp.write_text(json.dumps(rep, ensure_ascii=False, default=str), "utf-8")
            tmp.replace(d / f"{rep['site']}.json")
