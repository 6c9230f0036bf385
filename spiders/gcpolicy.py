"""How the crawl's two processes run Python's cyclic garbage collector.

A crawl allocates container objects at a high rate (Deferreds, coroutines and
asyncio tasks, requests, responses, selectors, items), and most of them live
until their page is stored. With CPython's default thresholds (700, 10, 10) the
collector ran about every third ad page, and about every 350 pages it went over
the whole heap of the imported packages as well: measured over a 5,000-ad crawl of
the benchmark's site, 1,714 young, 156 middle and 14 full collections took
2.5 CPU-seconds, about an eighth of the crawl process's CPU time.

:func:`settle` is called once a process has imported and built what it keeps
for its whole life (Scrapy and its crawlers; the writer's compiled lexicon):
``gc.freeze()`` moves those objects out of the collector's generations, so no
collection looks at them again, and the young generation's threshold is raised
so a collection comes every 50,000 net new objects instead of 700. Cycles are
still collected (the same 5,000 ads: 5 young collections, 0.25 CPU-second);
the price is memory, the garbage that waits for the next collection (the
crawl process peaked at 131 MB instead of 112 MB in that run).

Only the processes veille starts use this (``spiders.run worker`` and
``spiders.writer``); ``scrapy crawl`` run by hand keeps Python's defaults.
``VEILLE_GC_DEFAULTS=1`` in the environment turns it off.
"""

from __future__ import annotations

import gc
import os

#: (young, middle, old) thresholds, see :func:`gc.set_threshold`.
THRESHOLDS = (50_000, 50, 100)


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> bool:
    """Freeze what the process holds now and raise the collector's thresholds; False when turned off."""
    if os.environ.get("VEILLE_GC_DEFAULTS", "") not in ("", "0"):
        return False
    gc.freeze()
    gc.set_threshold(*thresholds)
    return True
