"""The in-process API of the crawlers, used by ``veille crawl``, ``veille daily``, ``veille demo`` and ``veille recheck``.

- :func:`crawl` ``(ws, sites=None, keywords=None, max_pages=None, base_urls=None) -> CrawlReport``
- :func:`recheck` ``(ws, post_ids) -> list[dict]`` (one dict per post: ``post_id``, ``url``, ``outcome`` in
  ``live | changed | removed | blocked | error``, ``http_status``, ``capture_id``, ``note``)
- :func:`list_sites` ``(ws=None) -> list[str]``
- :func:`import_html` ``(ws, paths, profile=None, url=None) -> ImportReport``
- :func:`profile_test` ``(profile, path, url=None, ws=None) -> dict``

Scrapy's Twisted reactor can start only once per process, so every crawl runs
in a child process (``python -m spiders.run worker SPEC.json``) that runs all
the requested sites side by side in one ``CrawlerProcess``; the parent reads
back one JSON report per site. Calling :func:`crawl` many times in one
process (tests, ``veille daily``) is therefore safe. One site's failure (bad
profile, blocked, exceptions in parsing) is recorded for that site and stops
no other; a child that dies is reported for every site it had not finished.

Base URLs: each profile has its real ``base_url``. ``base_urls={"leboncoin":
"http://127.0.0.1:8000"}`` (or the ``[collect.base_urls]`` table of
``veille.toml``) replaces it for that site; the site's spider then only
fetches from that host (links to the real hosts are rewritten onto it).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storage.errors import ConfigError, InputError, VeilleError

from .profile import Profile, list_profiles, load_profile

log = logging.getLogger("veille.spiders.run")


@dataclass
class SiteResult:
    site: str
    status: str = "failed"  # ok | partial | blocked | failed | interrupted
    items: int = 0
    new: int = 0
    positive: int = 0
    pages: int = 0
    removed: int = 0
    blocked: int = 0
    errors: int = 0
    skipped_seen: int = 0
    recaptured: int = 0
    media: int = 0
    screenshots: int = 0
    screenshot_errors: int = 0
    requests: int = 0
    backoffs: int = 0
    error: str | None = None
    error_list: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("results")
        return d


@dataclass
class CrawlReport:
    sites: dict[str, SiteResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def items(self) -> int:
        return sum(r.items for r in self.sites.values())

    @property
    def blocked(self) -> list[str]:
        return [s for s, r in self.sites.items() if r.status == "blocked"]

    @property
    def failed(self) -> list[str]:
        return [s for s, r in self.sites.items() if r.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "seconds": round(self.seconds, 2), "warnings": self.warnings,
                "blocked": self.blocked, "failed": self.failed,
                "sites": {k: v.to_dict() for k, v in self.sites.items()}}


# ------------------------------------------------------------------ helpers
def list_sites(ws=None) -> list[str]:
    """Names of the site profiles (shipped, plus the workspace's ``profiles/``)."""
    return list_profiles(ws)


def configured_base_urls(ws) -> dict[str, str]:
    table = ws.config.get("collect.base_urls") or {}
    if not isinstance(table, dict):
        raise ConfigError("collect.base_urls must be a table of NAME = \"http(s)://HOST[:PORT][/PATH]\"")
    out = {}
    for k, v in table.items():
        if not isinstance(v, str) or not v.startswith(("http://", "https://")):
            raise ConfigError(f"collect.base_urls.{k}: expected an http(s) URL, got {v!r}")
        out[k] = v.rstrip("/")
    return out


def _spider_path(profile: Profile) -> str:
    if profile.spider == "profile":
        return "spiders.sites.profile_spider:ProfileSpider"
    if not profile.spider.isidentifier():
        raise ConfigError(f"profile {profile.name}: bad spider name {profile.spider!r}")
    return f"spiders.sites.{profile.spider}:{profile.spider.title().replace('_', '')}Spider"


def _browser(ws, need_js: bool, screenshots: bool, warnings: list[str]) -> tuple[dict, bool, str | None]:
    """(playwright settings, screenshots still on, error for JS sites)."""
    from .settings import find_chromium, playwright_settings

    if not (need_js or screenshots):
        return {}, False, None
    try:
        chromium = find_chromium(ws.config.get("collect.chromium") or None)
    except ConfigError as exc:
        if screenshots:
            warnings.append(f"screenshots off: {exc}")
        return {}, False, str(exc)
    return playwright_settings(chromium), screenshots, None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the crawl process gets SIGTERM when the process that started it dies."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _run_worker(spec: dict, timeout: float | None) -> tuple[int | None, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(spec, fh, ensure_ascii=False)
        spec_path = fh.name
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    proc = subprocess.Popen([sys.executable, "-m", "spiders.run", "worker", spec_path], env=env,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    try:
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, (err or "")[-4000:]
    except subprocess.TimeoutExpired:
        # first SIGTERM: Scrapy closes the spiders (runs end "interrupted", the JOBDIR keeps the queue) once
        # the requests already handed to the downloader are done; a second one forces it; then SIGKILL.
        err = ""
        for stop in (proc.terminate, proc.terminate, proc.kill):
            stop()
            try:
                _, err = proc.communicate(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        return None, f"timed out after {timeout}s\n{(err or '')[-2000:]}"
    except BaseException:
        proc.kill()  # the caller was interrupted: never leave a crawl running behind it
        proc.wait()
        raise
    finally:
        os.unlink(spec_path)


def _collect(report_dir: Path, sites: list[str], rc: int | None, stderr: str, report: CrawlReport) -> None:
    for site in sites:
        f = report_dir / f"{site}.json"
        if f.is_file():
            data = json.loads(f.read_text("utf-8"))
            known = {k: v for k, v in data.items() if k in SiteResult.__dataclass_fields__}
            report.sites[site] = SiteResult(**known)
        elif site not in report.sites:
            tail = stderr.strip().splitlines()[-3:] if stderr.strip() else []
            why = "crawl process " + ("timed out" if rc is None else f"exited with code {rc}")
            report.sites[site] = SiteResult(site, status="interrupted" if rc is None else "failed",
                                            error=f"{why}: {' | '.join(tail)}"[:1000])


def _execute(ws, jobs: list[dict], report: CrawlReport, timeout: float | None, verbose: bool = False) -> None:
    if not jobs:
        return
    with tempfile.TemporaryDirectory(prefix="veille-crawl-") as tmp:
        spec = {"workspace": str(ws.root), "report_dir": tmp, "jobs": jobs, "verbose": verbose}
        rc, stderr = _run_worker(spec, timeout)
        if rc not in (0, None) and stderr:
            log.warning("crawl process exited with %s: %s", rc, stderr[-500:])
        _collect(Path(tmp), [j["site"] for j in jobs], rc, stderr, report)


# ------------------------------------------------------------------ crawl
def crawl(ws, sites: list[str] | None = None, keywords: list[str] | None = None, max_pages: int | None = None,
          base_urls: dict[str, str] | None = None, *, screenshots: bool | None = None, timeout: float | None = None,
          settings: dict[str, Any] | None = None, verbose: bool = False) -> CrawlReport:
    """Crawl the given sites (default: ``collect.sites``, else every profile) into the workspace."""
    from .settings import crawl_settings

    t0 = time.monotonic()
    report = CrawlReport()
    names = list(sites or ws.config.get("collect.sites") or list_profiles(ws))
    if not names:
        raise InputError("no site to crawl")
    bases = {**configured_base_urls(ws), **(base_urls or {})}
    keywords = [k for k in (keywords or ws.config.get("collect.keywords") or []) if k.strip()] or None
    pages = int(max_pages or ws.config.get("collect.max_pages", 3))
    if pages < 1:
        raise InputError("--max-pages must be at least 1")
    shots = bool(ws.config.get("collect.screenshots", True)) if screenshots is None else screenshots
    profiles: dict[str, Profile] = {}
    for name in names:
        try:
            p = load_profile(name, ws)
        except VeilleError as exc:
            report.sites[name] = SiteResult(name, status="failed", error=str(exc))
            continue
        profiles[name] = p.with_base(bases.get(name)) if bases.get(name) else p
    need_js = any(p.javascript for p in profiles.values())
    pw, shots, browser_error = _browser(ws, need_js, shots, report.warnings)
    jobs = []
    for name, p in profiles.items():
        if p.javascript and browser_error:
            report.sites[name] = SiteResult(name, status="failed", error=f"needs JavaScript: {browser_error}")
            continue
        s = crawl_settings(ws.root, ws.config, p, {**pw, "VEILLE_SCREENSHOTS": shots, **(settings or {})})
        args = {"profile": str(p.path) if p.path and p.path.parent == ws.path("profiles") else p.name,
                "keywords": keywords, "max_pages": pages, "base_url": p.base_override}
        jobs.append({"site": name, "spider": _spider_path(p), "settings": s, "args": args})
    _execute(ws, jobs, report, timeout, verbose)
    for r in report.sites.values():
        r.results = []  # per-ad outcomes only matter to recheck(); keep the crawl report small
    report.seconds = time.monotonic() - t0
    return report


# ------------------------------------------------------------------ recheck
def _profile_for_platform(ws, platform: str) -> Profile | None:
    for name in list_profiles(ws):
        try:
            p = load_profile(name, ws)
        except VeilleError:
            continue
        if p.platform == platform or p.name == platform:
            return p
    return None


def _site_key(platform: str, taken: set[str]) -> str:
    """A site name (report file, ``runs.source``) for the page checks of a platform with no profile."""
    import re

    base = re.sub(r"[^a-z0-9_]+", "_", platform.lower()).strip("_")[:30] or "site"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def _route_removed_markers(ws, platform: str) -> list[str]:
    """The platform's "ad removed" texts from the drafting routes (the notice recipients' table), if any."""
    try:
        from storage.drafting import find_route, load_routes

        return [str(m) for m in (find_route(load_routes(ws), platform).get("removed_markers") or [])]
    except Exception:  # noqa: BLE001 - no route for this platform: statuses only
        return []


def recheck(ws, post_ids: list[int], *, timeout: float | None = None, settings: dict[str, Any] | None = None,
            base_urls: dict[str, str] | None = None) -> list[dict]:
    """Re-fetch known posts through their site's spider; record live / changed / removed with a new capture.

    Posts of a platform that no profile describes go through the ``page_check`` spider (same Scrapy settings:
    user agent, robots.txt, delays, retries): live or changed by how much of the stored text is still on the page,
    removed on 404/410 or the platform's "removed" text, blocked on a challenge page.
    """
    from storage.crawl_state import posts_for_recheck

    from .settings import crawl_settings

    posts = posts_for_recheck(ws, [int(p) for p in post_ids])
    out: list[dict] = []
    by_site: dict[str, tuple[Profile, list[dict]]] = {}
    no_profile: dict[str, list[dict]] = {}
    bases = {**configured_base_urls(ws), **(base_urls or {})}
    for p in posts:
        if not (p["url"] or "").startswith(("http://", "https://")):
            out.append({"post_id": p["id"], "url": p["url"], "outcome": "error", "http_status": None,
                        "capture_id": None, "note": "no http(s) URL to re-check"})
            continue
        prof = _profile_for_platform(ws, p["platform"])
        if prof is None:  # a site no profile describes: its pages are checked by the page_check spider
            no_profile.setdefault(p["platform"], []).append({"url": p["url"], "post_id": p["id"]})
            continue
        by_site.setdefault(prof.name, (prof, []))[1].append({"url": p["url"], "post_id": p["id"]})
    warnings: list[str] = []
    need_js = any(prof.javascript for prof, _ in by_site.values())
    pw, _, browser_error = _browser(ws, need_js, False, warnings)
    jobs = []
    for name, (prof, urls) in by_site.items():
        base = bases.get(name)
        host = urlsplit(urls[0]["url"])
        if not base and host.hostname not in prof.allowed_hosts and not any(
                (host.hostname or "").endswith("." + h) for h in prof.allowed_hosts):
            base = f"{host.scheme}://{host.netloc}"  # posts collected from a mirror / the demo site
        if base:
            prof = prof.with_base(base)
        if prof.javascript and browser_error:
            out += [{"post_id": u["post_id"], "url": u["url"], "outcome": "error", "http_status": None,
                     "capture_id": None, "note": browser_error} for u in urls]
            continue
        s = crawl_settings(ws.root, ws.config, prof, {**pw, "VEILLE_SCREENSHOTS": False, "JOBDIR": None,
                                                      "VEILLE_RUN_KIND": "recheck", "VEILLE_SKIP_SEEN": False,
                                                      **(settings or {})})
        jobs.append({"site": name, "spider": _spider_path(prof), "settings": s,
                     "args": {"profile": prof.name, "urls": urls, "base_url": prof.base_override}})
    checks = {}
    for platform, urls in no_profile.items():
        site = _site_key(platform, set(by_site) | set(checks))
        checks[site] = urls
        s = crawl_settings(ws.root, ws.config, None, {"VEILLE_SCREENSHOTS": False, "JOBDIR": None,
                                                      "VEILLE_RUN_KIND": "recheck", "VEILLE_SKIP_SEEN": False,
                                                      **(settings or {})})
        jobs.append({"site": site, "spider": "spiders.sites.page_check:PageCheckSpider", "settings": s,
                     "args": {"urls": urls, "site": site, "platform": platform,
                              "removed_markers": _route_removed_markers(ws, platform)}})
    report = CrawlReport()
    _execute(ws, jobs, report, timeout)
    for name, urls in [*((n, u) for n, (_, u) in by_site.items()), *checks.items()]:
        res = report.sites.get(name)
        got = {r["post_id"]: r for r in (res.results if res else []) if r.get("post_id")}
        for u in urls:
            r = got.get(u["post_id"])
            if r is None:
                r = {"post_id": u["post_id"], "url": u["url"], "outcome": "error", "http_status": None,
                     "capture_id": None, "note": (res.error if res else None) or "no answer recorded"}
            out.append({k: r.get(k) for k in ("post_id", "url", "outcome", "http_status", "capture_id", "note")})
    return out


# ------------------------------------------------------------------ saved pages
@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)

    @property
    def items(self) -> int:
        return self.imported + self.updated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _guess_profile(ws, path: Path) -> Profile:
    head = path.read_bytes()[:400_000].decode("utf-8", "replace").lower()
    for name in list_profiles(ws):
        p = load_profile(name, ws)
        hosts = {urlsplit(p.base_url).hostname or "", *p.hosts}
        if any(h and h in head for h in hosts):
            return p
    raise InputError(f"{path.name}: cannot tell which site it was saved from: pass --profile NAME")


def import_html(ws, paths: list[Path | str], profile: str | None = None, url: str | None = None) -> ImportReport:
    """Parse pages saved from a browser with a profile and store them as evidence (capture kind ``import``)."""
    from storage.evidence import sha256_bytes
    from storage.ingest import ingest

    from .items import PageEvidence

    rep = ImportReport()
    prof = load_profile(profile, ws) if profile else None
    max_bytes = int(ws.config.get("collect.max_page_bytes", 25_000_000))
    for raw in paths:
        path = Path(raw)
        try:
            if not path.is_file():
                raise InputError(f"{path}: no such file")
            p = prof or _guess_profile(ws, path)
            from .profile import parse_saved_page

            page, parsed = parse_saved_page(p, path, url=url, max_bytes=max_bytes)
            if not (parsed.post.title or parsed.post.text):
                raise InputError(f"{path.name}: no ad found with profile {p.name} "
                                 f"(check it with `veille profile test {p.name} {path}`)")
            if not parsed.post.external_id and page.url.startswith("file://"):
                parsed.post.external_id = "sha256:" + sha256_bytes(page.raw)[:24]
            ev = PageEvidence(url=page.url, final_url=page.url, status=None, headers={}, body=page.raw,
                              via="import")
            cap = ev.to_capture(kind="import", note=f"saved page {path.name} imported with profile {p.name}",
                                capture_key=f"import:{sha256_bytes(page.raw)}",
                                extra={"file": path.name, "profile": p.name, "missing_fields": parsed.missing})
            cap.method = None
            parsed.post.extra["imported_from"] = path.name
            res = ingest(ws, parsed.post, cap)
            rep.posts.append(res.save.post_id)
            if res.save.created:
                rep.imported += 1
            elif res.save.changed:
                rep.updated += 1
            else:
                rep.unchanged += 1
        except VeilleError as exc:
            rep.failed.append((str(path), str(exc)))
        except OSError as exc:
            rep.failed.append((str(path), f"{type(exc).__name__}: {exc}"))
    return rep


def profile_test(profile: str, path: Path | str, url: str | None = None, ws=None) -> dict[str, Any]:
    """Which fields a profile finds in a saved page (and from which source), and which it misses."""
    from .profile import EXPECTED, FIELDS, ad_links, parse_saved_page

    p = load_profile(profile, ws)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    page, parsed = parse_saved_page(p, path, url=url)
    post = parsed.post
    values = {"external_id": post.external_id, "title": post.title, "text": post.text, "price": post.price,
              "currency": post.currency, "author": post.author, "author_handle": post.author_handle,
              "author_url": post.author_url, "posted_at": post.posted_at.isoformat() if post.posted_at else None,
              "location": post.extra.get("location"), "images": parsed.image_urls, "phone": post.extra.get("phone")}
    fields = []
    for f in FIELDS:
        v = values.get(f)
        shown = v if not isinstance(v, str) else (v[:120] + ("…" if len(v) > 120 else ""))
        fields.append({"field": f, "found": f in parsed.found, "source": parsed.found.get(f),
                       "value": shown, "expected": f in EXPECTED, "configured": f in p.fields})
    links = ad_links(p, page)
    return {"profile": p.name, "file": str(path), "url": page.url, "written_on": p.written_on,
            "fields": fields, "missing": parsed.missing, "ad_links": links[:50], "ad_links_count": len(links)}


# ------------------------------------------------------------------ child process
def _load_class(path: str):
    import importlib

    mod, _, name = path.partition(":")
    return getattr(importlib.import_module(mod), name)


def quiet_loggers(level: str) -> None:
    """Give Scrapy's and veille's loggers the crawl's log level.

    Scrapy sets the root logger to NOTSET (again when each crawler starts) and filters in its handler, so
    every DEBUG message of the engine ("Crawled (200) …", "Scraped from …", two or more per page) built a
    LogRecord that the handler then dropped. A level on the ``scrapy`` and ``veille`` loggers stops them
    before that; what reaches the handler, and the ``log_count/*`` stats, are the same."""
    for name in ("scrapy", "veille"):
        logging.getLogger(name).setLevel(level)


def worker(spec_path: str) -> int:
    """Run the jobs of a spec file in one CrawlerProcess (child process entry point)."""
    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.settings import Settings

    spec = json.loads(Path(spec_path).read_text("utf-8"))
    report_dir = Path(spec["report_dir"])
    base = Settings()
    base.setmodule("spiders.settings", priority="project")
    base.set("LOG_LEVEL", "INFO" if spec.get("verbose") else "WARNING", priority="cmdline")
    process = CrawlerProcess(base, install_root_handler=True)
    quiet_loggers(base.get("LOG_LEVEL"))

    def failed(failure, site):
        msg = f"{type(failure.value).__name__}: {failure.getErrorMessage()}"
        f = report_dir / f"{site}.json"
        if not f.exists():
            f.write_text(json.dumps({"site": site, "status": "failed", "error": msg[:1000]}), "utf-8")
        sys.stderr.write(f"site {site} failed: {msg}\n")

    first = True
    for job in spec["jobs"]:
        s = base.copy()
        s.setdict({k: v for k, v in job["settings"].items() if v is not None}, priority="cmdline")
        if job["settings"].get("JOBDIR", "") is None:
            s.set("JOBDIR", None, priority="cmdline")
        s.set("VEILLE_REPORT_DIR", str(report_dir), priority="cmdline")
        try:
            cls = _load_class(job["spider"])
            crawler = Crawler(cls, s, init_reactor=first)  # the first crawler installs the asyncio reactor
            first = False
            process._initialized_reactor = True
            d = process.crawl(crawler, **{k: v for k, v in job["args"].items() if v is not None})
            d.addErrback(failed, job["site"])
        except Exception as exc:  # noqa: BLE001 - one site's failure stops no other
            (report_dir / f"{job['site']}.json").write_text(
                json.dumps({"site": job["site"], "status": "failed", "error": f"{type(exc).__name__}: {exc}"}),
                "utf-8")
    from .gcpolicy import settle
    from .writer import close_writer, writer
    from .wsstate import close_all

    writer().start()  # the writer process imports and compiles the matchers while the reactor starts
    settle()  # Scrapy, the spiders and their settings stay for the whole crawl: out of the collector's way
    process.start()
    close_writer()  # everything handed to the writer is committed before the report is read
    close_all()
    if os.environ.get("VEILLE_CPU_REPORT"):  # benchmarks: CPU of the crawl process and of its storage writer
        t = os.times()
        with open(os.environ["VEILLE_CPU_REPORT"], "a", encoding="utf-8") as fh:
            import gc

            fh.write(json.dumps({"crawl_cpu_s": round(t.user + t.system, 2),
                                 "writer_cpu_s": round(t.children_user + t.children_system, 2),
                                 "gc_thresholds": list(gc.get_threshold()), "gc_frozen": gc.get_freeze_count()})
                     + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        sys.exit(worker(sys.argv[2]))
    sys.stderr.write("usage: python -m spiders.run worker SPEC.json\n")
    sys.exit(2)
