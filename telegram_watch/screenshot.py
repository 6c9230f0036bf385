"""Screenshots of public Telegram messages, for the t.me/s crawl (``veille daily``).

Like the classifieds' screenshots (``spiders.pipelines.ScreenshotPipeline``):
a message classified positive gets a full-page PNG of its public page,
``https://t.me/<channel>/<id>?embed=1`` (the message alone, as Telegram
renders it), with a banner drawn on top showing the URL, the UTC capture time
and the HTTP status (Berkeley Protocol). It is stored as a ``screenshot``
capture of the post. Chromium is the one of ``collect.chromium`` /
``$VEILLE_CHROMIUM`` / ``/usr/bin/chromium``, driven through Playwright's
synchronous API, started on the first screenshot of a run and closed at its end.

A page that does not answer 200 is not stored as a screenshot (a picture of an
error page proves nothing about the message): the caller records the error.
"""

from __future__ import annotations

from typing import Any

from storage.errors import ConfigError, SourceError
from storage.post import iso, utcnow
from storage.posts import Artifact, Capture

NAV_TIMEOUT_MS = 30_000


class Screenshotter:
    """One headless Chromium for a run; :meth:`take` returns a screenshot Capture (or raises SourceError)."""

    def __init__(self, user_agent: str, chromium: str | None = None, viewport_width: int = 720):
        self.user_agent = user_agent
        self.chromium = chromium
        self.viewport_width = viewport_width
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None

    @classmethod
    def from_config(cls, config, user_agent: str) -> Screenshotter:
        return cls(user_agent, chromium=config.get("collect.chromium") or None)

    def _start(self) -> None:
        if self._context is not None:
            return
        from playwright.sync_api import sync_playwright

        from spiders.settings import PLAYWRIGHT_ARGS, find_chromium

        exe = find_chromium(self.chromium)  # ConfigError naming what to install
        self._pw = sync_playwright().start()
        try:
            launch: dict[str, Any] = {"headless": True, "args": list(PLAYWRIGHT_ARGS)}
            if exe:
                launch["executable_path"] = exe
            self._browser = self._pw.chromium.launch(**launch)
            self._context = self._browser.new_context(user_agent=self.user_agent,
                                                      viewport={"width": self.viewport_width, "height": 900})
        except Exception:
            self.close()
            raise

    def take(self, url: str, extra: dict[str, Any] | None = None) -> Capture:
        """Load ``url``, draw the banner, return the screenshot capture (not yet stored)."""
        from spiders.pipelines import BANNER_JS

        try:
            self._start()
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - Playwright/Chromium could not start
            raise ConfigError(f"cannot start Chromium for screenshots: {type(exc).__name__}: {exc}") from None
        page = self._context.new_page()
        try:
            try:
                resp = page.goto(url, wait_until="load", timeout=NAV_TIMEOUT_MS)
            except Exception as exc:  # noqa: BLE001 - timeouts, network errors
                raise SourceError(f"screenshot of {url}: {type(exc).__name__}: {str(exc)[:200]}") from None
            status = resp.status if resp is not None else None
            if status != 200:
                raise SourceError(f"screenshot of {url}: HTTP {status}, nothing stored")
            at = utcnow()
            banner = f"veille capture | {url} | {iso(at)} (UTC) | HTTP {status}"
            page.evaluate(BANNER_JS, [banner])
            png = page.screenshot(full_page=True, type="png")
            return Capture(kind="screenshot", url=url, final_url=page.url, http_status=status, fetched_at=at,
                           user_agent=self.user_agent, note=banner, tool="veille t.me/s",
                           artifacts=[Artifact(role="screenshot", data=png, mime="image/png", name="screenshot.png",
                                               extra={"banner": banner, "full_page": True})],
                           extra={"via": "tme_embed", "banner": banner, **(extra or {})})
        finally:
            try:
                page.close()
            except Exception:  # noqa: BLE001, S110 - the page is gone with the browser
                pass

    def close(self) -> None:
        for obj, meth in ((self._context, "close"), (self._browser, "close"), (self._pw, "stop")):
            if obj is not None:
                try:
                    getattr(obj, meth)()
                except Exception:  # noqa: BLE001, S110 - best effort at shutdown
                    pass
        self._pw = self._browser = self._context = None
