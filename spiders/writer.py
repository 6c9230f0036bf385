"""The crawl's storage writer: evidence blobs, perceptual hashes, classification and database writes.

Scrapy parses on one core (one reactor thread, bound by the GIL). Everything an item costs after parsing --
SHA-256 and durable writes of the page, its headers and its images, the images' perceptual hash, classify and
extract, the SQLite transaction with its custody entries -- is done by a **writer**, so that the reactor keeps
downloading and parsing while evidence is made durable:

* :class:`ProcessWriter` (the default on a machine with more than one core, ``VEILLE_STORAGE_PROCESS``): a
  second Python process, ``python -m spiders.writer``, fed through a pipe. Requests and answers are pickles
  (both ends are this module; nothing scraped is ever unpickled that this process did not pickle itself).
* :class:`LocalWriter`: the same work on threads of the crawl process (one core).

Both run the same operations (module-level functions below and in ``storage``, called as ``fn(ws, *args)``)
with the same guarantees:

* blobs first, each one written atomically and fsynced (``storage.evidence``), then the database;
* one database writer per workspace that groups queued calls into one transaction (group commit), each call
  inside its own SAVEPOINT: a call that raises rolls back only its own writes and gets the exception;
* a call's result is handed back only once its transaction is committed, so nothing is reported stored that a
  kill could still lose. A kill of the crawl process closes the pipe: the writer process commits what it was
  given (complete items) and exits; a kill of the writer loses the uncommitted group, which the next run
  fetches again (its blobs are content-addressed, so nothing is duplicated).

A writer process that dies fails the calls it held (the pipelines report them as store errors) and is started
again on the next call, at most ``MAX_RESTARTS`` times per crawl process.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("veille.spiders.writer")

ROOT = Path(__file__).resolve().parents[1]
_LEN = struct.Struct("<I")
#: Pickles bigger than this are refused (a page is capped at ``collect.max_page_bytes`` well below it).
MAX_MESSAGE = 1 << 30
# Pipe capacity asked for (Linux; the default is 64 KB, a few ads' pages): the crawl's reactor thread blocks when
# the pipe is full, so a writer that lags for a moment (a group commit, a large page) would stall the crawl.
PIPE_BYTES = 1 << 20


def _grow_pipe(fd: int) -> int | None:
    """Ask for a larger pipe buffer (Linux ``F_SETPIPE_SZ``, capped by /proc/sys/fs/pipe-max-size); the size
    obtained, or None where it cannot be changed."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except (ImportError, AttributeError, OSError):  # not Linux, or the system's limit is lower
        return None

#: Kinds of call: ``blob`` runs on the blob pool; ``db`` on the database thread, inside a transaction;
#: ``blobs_db`` writes the blobs of its first argument (a ``Capture``) on the blob pool, then runs on the
#: database thread (the database never references a blob that is not durable yet).
KINDS = ("blob", "db", "blobs_db")


class StorageWriterError(RuntimeError):
    """The writer process is gone (or could not start): the calls it held are not stored."""


# ------------------------------------------------------------------ operations (run by the writer)
def perceptual_hash(data: bytes) -> tuple[str | None, str | None]:
    """(phash hex, mime) of image bytes, or (None, None) when they are not a readable image.

    ImageHash's pHash works on a 32x32 grey version of the picture, so a JPEG is
    decoded in grey at the smallest DCT scale that still gives at least
    128x128 pixels (``draft``): several times less work than a full decode,
    and within 2 of the 64 bits (mean 0.65) of ``imagehash.phash`` on the full
    image for photos of 500-1600 px (the clustering's image match tolerates
    more; ``tests/spiders/test_pipelines.py`` checks it).
    """
    try:
        import imagehash
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            mime = Image.MIME.get(im.format or "")
            im.draft("L", (128, 128))
            return str(imagehash.phash(im)), mime
    except Exception:  # noqa: BLE001 - not an image, truncated, decompression bomb ...
        return None, None


