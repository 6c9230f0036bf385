"""Scrapy settings of the veille project.

``SCRAPY_SETTINGS_MODULE=spiders.settings scrapy list`` and ``scrapy crawl
leboncoin`` work as any Scrapy user expects (set ``VEILLE_WORKSPACE`` to the
workspace to store into). ``veille crawl`` builds the same settings from the
workspace's ``veille.toml`` with :func:`crawl_settings`; the mapping is:

==============================  ==============================================
``collect.user_agent``          ``USER_AGENT``
``collect.obey_robots``         ``ROBOTSTXT_OBEY`` (a profile may override it
                                only with ``robots_override = true`` and a
                                ``robots_override_reason``)
``collect.download_delay``      ``DOWNLOAD_DELAY`` / ``AUTOTHROTTLE_START_DELAY``
                                (the profile's own delay when larger)
``collect.concurrency_per_site`` ``CONCURRENT_REQUESTS_PER_DOMAIN`` (the
                                profile's own value when smaller)
``collect.max_page_bytes``      ``DOWNLOAD_MAXSIZE``
``collect.max_media_bytes``     ``VEILLE_MAX_MEDIA_BYTES``
``collect.screenshots``         ``VEILLE_SCREENSHOTS``
``collect.chromium``            ``PLAYWRIGHT_LAUNCH_OPTIONS.executable_path``
``collect.recapture_interval_hours`` ``VEILLE_RECAPTURE_HOURS``
``collect.http_cache``          ``HTTPCACHE_ENABLED`` (``.cache/http`` in the
                                workspace)
==============================  ==============================================
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from storage.errors import ConfigError

BOT_NAME = "veille"
SPIDER_MODULES = ["spiders.sites"]
NEWSPIDER_MODULE = "spiders.sites"

USER_AGENT = "veille/0.1 (+https://veille.example/contact; monitoring of document fraud)"
ROBOTSTXT_OBEY = True
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

CONCURRENT_REQUESTS = 16
# Scrapy starts CONCURRENT_ITEMS asyncio tasks per response; a result page yields at most ~50 requests and
# an ad page one item, so 100 (the default) only costs task churn.
CONCURRENT_ITEMS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 2.0
RANDOMIZE_DOWNLOAD_DELAY = True
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 25_000_000
DOWNLOAD_WARNSIZE = 10_000_000
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
COOKIES_ENABLED = False
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "fr-FR,fr;q=0.9,ar;q=0.6,en;q=0.5",
}

DUPEFILTER_CLASS = "spiders.middlewares.MemoryDupeFilter"
SCHEDULER_DISK_QUEUE = "spiders.squeues.BufferedLifoDiskQueue"  # written at close (and beyond 10,000 requests)
# Scrapy's check for a generator callback that returns a value reads the callback's source and parses it with
# ast for every response (its cache is keyed by the bound method, a new object each time): ~4 % of a crawl's CPU
# with the profile spider's long parse_ad. tests/spiders/test_spider_settings.py runs the same check on every veille
# spider's callbacks instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
SPIDER_MIDDLEWARES = {"spiders.middlewares.SeenUrlsMiddleware": 50}
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.DownloadOnceMiddleware": 40,
    "spiders.middlewares.BackoffMiddleware": 560,  # before RetryMiddleware (550) sees the response
    "spiders.middlewares.FetchTimeMiddleware": 990,
}
ITEM_PIPELINES = {
    "spiders.pipelines.MediaPipeline": 100,
    "spiders.pipelines.StoragePipeline": 300,
    "spiders.pipelines.ScreenshotPipeline": 500,
}
EXTENSIONS = {"spiders.pipelines.RunRecorder": 500}

# veille's own settings (read by the middlewares and pipelines through from_crawler()).
VEILLE_WORKSPACE = os.environ.get("VEILLE_WORKSPACE", "")
VEILLE_SCREENSHOTS = False  # `scrapy crawl` without a workspace config takes no screenshots
VEILLE_MAX_MEDIA_BYTES = 15_000_000
VEILLE_MAX_IMAGES_PER_AD = 8
VEILLE_DOWNLOAD_IMAGES = True
VEILLE_SKIP_SEEN = True
VEILLE_RECAPTURE_HOURS = 24.0
VEILLE_STORE_LISTINGS = True
VEILLE_REPORT_FILE = ""
VEILLE_BACKOFF_MAX = 60.0

PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", "--disable-quic"]
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}

CHROMIUM_HINT = ("install Debian's Chromium (`apt-get install chromium`, as root) or Playwright's own "
                 "(`playwright install chromium`), or set collect.chromium / $VEILLE_CHROMIUM to a Chromium binary")


def find_chromium(configured: str | None = None) -> str | None:
    """Chromium to drive: collect.chromium, $VEILLE_CHROMIUM, /usr/bin/chromium, then Playwright's own.

    Returns ``None`` for Playwright's own browser when one is installed; raises
    ConfigError naming what to install when there is none.
    """
    for cand in (configured, os.environ.get("VEILLE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if cand:
            if Path(cand).is_file() and os.access(cand, os.X_OK):
                return cand
            if cand in (configured, os.environ.get("VEILLE_CHROMIUM")):
                raise ConfigError(f"Chromium not found at {cand!r}: {CHROMIUM_HINT}")
    cache = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    if glob.glob(os.path.join(cache, "chromium*", "chrome-linux*", "chrome")) or glob.glob(
            os.path.join(cache, "chromium_headless_shell*", "*", "headless_shell")):
        return None
    raise ConfigError(f"no Chromium found for screenshots / JavaScript pages: {CHROMIUM_HINT}; "
                      "or set collect.screenshots = false")


def playwright_settings(chromium: str | None) -> dict[str, Any]:
    launch: dict[str, Any] = {"headless": True, "args": list(PLAYWRIGHT_ARGS)}
    if chromium:
        launch["executable_path"] = chromium
    return {"DOWNLOAD_HANDLERS": dict(PLAYWRIGHT_HANDLERS), "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
            "PLAYWRIGHT_BROWSER_TYPE": "chromium", "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT}


def crawl_settings(ws_root: str | Path, config, profile=None, overrides: dict[str, Any] | None = None) -> dict:
    """Scrapy settings for one site crawl of a workspace (values override this module's)."""
    c = config
    root = Path(ws_root)
    delay = float(c.get("collect.download_delay", DOWNLOAD_DELAY))
    conc = int(c.get("collect.concurrency_per_site", CONCURRENT_REQUESTS_PER_DOMAIN))
    obey = bool(c.get("collect.obey_robots", True))
    if profile is not None:
        if profile.download_delay is not None:
            delay = max(delay, float(profile.download_delay)) if not profile.base_override else delay
        if profile.concurrency:
            conc = min(conc, int(profile.concurrency)) if not profile.base_override else conc
        if profile.robots_override:
            obey = False
    s: dict[str, Any] = {
        "VEILLE_WORKSPACE": str(root),
        "USER_AGENT": c.get("collect.user_agent") or USER_AGENT,
        "ROBOTSTXT_OBEY": obey,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.01),
        "AUTOTHROTTLE_ENABLED": delay > 0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": max(conc, 1),
        "DOWNLOAD_MAXSIZE": int(c.get("collect.max_page_bytes", DOWNLOAD_MAXSIZE)),
        "DOWNLOAD_WARNSIZE": min(int(c.get("collect.max_page_bytes", DOWNLOAD_MAXSIZE)), DOWNLOAD_WARNSIZE),
        "VEILLE_MAX_MEDIA_BYTES": int(c.get("collect.max_media_bytes", VEILLE_MAX_MEDIA_BYTES)),
        "VEILLE_SCREENSHOTS": bool(c.get("collect.screenshots", True)),
        "VEILLE_RECAPTURE_HOURS": float(c.get("collect.recapture_interval_hours", 24)),
        "HTTPCACHE_ENABLED": bool(c.get("collect.http_cache", False)),
        "HTTPCACHE_DIR": str(root / ".cache" / "http"),
        "LOG_LEVEL": "WARNING",
    }
    if profile is not None:
        s["JOBDIR"] = str(root / "jobs" / profile.name)
    s.update(overrides or {})
    return s
