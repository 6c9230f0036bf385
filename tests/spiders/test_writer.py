"""The crawl's storage writer process (``spiders.writer``): results, errors, crashes and kills."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import writer_ops

from spiders.writer import LocalWriter, ProcessWriter, StorageWriterError, use_process
from storage.posts import start_run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture
def ops_path(monkeypatch):
    """The writer process imports the test operations by name."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def _count(ws, source):
    return ws.db.execute("select count(*) from runs where source = ?", [source]).fetchone()[0]


@pytest.mark.parametrize("cls", [ProcessWriter, LocalWriter])
def test_writer_commits_calls_and_hands_back_their_errors(workspace, ops_path, cls):
    w = cls()
    try:
        root = str(workspace.root)
        first = w.submit("db", writer_ops.slow_run, root, "first", 0.5)  # the next calls queue up behind it
        ok = [w.submit("db", start_run, root, f"ok{i}", "crawl") for i in range(5)]
        bad = w.submit("db", writer_ops.fail, root, "bad")
        odd = w.submit("db", writer_ops.fail_oddly, root)
        ids = [first.result(30)] + [f.result(30) for f in ok]
        assert len(set(ids)) == 6
        with pytest.raises(ValueError, match="stage failed"):
            bad.result(30)
        with pytest.raises(Exception, match="1/2"):  # noqa: PT011 - OddError, or its text when not picklable
            odd.result(30)
        assert _count(workspace, "bad") == 0  # rolled back to its savepoint, the others kept
        assert [_count(workspace, s) for s in ("first", "ok0", "ok4")] == [1, 1, 1]
        pids = {w.submit("blob", writer_ops.pid, root).result(30), w.submit("db", writer_ops.pid, root).result(30)}
        assert (pids != {os.getpid()}) == (cls is ProcessWriter)  # the work really runs in another process
    finally:
        w.close()


def test_a_dead_writer_process_fails_its_calls_and_is_started_again(workspace, ops_path):
    w = ProcessWriter()
    root = str(workspace.root)
    try:
        before = w.submit("db", writer_ops.pid, root).result(30)
        with pytest.raises(StorageWriterError, match="exit code 9"):
            w.submit("db", writer_ops.die, root).result(30)
        after = w.submit("db", writer_ops.pid, root).result(30)  # a new process took over
        assert after != before
        assert isinstance(w.submit("db", start_run, root, "again", "crawl").result(30), int)
    finally:
        w.close()
    assert _count(workspace, "again") == 1


def test_unpicklable_call_is_refused_without_breaking_the_writer(workspace):
    w = ProcessWriter()
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - pickling a lambda fails
            w.submit("db", lambda ws: 1, str(workspace.root)).result(30)
        assert isinstance(w.submit("db", start_run, str(workspace.root), "fine", "crawl").result(30), int)
    finally:
        w.close()