_PHASH_MEMO: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
_MEMO_LOCK = threading.Lock()
PHASH_MEMO_SIZE = 20_000


def image_hash(ws, sha256: str, data: bytes | None) -> tuple[str | None, str | None]:
    """(phash, mime) of a stored image, computed once per writer (an image shared by several ads)."""
    with _MEMO_LOCK:
        hit = _PHASH_MEMO.get(sha256)
        if hit is not None:
            _PHASH_MEMO.move_to_end(sha256)
            return hit
    if data is None:
        data = ws.store.read(sha256)
    out = perceptual_hash(data)
    with _MEMO_LOCK:
        _PHASH_MEMO[sha256] = out
        if len(_PHASH_MEMO) > PHASH_MEMO_SIZE:
            _PHASH_MEMO.popitem(last=False)
    return out


def put_blobs(ws, capture) -> None:
    """Write a capture's bytes to the evidence store (before its database transaction); an image
    (``media`` artifact) gets its perceptual hash and its mime type read from its bytes."""
    for a in capture.artifacts:
        if a.role == "media" and (a.data is not None or (a.sha256 and "phash" in a.extra
                                                          and a.extra["phash"] is None)):
            if a.data is not None:
                a.sha256 = ws.store.put_bytes(a.data, defer=True)
                a.size = len(a.data)
            phash, mime = image_hash(ws, a.sha256, a.data)
            a.extra["phash"] = phash
            a.mime = mime or a.mime
            a.data = None
        elif a.data is not None and not a.sha256:
            a.sha256 = ws.store.put_bytes(a.data, defer=True)
            a.size = len(a.data)


def store_ad(ws, cap, post, recapture: bool, post_id: int | None) -> dict[str, Any]:
    """Classify, extract and save an ad's post with its capture (database thread, inside a transaction).

    The images' perceptual hashes and mime types, read by ``put_blobs``, are copied into ``post.media``."""
    from storage.ingest import ingest
    from storage.posts import mark_status, post_state

    hashed = {a.sha256: a for a in cap.artifacts if a.role == "media" and a.sha256}
    for m in post.media:
        a = hashed.get(m.get("sha256"))
        if a is not None and m.get("phash") is None:
            m["phash"] = a.extra.get("phash")
            m["mime"] = a.mime or m.get("mime")

    before = None
    if recapture and post_id:
        state = post_state(ws, post_id)
        before = state[:3] if state else None
    res = ingest(ws, post, cap)
    if recapture:
        state = post_state(ws, res.save.post_id)
        if state and state[3] != "live":
            mark_status(ws, res.save.post_id, "live", capture_id=res.save.capture_id, reason="online again")
    # "changed" for a re-capture: the title, text or price differ from what was stored
    changed = res.save.changed if before is None else tuple(before) != (post.title, post.text, post.price)
    return {"post_id": res.save.post_id, "capture_id": res.save.capture_id, "created": res.save.created,
            "positive": res.positive, "changed": bool(changed), "stage_errors": dict(res.analysis.errors),
            "media": {sha: (a.extra.get("phash"), a.mime) for sha, a in hashed.items()}}


def page_check(ws, cap, post_id: int, url: str, final_url: str | None, status: int | None, fetched_at,
               body: bytes) -> dict[str, Any]:
    """A known post's page on a site with no profile: still there (``live``) when most of the stored title and
    text are on the page, else ``changed`` (the rule of ``storage.recheck``)."""
    from storage.posts import add_capture, mark_status, post_state
    from storage.recheck import LIVE_THRESHOLD, text_still_there

    state = post_state(ws, post_id)
    if state is None:
        cap.kind, cap.note = "fetch", "re-check of an unknown post"
        cid = add_capture(ws, cap)
        return {"post_id": None, "url": url, "outcome": "error", "capture_id": cid, "http_status": status,
                "note": "unknown post"}
    share = text_still_there(f"{state[0] or ''} {state[1] or ''}", body)
    live = share >= LIVE_THRESHOLD
    note = f"{share:.0%} of the stored text found"
    moved = final_url and final_url.rstrip("/") != url.rstrip("/")
    if not live and moved:
        note = f"redirected to {final_url}; only {note}"
    cap.outcome, cap.note = ("ok" if live else "changed"), f"re-check (no site profile): {note}"
    cid = add_capture(ws, cap, post_id=post_id)
    if live and state[3] != "live":
        mark_status(ws, post_id, "live", capture_id=cid, at=fetched_at, reason=f"online again ({note})")
    return {"post_id": post_id, "url": url, "outcome": "live" if live else "changed", "http_status": status,
            "capture_id": cid, "note": note}


