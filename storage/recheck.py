"""Liveness re-checks of reported posts: ``veille recheck [--case NAME]``.

Every post named in a notice or a case is fetched again, politely, and the
result is recorded as ``live``, ``removed`` (``deleted`` for Telegram),
``changed``, ``blocked`` or ``error``, with a new capture as proof (raw page
and headers in the evidence store, a ``recapture`` row, a ``rechecks`` row and
a custody entry). A removal also marks the post removed (the foundation's
``mark_status``: alert + custody entry); a removed post found live again is
marked live. Relisting alerts are raised at the end.

Dispatch, the one seam (``Dispatcher``):

- Telegram posts go through the t.me embed path: ``telegram_watch.preview
  .recheck(ws, post_id)`` when the Telegram package provides it, else the
  built-in fetch of ``https://t.me/<channel>/<id>?embed=1``;
- other posts go through the spiders: ``spiders.run.recheck(ws, post_ids)``
  when the spiders package provides it, else a built-in fetch of the post URL
  with the configured user agent, robots.txt and per-host delay.

Tests (and users without those packages) pass a ``Fetcher`` to force the
built-in path, e.g. against a local 127.0.0.1 server.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from . import cases
from .db import rows, transaction
from .errors import InputError
from .post import to_utc, utcnow
from .posts import Artifact, Capture, add_capture, mark_status, store_artifacts

log = logging.getLogger(__name__)

BLOCK_MARKERS = ("captcha", "datadome", "cf-challenge", "cf_chl", "access denied", "accès refusé",
                 "are you a robot", "just a moment...")
TELEGRAM_GONE = ("tgme_widget_message_error", "post not found", "message not found")
EXTERNAL_PATHS = ("telegram", "spiders")  # telegram_watch.preview.recheck, spiders.run.recheck
LIVE_THRESHOLD = 0.5  # share of the stored text's words that must still be on the page (phones are often hidden)


@dataclass
class FetchResult:
    url: str
    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    error: str | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    truncated: bool = False


class Fetcher(Protocol):
    def fetch(self, url: str) -> FetchResult: ...


class HttpFetcher:
    """Polite built-in fetcher: configured user agent, robots.txt, per-host delay, size cap."""

    def __init__(self, user_agent: str, delay: float = 2.0, max_bytes: int = 25_000_000, obey_robots: bool = True,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep):
        self.user_agent = user_agent
        self.delay = max(0.0, float(delay))
        self.max_bytes = int(max_bytes)
        self.obey_robots = obey_robots
        self.timeout = timeout
        self.sleep = sleep
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    @classmethod
    def from_config(cls, config) -> HttpFetcher:
        return cls(user_agent=config.get("collect.user_agent") or "veille",
                   delay=float(config.get("drafting.recheck_delay", config.get("collect.download_delay", 2.0))),
                   max_bytes=int(config.get("collect.max_page_bytes", 25_000_000)),
                   obey_robots=bool(config.get("collect.obey_robots", True)))

    def _wait(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None:
            remaining = self.delay - (time.monotonic() - last)
            if remaining > 0:
                self.sleep(remaining)
        self._last[host] = time.monotonic()

    def _get(self, url: str) -> FetchResult:
        host = urllib.parse.urlsplit(url).netloc
        self._wait(host)
        req = urllib.request.Request(url, headers={"User-Agent": self.user_agent, "Accept-Language": "fr,en;q=0.8"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) only, checked
                body = resp.read(self.max_bytes + 1)
                return FetchResult(url, resp.status, body[: self.max_bytes], dict(resp.headers.items()),
                                   resp.geturl(), truncated=len(body) > self.max_bytes)
        except urllib.error.HTTPError as exc:
            body = exc.read(self.max_bytes) if exc.fp else b""
            return FetchResult(url, exc.code, body, dict(exc.headers.items()) if exc.headers else {}, exc.geturl())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return FetchResult(url, None, error=f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")

    def _allowed(self, url: str) -> bool:
        if not self.obey_robots:
            return True
        parts = urllib.parse.urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._robots:
            res = self._get(key + "/robots.txt")
            rp = None
            if res.status == 200:
                rp = urllib.robotparser.RobotFileParser()
                rp.parse(res.body.decode("utf-8", "replace").splitlines())
            self._robots[key] = rp
        rp = self._robots[key]
        return rp is None or rp.can_fetch(self.user_agent, url)

    def fetch(self, url: str) -> FetchResult:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            return FetchResult(url, None, error="not an http(s) URL")
        if not self._allowed(url):
            return FetchResult(url, None, error="disallowed by robots.txt")
        return self._get(url)


# --------------------------------------------------------------- verdicts
def _visible_text(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html.unescape(text)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", (text or "").lower()) if len(w) > 1}


def text_still_there(post_text: str, body: bytes) -> float:
    """Share of the stored text's words found on the fetched page (1.0 when there is no text)."""
    want = _words(post_text)
    if not want:
        return 1.0
    return len(want & _words(_visible_text(body))) / len(want)


