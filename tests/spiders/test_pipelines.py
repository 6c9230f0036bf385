"""The pipelines' building blocks: the grouped database writer and the perceptual hash."""

from __future__ import annotations

import io
import threading

import pytest

from spiders.pipelines import DbWriter, perceptual_hash


def _count(ws, run_source):
    return ws.db.execute("select count(*) from runs where source = ?", [run_source]).fetchone()[0]


def test_db_writer_groups_calls_but_a_failing_call_loses_only_its_own_writes(workspace):
    from storage.posts import start_run

    w = DbWriter()
    gate = threading.Event()

    def wait(ws):  # holds the writer so that the next calls queue up and are grouped in one transaction
        gate.wait(10)
        return start_run(ws, "first", "crawl")

    def bad(ws):
        start_run(ws, "bad", "crawl")
        raise ValueError("stage failed")

    first = w.submit(workspace, wait, workspace)
    futs = [w.submit(workspace, start_run, workspace, f"ok{i}", "crawl") for i in range(3)]
    broken = w.submit(workspace, bad, workspace)
    after = w.submit(workspace, start_run, workspace, "after", "crawl")
    gate.set()
    assert isinstance(first.result(10), int)
    ids = [f.result(10) for f in futs] + [after.result(10)]
    assert len(set(ids)) == 4
    with pytest.raises(ValueError, match="stage failed"):
        broken.result(10)
    assert _count(workspace, "bad") == 0  # rolled back to its savepoint
    assert [_count(workspace, s) for s in ("first", "ok0", "ok1", "ok2", "after")] == [1, 1, 1, 1, 1]
    assert not workspace.db.conn.in_transaction  # committed: a results is only handed back after COMMIT


def test_db_writer_failed_commit_fails_every_call_of_the_group(workspace):
    w = DbWriter()

    def leave_broken(ws):  # a call that breaks the transaction itself (not only its savepoint)
        ws.db.execute("insert into runs(source, kind, started_at) values ('x', 'crawl', '2026-01-01T00:00:00Z')")
        ws.db.execute("ROLLBACK")
        ws.db.execute("BEGIN")
        ws.db.execute("insert into no_such_table values (1)")

    f = w.submit(workspace, leave_broken, workspace)
    with pytest.raises(Exception):  # noqa: B017, PT011 - sqlite3.OperationalError
        f.result(10)
    assert _count(workspace, "x") == 0
    ok = w.submit(workspace, lambda ws: ws.db.execute("select 1").fetchone()[0], workspace)
    assert ok.result(10) == 1  # the writer goes on


def _photo(seed: int, size=(900, 675)) -> bytes:
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    small = (rng.random((size[1] // 16, size[0] // 16, 3)) * 255).astype("uint8")
    im = Image.fromarray(small).resize(size, Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def test_perceptual_hash_is_imagehash_phash_within_a_few_bits():
    import imagehash
    from PIL import Image

    hashes = []
    for seed in range(6):
        data = _photo(seed)
        ph, mime = perceptual_hash(data)
        assert mime == "image/jpeg" and len(ph) == 16
        with Image.open(io.BytesIO(data)) as im:
            full = imagehash.phash(im)
        assert imagehash.hex_to_hash(ph) - full <= 3  # the draft decode changes at most a few of the 64 bits
        hashes.append(imagehash.hex_to_hash(ph))
    assert min(a - b for i, a in enumerate(hashes) for b in hashes[i + 1:]) > 12  # different photos stay apart
    re_encoded = io.BytesIO()
    Image.open(io.BytesIO(_photo(0))).resize((450, 337)).save(re_encoded, "JPEG", quality=70)
    assert imagehash.hex_to_hash(perceptual_hash(re_encoded.getvalue())[0]) - hashes[0] <= 4  # same photo, resized
    assert perceptual_hash(b"not an image") == (None, None)


def test_media_url_cache_is_bounded_and_forgets_the_least_recently_used():
    from spiders.pipelines import MediaPipeline

    p = MediaPipeline("/nowhere", max_bytes=1000, max_images=8, enabled=True)
    p.CACHE_SIZE = 3
    for i in range(5):
        p._remember(f"https://img.example/{i}.jpg", {"sha256": str(i)})
    assert list(p.cache) == [f"https://img.example/{i}.jpg" for i in (2, 3, 4)]
    p.cache.move_to_end("https://img.example/2.jpg")  # what _fetch does on a hit
    p._remember("https://img.example/5.jpg", None)
    assert "https://img.example/2.jpg" in p.cache and "https://img.example/3.jpg" not in p.cache
    assert len(p.cache) == 3


def test_the_media_and_result_steps_are_left_out_when_not_wanted():
    """With images off the media pipeline is not a step at all; a crawl's storage pipeline keeps no list of every
    ad's outcome (only re-checks read them)."""
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from spiders.pipelines import MediaPipeline, StoragePipeline

    base = {"VEILLE_WORKSPACE": "/nowhere"}
    with pytest.raises(NotConfigured):
        MediaPipeline.from_crawler(get_crawler(settings_dict={**base, "VEILLE_DOWNLOAD_IMAGES": False}))
    assert MediaPipeline.from_crawler(get_crawler(settings_dict=base)).enabled
    assert not StoragePipeline.from_crawler(get_crawler(settings_dict=base)).ad_results
    assert StoragePipeline.from_crawler(get_crawler(settings_dict={**base, "VEILLE_RUN_KIND": "recheck"})).ad_results