def store_removed(ws, item, platform: str) -> dict[str, Any]:
    """A known ad that is gone: the proving capture, and the post marked ``removed``."""
    from storage.crawl_state import post_id_for
    from storage.posts import add_capture, mark_status

    pid = item.post_id or post_id_for(ws, platform, item.url, item.dedupe_key)
    if pid is None and item.evidence.final_url:
        pid = post_id_for(ws, platform, item.evidence.final_url)
    cap = item.evidence.to_capture(kind="recapture" if pid else "fetch", outcome="removed", note=item.reason,
                                   extra={"site": item.site})
    cid = add_capture(ws, cap, post_id=pid)
    if pid is not None:
        mark_status(ws, pid, "removed", capture_id=cid, at=item.evidence.fetched_at, reason=item.reason)
    return {"post_id": pid, "url": item.url, "outcome": "removed", "http_status": item.evidence.status,
            "capture_id": cid, "note": item.reason}


def store_blocked(ws, item) -> dict[str, Any]:
    """A challenge or captcha page, stored as a ``blocked`` capture."""
    from storage.posts import add_capture

    cap = item.evidence.to_capture(kind="recapture" if item.post_id else "fetch", outcome="blocked",
                                   note=item.reason, extra={"site": item.site})
    cid = add_capture(ws, cap, post_id=item.post_id)
    return {"post_id": item.post_id, "url": item.url, "outcome": "blocked", "http_status": item.evidence.status,
            "capture_id": cid, "note": item.reason}


def store_error(ws, item) -> dict[str, Any]:
    """A request with no usable answer, stored as an ``error`` capture."""
    from storage.posts import Capture, add_capture

    cap = Capture(kind="recapture" if item.post_id else "fetch", url=item.url, fetched_at=item.fetched_at,
                  outcome="error", note=item.error[:1000], extra={"site": item.site})
    cid = add_capture(ws, cap, post_id=item.post_id)
    return {"post_id": item.post_id, "url": item.url, "outcome": "error", "http_status": None, "capture_id": cid,
            "note": item.error}