def classify(post: dict, res: FetchResult, removed_markers: list[str]) -> tuple[str, str]:
    """(outcome, note) for one fetch of a post."""
    if res.status is None:
        return "error", res.error or "no answer"
    if res.status in (404, 410):
        return "removed", f"HTTP {res.status}"
    low = res.body[:2_000_000].decode("utf-8", "replace").lower()
    if res.status in (401, 403, 429, 503) or any(m in low for m in BLOCK_MARKERS):
        return "blocked", f"HTTP {res.status}: access refused or challenge page"
    if res.status >= 400:
        return "error", f"HTTP {res.status}"
    markers = [m.lower() for m in removed_markers]
    if post["platform"] == "telegram":
        markers += list(TELEGRAM_GONE)
    hit = next((m for m in markers if m and m in low), None)
    if hit:
        return "removed", f"page says {hit!r}"
    share = text_still_there((post.get("title") or "") + " " + (post.get("text") or ""), res.body)
    if share >= LIVE_THRESHOLD:
        return "live", f"{share:.0%} of the stored text found"
    moved = res.final_url and res.final_url.rstrip("/") != res.url.rstrip("/")
    return "changed", (f"redirected to {res.final_url}; " if moved else "") + f"only {share:.0%} of the stored text found"


def embed_url(post: dict) -> str | None:
    """``https://t.me/<channel>/<id>?embed=1`` for a Telegram post."""
    ext = post.get("external_id") or ""
    m = re.match(r"^@?([A-Za-z0-9_]{3,64})/(\d+)$", ext)
    if m:
        return f"https://t.me/{m.group(1)}/{m.group(2)}?embed=1"
    url = post.get("url") or ""
    parts = urllib.parse.urlsplit(url)
    m = re.match(r"^/(?:s/)?([A-Za-z0-9_]{3,64})/(\d+)/?$", parts.path)
    if parts.scheme in ("http", "https") and m:
        q = dict(urllib.parse.parse_qsl(parts.query))
        q["embed"] = "1"
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{m.group(1)}/{m.group(2)}",
                                        urllib.parse.urlencode(q), ""))
    return None


# --------------------------------------------------------------- dispatch
@dataclass
class RecheckReport:
    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    relisting: list[dict] = field(default_factory=list)

    def add(self, r: dict) -> None:
        self.checked += 1
        self.outcomes[r["outcome"]] = self.outcomes.get(r["outcome"], 0) + 1
        self.results.append(r)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "outcomes": self.outcomes, "results": self.results,
                "relisting_alerts": self.relisting}


def _removed_markers(ws, platform: str) -> list[str]:
    from .drafting import find_route, load_routes  # noqa: PLC0415 - avoid an import cycle

    try:
        return list(find_route(load_routes(ws), platform).get("removed_markers") or [])
    except Exception:  # noqa: BLE001 - no route for this platform: no markers
        return []


def record_fetch(ws, post: dict, res: FetchResult, via: str, markers: list[str] | None = None) -> dict:
    """Store one re-fetch as evidence and apply its verdict to the post."""
    outcome, note = classify(post, res, markers if markers is not None else _removed_markers(ws, post["platform"]))
    res.headers = {k: v for k, v in (res.headers or {}).items() if k.lower() not in ("set-cookie", "cookie")}
    arts = []
    if res.body:
        arts.append(Artifact(role="raw_html", data=res.body, mime=(res.headers.get("Content-Type") or
                                                                    res.headers.get("content-type") or "text/html")
                             .split(";")[0].strip() or None))
    if res.headers:
        arts.append(Artifact(role="headers", data=json.dumps(res.headers, ensure_ascii=False, sort_keys=True)
                             .encode("utf-8"), mime="application/json"))
    cap_outcome = {"live": "ok", "removed": "removed", "changed": "changed", "blocked": "blocked"}.get(outcome, "error")
    store_artifacts(ws, Capture(artifacts=arts))  # blobs first, outside the transaction
    with transaction(ws.db):  # capture, status change, rechecks row and custody entries: all or nothing
        return _record(ws, post, res, via, outcome, note, cap_outcome, arts)