def test_killed_crawl_process_leaves_every_handed_over_call_committed(workspace):
    """SIGKILL of the crawl process closes the pipe: the writer commits the calls it was given, then exits."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from spiders.writer import ProcessWriter
        from storage.posts import start_run
        w = ProcessWriter()
        for i in range(300):
            w.submit("db", start_run, {str(workspace.root)!r}, "killed", "crawl")
        print(w._proc.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9
    writer_pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Path(f"/proc/{writer_pid}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{writer_pid}").exists() or \
        "Z" in Path(f"/proc/{writer_pid}/stat").read_text().split()[2]  # gone (or a zombie of the dead parent)
    assert _count(workspace, "killed") == 300


def test_process_writer_is_the_default_on_several_cores(monkeypatch):
    monkeypatch.setenv("VEILLE_STORAGE_PROCESS", "0")
    assert not use_process()
    monkeypatch.setenv("VEILLE_STORAGE_PROCESS", "1")
    assert use_process()
    monkeypatch.delenv("VEILLE_STORAGE_PROCESS")
    assert use_process() == (len(os.sched_getaffinity(0)) > 1)


def test_images_are_stored_and_hashed_by_the_writer_once_per_picture(workspace):
    """An ad's image travels as bytes and is stored and hashed by the writer; a later ad with the same picture
    (no bytes: the crawl remembered the URL) gets the same hash, from the writer's memo or from the store."""
    import io

    from PIL import Image

    import spiders.writer as w
    from storage.posts import Artifact, Capture

    buf = io.BytesIO()
    Image.linear_gradient("L").resize((300, 200)).save(buf, "PNG")
    png = buf.getvalue()
    sha = __import__("hashlib").sha256(png).hexdigest()
    first = Capture(artifacts=[Artifact(role="media", sha256=sha, size=len(png), data=png, mime="text/plain",
                                        extra={"url": "https://img.example/1.png", "phash": None})])
    w.put_blobs(workspace, first)
    a = first.artifacts[0]
    assert workspace.store.read(sha) == png and a.data is None
    assert a.mime == "image/png" and len(a.extra["phash"]) == 16  # read from the bytes, not the header's claim
    w._PHASH_MEMO.clear()  # a restarted writer: the hash is read back from the stored blob
    again = Capture(artifacts=[Artifact(role="media", sha256=sha, size=len(png), extra={"phash": None})])
    w.put_blobs(workspace, again)
    assert again.artifacts[0].extra["phash"] == a.extra["phash"] and again.artifacts[0].mime == "image/png"


def test_a_flood_of_big_calls_does_not_deadlock_the_pipes(workspace, ops_path):
    """Thousands of calls sent without waiting, each bigger than a pipe buffer's share: both pipes fill up,
    and the writer and the crawl side must keep draining each other."""
    w = ProcessWriter()
    root = str(workspace.root)
    try:
        payload = b"x" * 60_000
        futs = [w.submit("blob", writer_ops.size_of, root, payload) for _ in range(3000)]
        assert [f.result(120) for f in futs] == [60_000] * 3000
    finally:
        w.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")
def test_the_pipes_to_the_writer_are_enlarged(workspace, tmp_path):
    """A full pipe blocks the crawl's reactor thread: the writer's pipes get 1 MB (the default is 64 KB)."""
    import fcntl

    from spiders.writer import PIPE_BYTES, _grow_pipe

    w = ProcessWriter()
    try:
        w.start()
        proc = w._proc
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        for f in (proc.stdin, proc.stdout):
            assert fcntl.fcntl(f.fileno(), fcntl.F_GETPIPE_SZ) >= min(PIPE_BYTES, limit)
    finally:
        w.close()
    with open(tmp_path / "f", "wb") as fh:  # not a pipe: left alone, no error
        assert _grow_pipe(fh.fileno()) is None


def test_the_writer_process_settles_its_collector_once_the_lexicon_is_compiled(workspace, ops_path, monkeypatch):
    """spiders/gcpolicy.py in the writer: after its warm-up (imports, lexicon) it freezes that heap and
    raises the young threshold; with VEILLE_GC_DEFAULTS=1 it keeps Python's defaults."""
    import time

    from spiders.gcpolicy import THRESHOLDS

    root = str(workspace.root)
    for off in (False, True):
        if off:
            monkeypatch.setenv("VEILLE_GC_DEFAULTS", "1")
        w = ProcessWriter()
        try:
            w.submit("blob", writer_ops.lexicon_ready, root).result(120)  # the warm-up has compiled it ...
            deadline = time.monotonic() + (1 if off else 30)
            while True:  # ... and settles the collector right after, on its own thread
                thresholds, frozen = w.submit("blob", writer_ops.gc_state, root).result(60)
                if tuple(thresholds) == THRESHOLDS or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            if off:
                assert tuple(thresholds) != THRESHOLDS and frozen == 0
            else:
                assert tuple(thresholds) == THRESHOLDS and frozen > 10_000  # the compiled lexicon and imports
        finally:
            w.close()


