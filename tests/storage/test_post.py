from datetime import UTC, datetime

import pytest

from storage import InputError, Post


def test_from_dict_roundtrip():
    p = Post.from_dict({
        "platform": "leboncoin", "external_id": 42, "url": "https://www.leboncoin.example/ad/42",
        "title": "t", "text": "x", "price": 120, "currency": "EUR", "posted_at": "2026-01-02T03:04:05+01:00",
        "media": [{"url": "https://img.example/a.jpg", "kind": "photo"}], "extra": {"views": 3},
    })
    assert p.external_id == "42"
    assert p.posted_at == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    d = p.to_dict()
    assert d["posted_at"] == "2026-01-02T02:04:05Z"
    assert Post.from_dict(d).content_hash() == p.content_hash()
    assert p.dedupe_key() == "leboncoin:id:42"


def test_dedupe_key_falls_back_to_url():
    assert Post(platform="x", url="https://a.example/1").dedupe_key() == "x:url:https://a.example/1"


@pytest.mark.parametrize("data,msg", [
    ({}, "platform"),
    ({"platform": "x"}, "external_id"),
    ({"platform": "x", "external_id": "1", "price": "cheap"}, "price"),
    ({"platform": "x", "external_id": "1", "text": 5}, "text"),
    ({"platform": "x", "external_id": "1", "media": "a"}, "media"),
    ({"platform": "x", "external_id": "1", "posted_at": "yesterday"}, "posted_at"),
    ({"platform": "x", "external_id": "1", "bogus": 1}, "unknown field"),
    ([1, 2], "JSON object"),
])
def test_from_dict_rejects(data, msg):
    with pytest.raises(InputError, match=msg):
        Post.from_dict(data)