# ------------------------------------------------------------------ the database thread
class DbWriter:
    """One database writer: a thread that groups queued calls into one transaction.

    Calls that arrive while a transaction is being written are run together in
    the next one (group commit), each inside its own SAVEPOINT: a call that
    raises rolls back only its own writes and gets the exception. A call's
    future is resolved only once its transaction is committed; a kill
    mid-transaction loses the uncommitted group.
    """

    MAX_GROUP = 64

    def __init__(self):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, ws, fn, *args) -> Future:
        fut: Future = Future()
        self._q.put((ws, fn, args, fut))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="veille-db", daemon=True)
                    self._thread.start()
        return fut

    def stop(self, timeout: float | None = None) -> None:
        """Finish every call queued so far, then end the thread."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self.MAX_GROUP:
                try:
                    call = self._q.get_nowait()
                except queue.Empty:
                    break
                if call is None:
                    stop = True
                    break
                group.append(call)
            by_ws: dict[int, list] = {}
            for call in group:
                by_ws.setdefault(id(call[0]), []).append(call)
            for calls in by_ws.values():
                self._commit(calls[0][0], calls)
            if stop:
                return

    @staticmethod
    def _commit(ws, calls: list) -> None:
        from storage.db import begin, commit, rollback, savepoint

        done: list[tuple[Future, Any, BaseException | None]] = []
        try:
            # the calls' blobs were written (deferred, see put_blobs) before the calls were queued: made
            # durable here, before any row that names them can be committed
            ws.store.sync()
            begin(ws.db)
            for _, fn, args, fut in calls:
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    with savepoint(ws.db):
                        res = fn(*args)
                except Exception as exc:  # noqa: BLE001 - handed to the caller through its future
                    done.append((fut, None, exc))
                else:
                    done.append((fut, res, None))
            commit(ws.db)
        except BaseException as exc:  # noqa: BLE001 - the transaction failed: every call of it failed
            rollback(ws.db)
            for _, _, _, fut in calls:
                if not fut.done():
                    if fut.running() or fut.set_running_or_notify_cancel():
                        fut.set_exception(exc)
            for fut, _, _ in done:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, res, exc in done:
            if exc is None:
                fut.set_result(res)
            else:
                fut.set_exception(exc)


# ------------------------------------------------------------------ running calls (either side of the pipe)
class _Runner:
    """Blob pool + database thread: runs ``(kind, fn, ws, args)`` calls and resolves their futures."""

    def __init__(self, blob_threads: int = 3):
        self.pool = ThreadPoolExecutor(max_workers=blob_threads, thread_name_prefix="veille-blobs")
        self.db = DbWriter()

    def run(self, kind: str, fn, ws, args: tuple) -> Future:
        if kind == "db":
            return self.db.submit(ws, fn, ws, *args)
        out: Future = Future()
        if kind == "blob":
            def blob() -> None:
                try:
                    out.set_result(fn(ws, *args))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    out.set_exception(exc)
            self.pool.submit(blob)
            return out
        if kind != "blobs_db":
            raise ValueError(f"unknown kind of call: {kind!r}")

        def relay(f: Future) -> None:
            exc = f.exception()
            if exc is None:
                out.set_result(f.result())
            else:
                out.set_exception(exc)

        def write() -> None:
            try:
                put_blobs(ws, args[0])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                out.set_exception(exc)
                return
            self.db.submit(ws, fn, ws, *args).add_done_callback(relay)

        self.pool.submit(write)
        return out

    def stop(self) -> None:
        self.pool.shutdown(wait=True)  # blob writes queued so far hand their database calls on ...
        self.db.stop()  # ... which are all committed before this returns


class LocalWriter:
    """The writer on threads of the crawl process."""

    def __init__(self):
        self._runner: _Runner | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def submit(self, kind: str, fn, ws_path: str, *args) -> Future:
        from .wsstate import workspace

        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = _Runner()
        return self._runner.run(kind, fn, workspace(ws_path), args)

    def submit_async(self, kind: str, fn, ws_path: str, *args) -> asyncio.Future:
        return asyncio.wrap_future(self.submit(kind, fn, ws_path, *args))

    def close(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None


def _write_msg(fh, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=5)
    fh.write(_LEN.pack(len(data)))  # (a buffered writer: each write is written whole)
    fh.write(data)
    fh.flush()


def _read_msg(fh) -> Any:
    head = fh.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError
    (n,) = _LEN.unpack(head)
    if n > MAX_MESSAGE:
        raise StorageWriterError(f"message of {n} bytes refused")
    data = fh.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 - written by the other end of this module's own pipe


def _answer(exc: BaseException) -> BaseException:
    """An exception that survives pickling (custom exception classes may not)."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
        return exc
    except Exception:  # noqa: BLE001
        return StorageWriterError(f"{type(exc).__name__}: {exc}")


def _picklable(msg: tuple) -> tuple:
    """An answer whose result cannot be pickled becomes an error answer."""
    try:
        pickle.dumps(msg, protocol=5)
        return msg
    except Exception as exc:  # noqa: BLE001
        return (msg[0], False, StorageWriterError(f"the result could not be sent back: {type(exc).__name__}: {exc}"))