def _record(ws, post: dict, res: FetchResult, via: str, outcome: str, note: str, cap_outcome: str,
            arts: list[Artifact]) -> dict:
    capture_id = add_capture(ws, Capture(kind="recapture", url=res.url, final_url=res.final_url,
                                         http_status=res.status, headers=res.headers or None,
                                         fetched_at=res.fetched_at, outcome=cap_outcome,
                                         note=f"recheck via {via}: {note}" + (" (page truncated)" if res.truncated
                                                                              else ""),
                                         artifacts=arts, extra={"recheck": True}), post_id=post["id"])
    gone = "deleted" if post["platform"] == "telegram" else "removed"
    if outcome == "removed" and post["status"] == "live":
        mark_status(ws, post["id"], gone, capture_id=capture_id, at=res.fetched_at, reason=f"recheck: {note}")
    elif outcome in ("live", "changed") and post["status"] != "live":
        mark_status(ws, post["id"], "live", capture_id=capture_id, at=res.fetched_at,
                    reason=f"recheck: online again ({note})")
    cases.record_recheck(ws, post["id"], outcome, http_status=res.status, capture_id=capture_id, via=via,
                         note=note, at=res.fetched_at)
    return {"post_id": post["id"], "url": res.url, "outcome": outcome, "http_status": res.status,
            "capture_id": capture_id, "via": via, "note": note}


def _external(module: str, name: str):
    try:
        mod = __import__(module, fromlist=[name])
    except ImportError:
        return None
    return getattr(mod, name, None)


def _adapt(ws, post: dict, result: Any, via: str) -> dict:
    """Record what a spiders/telegram re-check function returned (dict or object)."""
    get = result.get if isinstance(result, dict) else (lambda k, d=None: getattr(result, k, d))
    outcome = get("outcome") or get("status") or "error"
    outcome = {"deleted": "removed", "gone": "removed", "ok": "live", "alive": "live"}.get(outcome, outcome)
    if outcome not in ("live", "removed", "changed", "error", "blocked"):
        outcome = "error"
    capture_id = get("capture_id")
    http_status = get("http_status")
    note = get("note") or get("reason")
    cases.record_recheck(ws, post["id"], outcome, http_status=http_status, capture_id=capture_id, via=via,
                         note=note)
    fresh = rows(ws.db, "select status from posts where id = ?", [post["id"]])[0]["status"]
    gone = "deleted" if post["platform"] == "telegram" else "removed"
    if outcome == "removed" and fresh == "live":
        mark_status(ws, post["id"], gone, capture_id=capture_id, reason=f"recheck via {via}")
    return {"post_id": post["id"], "url": post["url"], "outcome": outcome, "http_status": http_status,
            "capture_id": capture_id, "via": via, "note": note}