@pytest.mark.parametrize("cls", [ProcessWriter, LocalWriter])
def test_a_calls_blobs_are_flushed_under_their_names_before_its_transaction(workspace, ops_path, cls):
    """The writer defers each blob's fsync and rename, and flushes the whole group before running its calls:
    a committed row never names a blob that is not whole on disk."""
    from storage.posts import Artifact, Capture

    w = cls()
    try:
        root = str(workspace.root)
        caps = [Capture(artifacts=[Artifact(role="raw_html", data=b"<html>ad %d</html>" % i),
                                   Artifact(role="headers", data=b'{"n": %d}' % i)]) for i in range(12)]
        futs = [w.submit("blobs_db", writer_ops.blobs_on_disk, root, cap, f"ad{i}") for i, cap in enumerate(caps)]
        seen = [f.result(30) for f in futs]
        assert all(s["named"] == [True, True] for s in seen)
        assert [_count(workspace, f"ad{i}") for i in range(12)] == [1] * 12
        assert sorted(p.name for p in workspace.store.base.rglob(".tmp-*")) == []
        assert len(list(workspace.store.iter_blobs())) == 24
    finally:
        w.close()


def test_a_failed_flush_fails_the_calls_and_commits_nothing(workspace, ops_path, monkeypatch):
    """If the evidence cannot be flushed, the group's calls fail with the reason and none of their rows is kept."""
    import storage.evidence as ev
    from storage.errors import IntegrityError
    from storage.posts import Artifact, Capture

    if ev._SYNCFS is None:
        pytest.skip("no syncfs in this C library")
    monkeypatch.delenv(ev.SYNC_ENV, raising=False)  # the flush goes through the store's syncfs, broken below
    w = LocalWriter()
    try:
        root = str(workspace.root)
        w.submit("db", writer_ops.break_sync, root).result(30)
        cap = Capture(artifacts=[Artifact(role="raw_html", data=b"<html>lost disk</html>")])
        fut = w.submit("blobs_db", writer_ops.blobs_on_disk, root, cap, "doomed")
        with pytest.raises(IntegrityError, match="could not flush"):
            fut.result(30)
        assert _count(workspace, "doomed") == 0
    finally:
        w.close()


@pytest.mark.parametrize("cls", [ProcessWriter, LocalWriter])
def test_calls_awaited_from_the_crawls_loop_get_their_results_and_errors(workspace, ops_path, cls):
    """``submit_async`` (the pipelines' path): results, the call's own exception, and an unpicklable result that
    becomes an error for its call only, while the calls answered with it get theirs."""
    import asyncio

    root = str(workspace.root)
    w = cls()

    async def main():
        first = w.submit_async("db", writer_ops.slow_run, root, "first", 0.3)  # the others queue up behind it
        calls = [w.submit_async("db", start_run, root, f"a{i}", "crawl") for i in range(20)]
        bad = w.submit_async("db", writer_ops.fail, root, "bad")
        odd = w.submit_async("db", writer_ops.unpicklable, root)
        more = [w.submit_async("db", start_run, root, f"b{i}", "crawl") for i in range(20)]
        return await asyncio.gather(first, *calls, bad, odd, *more, return_exceptions=True)

    try:
        out = asyncio.run(main())
    finally:
        w.close()
    ids, bad, odd = out[:21] + out[23:], out[21], out[22]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 41
    assert isinstance(bad, ValueError) and "stage failed" in str(bad)
    if cls is ProcessWriter:
        assert isinstance(odd, StorageWriterError) and "could not be sent back" in str(odd)
    assert _count(workspace, "bad") == 0 and _count(workspace, "a19") == 1 and _count(workspace, "b0") == 1


