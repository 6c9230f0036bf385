"""The scheduler's disk queue of a crawl with a JOBDIR (``SCHEDULER_DISK_QUEUE``).

Scrapy's ``PickleLifoDiskQueue`` writes each request as ``Request.to_dict(spider=...)``, which finds
the callback's and errback's names with ``inspect.getmembers`` over the whole spider, for every
request: about 70 µs, a few per cent of a crawl's CPU (py-spy). This queue asks Scrapy once per pair
of spider methods and remembers the names; the dictionary written is the one ``Request.to_dict``
gives (tested), so a JOBDIR written by either queue resumes with the other. Requests whose callback
or errback is not a method of the spider (or ``None``), and request classes with their own
``to_dict``, go through ``Request.to_dict`` as before (which refuses what it cannot name, and the
scheduler then keeps that request in memory, as Scrapy does).
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.squeues import PickleLifoDiskQueue

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
