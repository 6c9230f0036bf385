"""The scheduler's disk queue of a crawl with a JOBDIR (``SCHEDULER_DISK_QUEUE``).

:class:`BufferedLifoDiskQueue` (the one ``spiders.settings`` names) keeps a crawl's requests in memory while it
runs and writes them to its :class:`LifoDiskQueue` file when the crawl closes -- finished, stopped by Ctrl-C or
SIGTERM, or timed out -- and when more than ``MEMORY_MAX`` wait (the oldest half goes to disk, so memory stays
bounded). Scrapy's own disk queue writes every request when it is scheduled and reads it back, rebuilding the
``Request`` (its URL escaped again, its headers copied), when it is downloaded: 3.5 % of the crawl process's
instructions (``bench/crawl_icount.py --set '{"JOBDIR": null}'``), ~6 % of its py-spy samples, for nothing, because what a JOBDIR resumes from is only ever written at close: Scrapy records which queues hold
requests (``active.json``), and queuelib the number of requests in each file, only then. A killed crawl resumes
from no queue either way (its pages are fetched again by the next run, and what was stored is skipped). The order
of the requests is the one Scrapy's LIFO queue gives, written or not; a JOBDIR written by either queue resumes
with the other.

:class:`LifoDiskQueue` is the file format: Scrapy's ``PickleLifoDiskQueue`` writes each request as ``Request.to_dict(spider=...)``, which finds
the callback's and errback's names with ``inspect.getmembers`` over the whole spider, for every
request: about 70 µs, a few per cent of a crawl's CPU (py-spy). This queue asks Scrapy once per pair
of spider methods and remembers the names; the dictionary written is the one ``Request.to_dict``
gives (tested), so a JOBDIR written by either queue resumes with the other. Requests whose callback
or errback is not a method of the spider (or ``None``), and request classes with their own
``to_dict``, go through ``Request.to_dict`` as before (which refuses what it cannot name, and the
scheduler then keeps that request in memory, as Scrapy does).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.squeues import PickleLifoDiskQueue

log = logging.getLogger("veille.spiders.squeues")

_UNNAMED = object()


class LifoDiskQueue(PickleLifoDiskQueue):
    def __init__(self, crawler, key: str):
        super().__init__(crawler, key)
        self._names: dict[tuple[Any, Any], tuple[Any, Any]] = {}

    def _key(self, f) -> Any:
        """What identifies a callback or errback: the spider method's function, or None."""
        if f is None:
            return None
        func = getattr(f, "__func__", None)
        if func is None or getattr(f, "__self__", None) is not self.spider:
            return _UNNAMED
        return func

    def to_dict(self, request: Request) -> dict[str, Any]:
        key = (self._key(request.callback), self._key(request.errback))
        if _UNNAMED in key or type(request).to_dict is not Request.to_dict:
            return request.to_dict(spider=self.spider)
        names = self._names.get(key)
        if names is None:
            d = request.to_dict(spider=self.spider)  # Scrapy names them (and raises if it cannot)
            self._names[key] = (d["callback"], d["errback"])
            return d
        d = {"url": request.url, "callback": names[0], "errback": names[1], "headers": dict(request.headers)}
        for attr in request.attributes:
            d.setdefault(attr, getattr(request, attr))
        if type(request) is not Request:
            d["_class"] = request.__module__ + "." + request.__class__.__name__
        return d

    def push(self, request: Request) -> None:
        # PickleLifoDiskQueue's own push would call request.to_dict; its parent pickles and writes the dict
        super(PickleLifoDiskQueue, self).push(self.to_dict(request))


class BufferedLifoDiskQueue:
    """A LIFO queue of requests in memory, written to a :class:`LifoDiskQueue` file when it closes (see above)."""

    #: Requests kept in memory per queue; beyond this the oldest half is written to the file.
    MEMORY_MAX = 10_000

    def __init__(self, crawler, key: str):
        self.crawler = crawler
        self.disk = LifoDiskQueue(crawler, key)  # the requests below the others (a resumed JOBDIR's, spills)
        self.held: list[Request] = []  # requests a spill could not write (above the file's, below memory's)
        self.mem: list[Request] = []

    @classmethod
    def from_crawler(cls, crawler, key: str):
        return cls(crawler, key)

    def push(self, request: Request) -> None:
        self.mem.append(request)
        if len(self.mem) > self.MEMORY_MAX:
            self.held += self._write(self.mem[: len(self.mem) // 2])
            del self.mem[: len(self.mem) // 2]

    def pop(self) -> Request | None:
        if self.mem:
            return self.mem.pop()
        if self.held:
            return self.held.pop()
        return self.disk.pop()

    def peek(self) -> Request | None:
        if self.mem:
            return self.mem[-1]
        if self.held:
            return self.held[-1]
        return self.disk.peek()

    def __len__(self) -> int:
        return len(self.mem) + len(self.held) + len(self.disk)

    def _write(self, requests: list[Request]) -> list[Request]:
        """Write requests to the file, above those already there; those that cannot be written are returned (a
        callback that is not a spider method, an unpicklable meta value): Scrapy's scheduler keeps such requests
        in memory, and loses them at close, and so does this queue."""
        refused = []
        for r in requests:
            try:
                self.disk.push(r)
            except ValueError as exc:
                refused.append(r)
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("scheduler/unserializable")
                log.warning("request not written to the JOBDIR queue: %s: %s", r.url, exc)
        return refused

    def close(self) -> None:
        lost = len(self.held) + len(self._write(self.mem))
        if lost:
            log.warning("%d request(s) that cannot be serialized are not kept for the next run", lost)
        self.mem.clear()
        self.held.clear()
        self.disk.close()