class _LoopFuture:
    """An asyncio future awaited in ``loop``, set from the pipe's reader thread (through :func:`_settle`)."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.future = loop.create_future()


def _resolve(fut, ok: bool, value) -> None:
    """Set a future (concurrent or asyncio) unless it is done already (cancelled, or failed meanwhile)."""
    if not fut.done():
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


def _resolve_in_loop(entries: list) -> None:
    for fut, ok, value in entries:
        _resolve(fut, ok, value)


def _settle(answers: list) -> None:
    """Resolve ``(future, ok, value)`` answers from a thread other than the loops': concurrent futures at once,
    each asyncio loop's futures in one callback of that loop (one wake-up for a batch, not one per call)."""
    by_loop: dict[Any, list] = {}
    for fut, ok, value in answers:
        if fut is None:
            continue
        if isinstance(fut, _LoopFuture):
            by_loop.setdefault(fut.loop, []).append((fut.future, ok, value))
        else:
            _resolve(fut, ok, value)
    for loop, entries in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_in_loop, entries)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            pass


class ProcessWriter:
    """The writer in a second process (``python -m spiders.writer``), fed through a pipe."""

    MAX_RESTARTS = 3

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()  # the process and the pending calls
        self._send_lock = threading.Lock()  # the pipe to the process (one message at a time)
        self._next = 0
        self._starts = 0
        self._reader: threading.Thread | None = None
        self._paths: dict[str, str] = {}
        self._outbox: list[tuple[tuple, Any]] = []  # calls of submit_async waiting for the loop's next turn
        self._flush_scheduled = False

    def _start(self) -> subprocess.Popen:
        if self._starts > self.MAX_RESTARTS:
            raise StorageWriterError("the storage writer process died too often; nothing more is stored")
        self._starts += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        try:
            proc = subprocess.Popen([sys.executable, "-m", "spiders.writer"], stdin=subprocess.PIPE,  # noqa: S603
                                    stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            raise StorageWriterError(f"the storage writer process could not start: {exc}") from exc
        for f in (proc.stdin, proc.stdout):
            _grow_pipe(f.fileno())
        self._proc = proc
        self._reader = threading.Thread(target=self._read, args=(proc,), name="veille-writer-reader", daemon=True)
        self._reader.start()
        return proc

    def _read(self, proc: subprocess.Popen) -> None:
        fh = proc.stdout
        try:
            while True:
                batch = _read_msg(fh)  # the answers of the calls the writer finished together
                with self._lock:
                    settled = [(self._pending.pop(rid, None), ok, value) for rid, ok, value in batch]
                _settle(settled)
        except Exception as exc:  # noqa: BLE001 - EOF or a broken answer: the process is gone or unusable
            reason = exc
        if not isinstance(reason, EOFError):
            log.error("storage writer answer unreadable (%s: %s): writer restarted", type(reason).__name__, reason)
            proc.kill()
        code = proc.wait()
        with self._lock:
            pending, self._pending = self._pending, {}
            if self._proc is proc:
                self._proc = None
        if pending:
            err = StorageWriterError(f"the storage writer process ended (exit code {code}) before storing "
                                     f"{len(pending)} call(s): {type(reason).__name__}")
            _settle([(fut, False, err) for fut in pending.values()])

    def start(self) -> None:
        """Start the process now (it then loads the matchers before the first call needs them)."""
        with self._lock:
            if self._proc is None:
                self._start()

    def submit(self, kind: str, fn, ws_path: str, *args) -> Future:
        fut: Future = Future()
        call = self._register(fut, kind, fn, ws_path, args)
        self._flush([(call, fut)])  # (after the calls waiting in the outbox: calls reach the writer in order)
        return fut

    def submit_async(self, kind: str, fn, ws_path: str, *args) -> asyncio.Future:
        """:meth:`submit` for a coroutine of the running asyncio loop: an asyncio future, resolved in that loop.

        The calls made during one turn of the loop are sent together, at its next turn, in one message (one
        pickle, one write: about half the crawl side's cost per call in batches of 8), and the answers of a
        group of calls come back together, with one wake-up of the loop."""
        loop = asyncio.get_running_loop()
        fut = _LoopFuture(loop)
        call = self._register(fut, kind, fn, ws_path, args)
        with self._lock:
            self._outbox.append((call, fut))
            if self._flush_scheduled:
                return fut.future
            self._flush_scheduled = True
        loop.call_soon(self._flush)
        return fut.future

    def _register(self, fut, kind: str, fn, ws_path: str, args: tuple) -> tuple:
        with self._lock:
            self._next += 1
            rid = self._next
            self._pending[rid] = fut
            path = self._paths.get(ws_path)
            if path is None:  # (the writer's working folder may differ: absolute paths only)
                path = self._paths[ws_path] = str(Path(ws_path).resolve())
        return (rid, kind, fn, path, args)

    def _flush(self, more: list | None = None) -> None:
        """Send the outbox's calls (and ``more``) in one message."""
        with self._send_lock:
            with self._lock:
                batch, self._outbox = self._outbox, []
                self._flush_scheduled = False
                proc = self._proc
            batch += more or []
            if not batch:
                return
            try:
                proc = proc or self._running_process()
                # Written outside ``_lock``: when the pipe is full this waits for the writer to read, and the
                # reader thread, which needs ``_lock`` to hand answers back, must keep draining them meanwhile.
                _write_msg(proc.stdin, [call for call, _ in batch])
                return
            except (pickle.PicklingError, TypeError, AttributeError):  # one unpicklable call: send one by one
                pass
            except Exception as exc:  # noqa: BLE001 - broken pipe (the process died), or it could not start
                self._fail(batch, exc)
                return
            for call, fut in batch:
                try:
                    _write_msg(proc.stdin, [call])
                except Exception as exc:  # noqa: BLE001
                    self._fail([(call, fut)], exc)

    def _running_process(self) -> subprocess.Popen:
        """The writer process, started (again) if there is none."""
        with self._lock:
            return self._proc or self._start()

    def _fail(self, batch: list, exc: BaseException) -> None:
        err = exc if isinstance(exc, pickle.PicklingError | TypeError | AttributeError) else \
            StorageWriterError(f"the storage writer process is gone: {exc}")
        with self._lock:
            for call, _ in batch:
                self._pending.pop(call[0], None)
        _settle([(fut, False, err) for _, fut in batch])  # (an asyncio future is set in its loop's thread)

    def close(self, timeout: float = 600) -> None:
        """Let the writer finish and commit everything it was given, and wait for it to exit."""
        with self._lock:
            proc, reader = self._proc, self._reader
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        if reader is not None:
            reader.join(timeout)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


_WRITER: LocalWriter | ProcessWriter | None = None
_WLOCK = threading.Lock()


def use_process() -> bool:
    """Whether crawls store through a writer process: ``VEILLE_STORAGE_PROCESS`` (1/0), else more than one core."""
    v = os.environ.get("VEILLE_STORAGE_PROCESS", "").strip().lower()
    if v in ("0", "false", "no", "off"):
        return False
    if v in ("1", "true", "yes", "on"):
        return True
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # not Linux
        return (os.cpu_count() or 1) > 1


def writer() -> LocalWriter | ProcessWriter:
    """The crawl process's one writer (created on first use, closed at exit)."""
    global _WRITER
    if _WRITER is None:
        with _WLOCK:
            if _WRITER is None:
                _WRITER = ProcessWriter() if use_process() else LocalWriter()
                atexit.register(close_writer)
    return _WRITER


def close_writer() -> None:
    global _WRITER
    w, _WRITER = _WRITER, None
    if w is not None:
        w.close()


# ------------------------------------------------------------------ the writer process
def serve(inp, out) -> int:
    """The writer process's loop: read calls until the pipe closes, answer each once it is stored."""
    from .wsstate import close_all, workspace

    runner = _Runner()
    outbox: list = []  # answers not sent yet
    ready = threading.Condition()
    closing = False

    def warm() -> None:  # import and compile the matchers while the crawl starts (the first ad waits less)
        try:
            import storage.ingest  # noqa: F401
            from matchers.classify import get_lexicon
            get_lexicon()
            from .gcpolicy import settle

            settle()  # the compiled lexicon stays for the writer's life: out of the collector's way
        except Exception:  # noqa: BLE001, S110 - the first real call reports any error
            pass

    threading.Thread(target=warm, name="veille-warm", daemon=True).start()

    def answer(rid: int, fut: Future) -> None:
        exc = fut.exception()
        msg = (rid, True, fut.result()) if exc is None else (rid, False, _answer(exc))
        with ready:
            outbox.append(msg)
            ready.notify()

    def send() -> None:
        """Send the answers as they come, those that came together in one message (a group commit resolves up
        to ``DbWriter.MAX_GROUP`` calls at once: one write here, one wake-up of the crawl's loop there)."""
        gone = False
        while True:
            with ready:
                while not outbox and not closing:
                    ready.wait()
                if not outbox:
                    return
                batch = outbox[:]
                outbox.clear()
            if gone:
                continue
            try:
                _write_msg(out, batch)
            except (pickle.PicklingError, TypeError, AttributeError):  # one unpicklable result: answer one by one
                try:
                    _write_msg(out, [_picklable(m) for m in batch])
                except (BrokenPipeError, ValueError, OSError):
                    gone = True
            except (BrokenPipeError, ValueError, OSError):  # the crawl process is gone; the work is stored anyway
                gone = True

    sender = threading.Thread(target=send, name="veille-answers", daemon=True)
    sender.start()

    while True:
        try:
            calls = _read_msg(inp)  # the calls the crawl sent together
        except EOFError:
            break
        for rid, kind, fn, ws_path, args in calls:
            try:
                fut = runner.run(kind, fn, workspace(ws_path), args)
            except Exception as exc:  # noqa: BLE001 - e.g. the workspace cannot be opened
                fut = Future()
                fut.set_exception(exc)
            fut.add_done_callback(lambda f, rid=rid: answer(rid, f))
    runner.stop()  # the crawl process closed the pipe (finished, or killed): commit what was given, then exit
    with ready:
        closing = True
        ready.notify()
    sender.join()  # every answer sent
    close_all()
    return 0


#: Environment variable: how much the writer process lowers its scheduling priority (``nice``; default 10, 0 keeps
#: the crawl's). The crawl's reactor paces the downloads and is the crawl's bottleneck; the writer, lower, runs in
#: its gaps and on the other cores, and a writer that falls behind slows the crawl through the pipe as before.
#: On a 2-core machine the crawl process waited ~2 s of a 14 s crawl on the run queue behind the writer; ~1.4 s
#: with the writer at nice 10, and 6 pairs of bench runs gave the crawl ~8 % more ads per second.
NICE_ENV = "VEILLE_WRITER_NICE"


def _lower_priority() -> None:
    try:
        inc = int(os.environ.get(NICE_ENV, "10"))
    except ValueError:
        inc = 10
    if inc > 0 and hasattr(os, "nice"):
        try:
            os.nice(inc)
        except OSError:  # not allowed here: the writer runs at the crawl's priority
            pass


def main() -> int:
    # Ctrl-C reaches the whole process group: the crawl process decides when to stop, and closes the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    return serve(inp, out)


if __name__ == "__main__":
    # run this module's own copy, not ``__main__``'s: the answers' exception classes must unpickle as
    # ``spiders.writer.StorageWriterError`` on the crawl's side
    from spiders.writer import main as _main

    sys.exit(_main())