def test_the_writers_answers_reach_the_loop_in_batches(workspace, ops_path, monkeypatch):
    """A group commit's answers cross the pipe as one message and are handed to the loop with one callback:
    far fewer wake-ups of the crawl's loop than calls."""
    import asyncio

    import spiders.writer as sw

    callbacks = []
    real = sw._resolve_in_loop

    def counting(entries):
        callbacks.append(len(entries))
        real(entries)

    monkeypatch.setattr(sw, "_resolve_in_loop", counting)
    root = str(workspace.root)
    w = ProcessWriter()

    async def main():
        first = w.submit_async("db", writer_ops.slow_run, root, "first", 0.5)
        rest = [w.submit_async("db", start_run, root, f"c{i}", "crawl") for i in range(60)]
        return await asyncio.gather(first, *rest)

    try:
        ids = asyncio.run(main())
    finally:
        w.close()
    assert len(set(ids)) == 61 and sum(callbacks) == 61
    assert len(callbacks) <= 10, callbacks  # 60 calls queued behind a slow one: committed (and answered) together


def test_a_dead_writer_process_fails_the_awaited_calls(workspace, ops_path):
    import asyncio

    root = str(workspace.root)
    w = ProcessWriter()

    async def main():
        doomed = w.submit_async("db", writer_ops.die, root)
        with pytest.raises(StorageWriterError, match="exit code 9"):
            await asyncio.wait_for(doomed, 30)
        return await asyncio.wait_for(w.submit_async("db", start_run, root, "after", "crawl"), 30)

    try:
        assert isinstance(asyncio.run(main()), int)
    finally:
        w.close()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="needs os.getpriority")
def test_the_writer_process_runs_below_the_crawls_priority(workspace, ops_path, monkeypatch):
    """The crawl's reactor is the bottleneck: the writer lowers its priority by VEILLE_WRITER_NICE (default 10)."""
    from spiders.writer import NICE_ENV

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    root = str(workspace.root)
    for env, want in ((None, min(mine + 10, 19)), ("0", mine), ("3", min(mine + 3, 19))):
        if env is None:
            monkeypatch.delenv(NICE_ENV, raising=False)
        else:
            monkeypatch.setenv(NICE_ENV, env)
        w = ProcessWriter()
        try:
            pid = w.submit("db", writer_ops.pid, root).result(30)
            assert os.getpriority(os.PRIO_PROCESS, pid) == want
        finally:
            w.close()


def test_calls_made_in_one_turn_of_the_loop_cross_the_pipe_together_and_in_order(workspace, ops_path, monkeypatch):
    """submit_async's calls of one turn of the loop are one message; one unpicklable call fails alone; a plain
    submit made after them reaches the writer after them."""
    import asyncio

    import spiders.writer as sw

    sent = []
    real = sw._write_msg

    def counting(fh, obj):
        if isinstance(obj, list) and obj and len(obj[0]) == 5:  # (calls, not answers)
            sent.append(len(obj))
        real(fh, obj)

    monkeypatch.setattr(sw, "_write_msg", counting)
    root = str(workspace.root)
    w = ProcessWriter()

    async def main():
        first = [w.submit_async("db", start_run, root, f"t{i}", "crawl") for i in range(30)]
        odd = w.submit_async("db", start_run, root, lambda: None, "crawl")  # cannot be pickled
        last = w.submit_async("db", start_run, root, "t30", "crawl")
        await asyncio.sleep(0)  # the loop turns: the outbox is sent
        after = w.submit("db", start_run, root, "after", "crawl")  # from the loop's thread, blocking-free
        got = await asyncio.gather(*first, last, return_exceptions=True)
        with pytest.raises(Exception):  # noqa: B017, PT011 - pickling a lambda fails
            await odd
        return got, after.result(30)

    try:
        ids, after = asyncio.run(main())
    finally:
        w.close()
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids) and after > max(ids)
    assert sent[0] == 32  # the first message held the turn's 32 calls (then one by one, once it failed)
    assert _count(workspace, "t30") == 1 and _count(workspace, "after") == 1
