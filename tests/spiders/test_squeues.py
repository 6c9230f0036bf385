"""The JOBDIR disk queue writes what Scrapy's own would, and reads it back."""

import pytest
import scrapy
from scrapy.http import FormRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.squeues import PickleLifoDiskQueue
from scrapy.utils.test import get_crawler

from spiders.squeues import LifoDiskQueue


class Site(scrapy.Spider):
    name = "site"

    def parse_list(self, response):
        pass

    def parse_ad(self, response):
        pass

    def failed(self, failure):
        pass

    alias_of_parse_ad = parse_ad  # two names for one method: Scrapy's choice must be kept


def _requests(spider):
    return [
        scrapy.Request("http://127.0.0.1/ad/1", callback=spider.parse_ad, meta={"veille_kind": "ad"}, priority=3),
        scrapy.Request("http://127.0.0.1/ad/2", callback=spider.parse_ad, errback=spider.failed, dont_filter=True,
                       cb_kwargs={"k": 1}, headers={"X-A": "1"}),
        scrapy.Request("http://127.0.0.1/list?p=2", callback=spider.parse_list),
        scrapy.Request("http://127.0.0.1/robots.txt"),  # no callback
        scrapy.Request("http://127.0.0.1/ad/3", callback=spider.alias_of_parse_ad),
        FormRequest("http://127.0.0.1/search", formdata={"q": "rdv"}, callback=spider.parse_list),
        scrapy.Request("http://127.0.0.1/ad/1", callback=spider.parse_ad, meta={"veille_kind": "ad"}, priority=3),
    ]


@pytest.fixture()
def queue(tmp_path):
    crawler = get_crawler(Site)
    crawler.spider = Site.from_crawler(crawler)
    q = LifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    yield q
    q.close()


def test_written_dicts_are_scrapys(queue):
    spider = queue.spider
    for r in _requests(spider) * 2:  # the second round uses the remembered names
        assert queue.to_dict(r) == r.to_dict(spider=spider)
    assert len(queue._names) == 4  # (parse_ad, -), (parse_ad, failed), (parse_list, -), (-, -)


def test_round_trip_and_scrapys_refusals(queue, tmp_path):
    spider = queue.spider
    reqs = _requests(spider)
    for r in reqs:
        queue.push(r)
    out = [queue.pop() for _ in reqs][::-1]  # LIFO
    for a, b in zip(reqs, out, strict=True):
        assert (b.url, b.callback, b.errback, b.meta, b.priority, b.dont_filter, type(b), b.body) == \
            (a.url, a.callback, a.errback, a.meta, a.priority, a.dont_filter, type(a), a.body)
    assert queue.pop() is None
    for bad in (scrapy.Request("http://127.0.0.1/x", callback=lambda r: None),
                scrapy.Request("http://127.0.0.1/x", callback=NO_CALLBACK)):
        with pytest.raises(ValueError):  # as Scrapy's queue: the scheduler keeps such requests in memory
            queue.push(bad)
    # a queue written by Scrapy's own class reads back with this one, and the other way round
    crawler = queue.spider.crawler
    theirs = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "theirs"))
    theirs.push(reqs[1])
    theirs.close()
    mine = LifoDiskQueue.from_crawler(crawler, str(tmp_path / "theirs"))
    assert mine.pop().cb_kwargs == {"k": 1}
    mine.push(reqs[0])
    mine.close()
    again = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "theirs"))
    assert again.pop().meta == {"veille_kind": "ad"}
    again.close()



# ------------------------------------------------------------------ the buffered queue (the one the settings name)
@pytest.fixture()
def crawler():
    from spiders.squeues import BufferedLifoDiskQueue  # noqa: F401

    c = get_crawler(Site)
    c.spider = Site.from_crawler(c)
    return c


def _reqs(spider, n, start=0):
    return [scrapy.Request(f"http://127.0.0.1/ad/{i}", callback=spider.parse_ad, meta={"veille_kind": "ad", "i": i})
            for i in range(start, start + n)]


def test_buffered_queue_pops_in_the_order_of_scrapys_disk_queue(crawler, tmp_path):
    """Random pushes and pops, with spills to the file (a tiny memory limit): the same requests in the same
    order as Scrapy's own LIFO disk queue."""
    import random

    from spiders.squeues import BufferedLifoDiskQueue

    rnd = random.Random(7)
    mine = BufferedLifoDiskQueue.from_crawler(crawler, str(tmp_path / "mine"))
    mine.MEMORY_MAX = 5
    theirs = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "theirs"))
    n = 0
    for _ in range(400):
        if rnd.random() < 0.6:
            for r in _reqs(crawler.spider, rnd.randint(1, 4), n):
                mine.push(r)
                theirs.push(r)
                n += 1
        else:
            a, b = mine.pop(), theirs.pop()
            assert (a is None) == (b is None)
            if a is not None:
                assert (a.url, a.meta, a.callback) == (b.url, b.meta, b.callback)
        assert len(mine) == len(theirs)
        if len(mine) and rnd.random() < 0.2:  # what pop will give (queuelib's own peek fails after some pops)
            assert mine.peek().url == (_nxt := theirs.pop()).url
            theirs.push(_nxt)
    assert len(mine.disk) > 0  # the limit made it write
    mine.close()
    theirs.close()