class Dispatcher:
    """Routes each post to the normal path for its platform (the seam tests replace).

    ``fetcher`` (default: the polite :class:`HttpFetcher`) does every HTTP GET,
    including those of the Telegram package's re-check, so the user agent,
    robots.txt and per-host delay apply everywhere. ``telegram_base`` replaces
    ``https://t.me`` (tests, demo site).
    """

    def __init__(self, ws, fetcher: Fetcher | None = None, telegram_base: str | None = None,
                 use_external: bool | set[str] | None = None):
        self.ws = ws
        self.fetcher = fetcher
        self.telegram_base = telegram_base.rstrip("/") if telegram_base else None
        if use_external is None:
            use_external = (ws.config.get("drafting.recheck_via") or "auto") != "builtin"
        if isinstance(use_external, bool):
            use_external = set(EXTERNAL_PATHS) if use_external else set()
        unknown = set(use_external) - set(EXTERNAL_PATHS)
        if unknown:
            raise InputError(f"unknown re-check path(s): {', '.join(sorted(unknown))}")
        self.use_external = set(use_external)
        self._http = None

    def http(self) -> Fetcher:
        if self.fetcher is not None:
            return self.fetcher
        if self._http is None:
            self._http = HttpFetcher.from_config(self.ws.config)
        return self._http

    def _tuple_fetcher(self, url: str):
        """The (status, final_url, body, headers) fetcher signature of telegram_watch.preview."""
        from .errors import SourceError  # noqa: PLC0415

        res = self.http().fetch(url)
        if res.status is None:
            raise SourceError(f"cannot fetch {url}: {res.error}")
        return res.status, res.final_url or url, res.body, res.headers

    def telegram(self, post: dict) -> dict:
        ext = _external("telegram_watch.preview", "recheck") if "telegram" in self.use_external else None
        if ext is not None:
            result = ext(self.ws, post["id"], base_url=self.telegram_base, fetcher=self._tuple_fetcher)
            return _adapt(self.ws, post, result, "telegram_watch.preview")
        url = embed_url(post)
        if url is None:
            return self._unreachable(post, "no t.me channel/id to build an embed URL from")
        if self.telegram_base:
            url = self.telegram_base + url[len("https://t.me"):] if url.startswith("https://t.me") else url
        return record_fetch(self.ws, post, self.http().fetch(url), "t.me embed")

    def classifieds(self, posts: list[dict]) -> list[dict]:
        ext = _external("spiders.run", "recheck") if "spiders" in self.use_external else None
        out = []
        if ext is not None:
            by_id = {p["id"]: p for p in posts}
            results = ext(self.ws, list(by_id)) or {}
            items = results.items() if isinstance(results, dict) else ((get_id(r), r) for r in results)
            left = dict(by_id)
            for pid, r in items:
                post = left.get(int(pid))
                if post is None:
                    continue
                note = (r.get("note") if isinstance(r, dict) else getattr(r, "note", None)) or ""
                if note.startswith("no site profile"):
                    continue  # no spider for this site: the plain GET below
                out.append(_adapt(self.ws, post, r, "spiders.run"))
                del left[int(pid)]
            posts = list(left.values())
        for p in posts:
            if not (p["url"] or "").startswith(("http://", "https://")):
                out.append(self._unreachable(p, "no http(s) URL"))
                continue
            try:
                out.append(record_fetch(self.ws, p, self.http().fetch(p["url"]), "http"))
            except Exception as exc:  # noqa: BLE001 - one post's failure stops no other
                log.warning("recheck of post %s failed: %s", p["id"], exc)
                out.append(self._unreachable(p, f"{type(exc).__name__}: {exc}"))
        return out

    def _unreachable(self, post: dict, why: str) -> dict:
        cases.record_recheck(self.ws, post["id"], "error", via="none", note=why)
        return {"post_id": post["id"], "url": post["url"], "outcome": "error", "http_status": None,
                "capture_id": None, "via": "none", "note": why}


def get_id(r: Any) -> int:
    return int(r["post_id"] if isinstance(r, dict) else r.post_id)


def recheck(ws, case: str | None = None, fetcher: Fetcher | None = None, post_ids: list[int] | None = None,
            relisting: bool = True, progress: Callable[[dict], None] | None = None,
            telegram_base: str | None = None, use_external: bool | set[str] | None = None) -> RecheckReport:
    """Re-fetch every reported post (of one case, or all), record the outcomes, raise relisting alerts."""
    ids = list(post_ids) if post_ids is not None else cases.reported_post_ids(ws, case)
    report = RecheckReport()
    posts = []
    for pid in ids:
        r = rows(ws.db, "select * from posts where id = ?", [pid])
        if r:
            posts.append(r[0])
    d = Dispatcher(ws, fetcher, telegram_base, use_external)
    classifieds = [p for p in posts if p["platform"] != "telegram"]
    for p in posts:
        if p["platform"] == "telegram":
            try:
                res = d.telegram(p)
            except Exception as exc:  # noqa: BLE001 - one post's failure stops no other
                log.warning("recheck of post %s failed: %s", p["id"], exc)
                res = d._unreachable(p, f"{type(exc).__name__}: {exc}")
            report.add(res)
            if progress:
                progress(res)
    if classifieds:
        try:
            results = d.classifieds(classifieds)
        except Exception as exc:  # noqa: BLE001
            log.warning("classifieds recheck failed: %s", exc)
            results = [d._unreachable(p, f"{type(exc).__name__}: {exc}") for p in classifieds]
        for res in results:
            report.add(res)
            if progress:
                progress(res)
    if relisting:
        from .relisting import detect_relisting  # noqa: PLC0415

        report.relisting = detect_relisting(ws)
    return report


def last_checked(ws, post_id: int) -> datetime | None:
    r = ws.db.execute("select max(at) from rechecks where post_id = ?", [post_id]).fetchone()
    return to_utc(r[0]) if r and r[0] else None
