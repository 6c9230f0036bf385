"""The t.me/s spider: public Telegram channels, no account.

``scrapy crawl tme -a channels=chan1,chan2 [-a max_pages=5] [-a base_url=http://127.0.0.1:8000]``

For each channel it reads ``https://t.me/s/<channel>`` and goes back in
history through the ``?before=<id>`` links, up to ``max_pages`` pages. Every
message becomes an :class:`~spiders.items.AdItem` (a ``Post`` built by
:func:`telegram_watch.preview.parse_channel_page`) carrying the raw page as
evidence; the pipelines classify and store. A channel that does not exist or
is private (Telegram redirects to the t.me landing page, with no message
history) gives a :class:`~spiders.items.FetchErrorItem` that says so.

``base_url`` replaces ``https://t.me`` (tests and ``veille demo`` serve fixture
pages from 127.0.0.1). The spider parses and yields; it never touches the database.
"""

from __future__ import annotations

from typing import Any

import scrapy

from telegram_watch.preview import TME, normalise_channel, parse_channel_page

from ..items import AdItem, FetchErrorItem, PageEvidence


class TmeSpider(scrapy.Spider):
    name = "tme"
    platform = "telegram"
    site = "telegram"
    custom_settings = {"DOWNLOAD_DELAY": 3.0, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}

    def __init__(self, channels: Any = None, max_pages: Any = None, base_url: str | None = None,
                 workspace: str | None = None, **kw):
        super().__init__(**kw)
        if isinstance(channels, str):
            channels = [c for c in channels.split(",") if c.strip()]
        self.channels = [normalise_channel(c) for c in (channels or [])]
        self.max_pages = max(1, int(max_pages or 3))
        self.base = (base_url or TME).rstrip("/")

    async def start(self):
        for ch in self.channels:
            yield self._request(ch, None, 1)

    def _request(self, channel: str, before: int | None, page: int) -> scrapy.Request:
        url = f"{self.base}/s/{channel}" + (f"?before={before}" if before else "")
        return scrapy.Request(url, callback=self.parse, errback=self.errback, dont_filter=False,
                              meta={"veille_channel": channel, "veille_page": page,
                                    # redirects are followed (t.me sends unknown names to its landing page)
                                    "handle_httpstatus_list": [400, 403, 404, 410, 429, 500, 502, 503]})

    def parse(self, response):
        channel = response.meta["veille_channel"]
        page_no = response.meta["veille_page"]
        ev = PageEvidence.from_response(response)
        if response.status != 200:
            hint = " (the channel does not exist or is private)" if response.status in (404, 410) else ""
            yield FetchErrorItem(site=self.site, url=response.url,
                                 error=f"t.me/s/{channel}: HTTP {response.status}{hint}")
            return
        page = parse_channel_page(response.body, url=response.url, channel=channel)
        if page.not_found or (not page.posts and page_no == 1 and page.before is None):
            msg = (f"Telegram channel {channel!r} does not exist, is private, or has no public preview "
                   f"(no message history at {response.url})")
            self.logger.warning(msg)
            yield FetchErrorItem(site=self.site, url=response.url, error=msg)
            return
        info = page.info.to_dict()
        for post in page.posts:
            post.extra["channel_info"] = info
            # the screenshot is of the message alone (its embed view), on the server the spider crawls
            shot = f"{self.base}/{channel}/{post.extra['message_id']}?embed=1" if post.extra.get("message_id") \
                else None
            yield AdItem(site=self.site, post=post, evidence=ev, screenshot_url=shot,
                         image_urls=[m["url"] for m in post.media if m.get("kind") == "photo" and m.get("url")])
        if page.before and page_no < self.max_pages and page.posts:
            oldest = min(int(p.extra["message_id"]) for p in page.posts)
            if page.before <= oldest:  # only ever go back in history
                yield self._request(channel, page.before, page_no + 1)

    def errback(self, failure):
        req = failure.request
        yield FetchErrorItem(site=self.site, url=req.url, error=f"{type(failure.value).__name__}: {failure.value}")