def test_buffered_queue_writes_its_requests_at_close_and_resumes_from_them(crawler, tmp_path):
    from spiders.squeues import BufferedLifoDiskQueue

    q = BufferedLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    for r in _reqs(crawler.spider, 30):
        q.push(r)
    assert not (tmp_path / "q").stat().st_size > 4  # nothing written while it runs (only the file's header)
    q.close()
    again = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))  # Scrapy's own reads it
    assert [again.pop().meta["i"] for _ in range(3)] == [29, 28, 27]
    again.close()
    mine = BufferedLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    assert len(mine) == 27
    mine.push(_reqs(crawler.spider, 1, 100)[0])
    assert [mine.pop().meta["i"] for _ in range(28)] == [100, *range(26, -1, -1)]
    assert mine.pop() is None
    mine.close()
    assert not (tmp_path / "q").exists()  # an empty queue leaves no file, as queuelib's


def test_a_request_that_cannot_be_written_stays_in_memory_and_is_counted_at_close(crawler, tmp_path):
    from spiders.squeues import BufferedLifoDiskQueue

    q = BufferedLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    q.MEMORY_MAX = 3
    odd = scrapy.Request("http://127.0.0.1/odd", callback=lambda r: None)
    reqs = _reqs(crawler.spider, 2) + [odd] + _reqs(crawler.spider, 5, 2)
    for r in reqs[:6]:  # two spills: the first writes ad/0 and ad/1, the second refuses odd and writes ad/2
        q.push(r)
    assert q.held == [odd] and crawler.stats.get_value("scheduler/unserializable") == 1
    assert [r.url for r in q.mem] == [reqs[4].url, reqs[5].url] and len(q) == 6
    assert q.pop() is reqs[5] and q.pop() is reqs[4] and q.pop() is odd  # memory, then held, then the file
    assert q.pop().url == reqs[3].url
    for r in reqs[:1] + reqs[6:] + [odd]:  # a third spill writes ad/0 and ad/5
        q.push(r)
    assert len(q) == 6
    q.close()  # ad/6 is written, odd is lost (counted once more: it was refused again)
    assert crawler.stats.get_value("scheduler/unserializable") == 2
    again = BufferedLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    assert [again.pop().url.rsplit("/", 1)[1] for _ in range(5)] == ["6", "5", "0", "1", "0"]
    assert again.pop() is None
    again.close()


def test_scrapys_jobdir_keeps_nothing_of_a_killed_crawl(crawler, tmp_path):
    """Why writing at close loses nothing: Scrapy's own disk queue records how many requests its file holds only
    when it closes, so a queue that was never closed (a killed crawl) reads back empty."""
    q = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    for r in _reqs(crawler.spider, 5):
        q.push(r)
    q.f.flush()  # every request is in the file ...
    again = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    assert len(again) == 0 and again.pop() is None  # ... and none is read back


def test_the_scheduler_resumes_a_closed_crawls_requests_from_the_jobdir(tmp_path):
    """Scrapy's scheduler with veille's settings and a JOBDIR: requests scheduled, the crawl closed, a new
    scheduler on the same JOBDIR hands them all back."""
    from types import SimpleNamespace

    from scrapy.core.scheduler import Scheduler
    from scrapy.utils.misc import build_from_crawler

    from spiders import settings as vs

    def open_scheduler():
        c = get_crawler(Site, {"JOBDIR": str(tmp_path / "job"), "SCHEDULER_DISK_QUEUE": vs.SCHEDULER_DISK_QUEUE,
                               "DUPEFILTER_CLASS": vs.DUPEFILTER_CLASS})
        c.spider = Site.from_crawler(c)
        # Scrapy's default priority queue asks the downloader which site has the fewest downloads running
        c.engine = SimpleNamespace(downloader=SimpleNamespace(slots={}, get_slot_key=lambda r: "127.0.0.1"))
        s = build_from_crawler(Scheduler, c)
        s.open(c.spider)
        return c, s

    c, s = open_scheduler()
    for r in _reqs(c.spider, 40) + [scrapy.Request("http://127.0.0.1/list?p=2", callback=c.spider.parse_list,
                                                   priority=5)]:
        assert s.enqueue_request(r)
    assert s.next_request().url.endswith("p=2")  # priority first
    got = [s.next_request().meta["i"] for _ in range(10)]
    s.close("shutdown")
    c2, s2 = open_scheduler()
    rest = []
    while (r := s2.next_request()) is not None:
        rest.append(r.meta["i"])
        assert r.callback == c2.spider.parse_ad
    s2.close("finished")
    assert sorted(got + rest) == list(range(40)) and len(rest) == 30
