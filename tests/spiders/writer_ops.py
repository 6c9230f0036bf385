"""Operations for the writer-process tests (module-level, so that the writer process can import them)."""

from __future__ import annotations

import os
import time

from storage.posts import start_run


class OddError(Exception):
    """An exception whose constructor does not take its message back (it does not survive pickling)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def slow_run(ws, source: str, seconds: float) -> int:
    time.sleep(seconds)
    return start_run(ws, source, "crawl")


def fail(ws, source: str) -> None:
    start_run(ws, source, "crawl")
    raise ValueError("stage failed")


def fail_oddly(ws) -> None:
    raise OddError(1, 2)


def die(ws) -> None:
    os._exit(9)


def pid(ws) -> int:
    return os.getpid()


def size_of(ws, data: bytes) -> int:
    return len(data)


def gc_state(ws) -> tuple[tuple[int, ...], int]:
    """The writer process's collector thresholds and frozen-object count."""
    import gc

    return gc.get_threshold(), gc.get_freeze_count()


def lexicon_ready(ws) -> str:
    """Wait for the writer's compiled lexicon (its warm-up thread compiles it; the lock in get_lexicon)."""
    from matchers.classify import get_lexicon

    return get_lexicon().version


def blobs_on_disk(ws, capture, source: str) -> dict:
    """A blobs_db call: what the database thread sees of the capture's (deferred) blobs when the call runs."""
    start_run(ws, source, "crawl")
    return {"named": [os.path.exists(ws.store.path_for(a.sha256)) for a in capture.artifacts],
            "pending": ws.store.pending()}


def break_sync(ws) -> None:
    """Make this writer's evidence flushes fail (EIO), as a failing disk would."""
    import errno

    def failing():
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    ws.store._syncfs = failing


def unpicklable(ws):
    """A result that cannot be sent back through the pipe."""
    return lambda: None
