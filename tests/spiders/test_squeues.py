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

