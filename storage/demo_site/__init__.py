"""The demo: fictional classifieds and Telegram pages served on 127.0.0.1.

``demo.toml`` holds every fictional record once; :mod:`.render` turns it into
pages in the style of each profiled site (leboncoin-like ``__NEXT_DATA__``,
vivastreet and jemepropose server-rendered markup, avito.ma JSON-LD, tayara
``__NEXT_DATA__`` + JSON-LD, ouedkniss GraphQL answers, t.me/s previews), and
:mod:`.server` serves them, one local port per site, so a spider's base URL can
be swapped for ``http://127.0.0.1:PORT``. :func:`demo_posts` gives the same
records as ``Post`` dicts (the JSONL version of the demo).
"""

from __future__ import annotations

from .data import DemoAd, DemoData, DemoMessage, demo_posts, load_demo, telegram_export_dir
from .server import DemoSite

__all__ = ["DemoAd", "DemoData", "DemoMessage", "DemoSite", "demo_posts", "load_demo", "telegram_export_dir"]
