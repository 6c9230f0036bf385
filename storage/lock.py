"""A workspace file lock so that two ``veille daily`` runs never overlap.

The lock is a small JSON file (PID, host, process start time, timestamp)
created with ``O_CREAT | O_EXCL``, so exactly one process wins. A lock is
*stale* when its process is gone (or the PID now belongs to another process,
checked by start time), or when it is older than ``max_age_hours`` (a hung
run). A stale lock is taken over with a message; the takeover renames the
stale file first, so two processes finding the same stale lock cannot both win.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from .errors import VeilleError
from .post import iso, utcnow


class LockedError(VeilleError):
    """Another run holds the lock."""


def _proc_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


class FileLock:
    def __init__(self, path: Path, max_age_hours: float = 12.0, what: str = "daily run"):
        self.path = Path(path)
        self.max_age = max_age_hours * 3600
        self.what = what
        self.held = False

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, OSError):
            return {}  # unreadable: treated as stale

    def stale_reason(self, info: dict) -> str | None:
        """Why the lock described by ``info`` is stale, or None if its holder looks alive."""
        if not info or "pid" not in info:
            return "the lock file is unreadable"
        age = time.time() - float(info.get("created", 0))
        if age > self.max_age:
            return f"it is {age / 3600:.1f} hours old (limit {self.max_age / 3600:g})"
        if info.get("host") and info["host"] != socket.gethostname():
            return None  # another machine's process: cannot check it, trust the age limit
        pid = int(info["pid"])
        start = _proc_start(pid)
        if start is None:
            return f"process {pid} is no longer running"
        if info.get("proc_start") and abs(start - float(info["proc_start"])) > 2:
            return f"PID {pid} now belongs to another process"
        return None

    def acquire(self, on_takeover: Callable[[str], None] | None = None) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = self.read()
                if info is None:
                    continue  # released meanwhile: retry
                why = self.stale_reason(info)
                if why is None:
                    raise LockedError(
                        f"another {self.what} is in progress (PID {info.get('pid')} since {info.get('at')}); "
                        f"lock file {self.path}") from None
                grave = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
                try:
                    os.replace(self.path, grave)
                except FileNotFoundError:
                    continue
                # Someone may have replaced a stale lock by a fresh one between our read and rename.
                moved = None
                try:
                    moved = json.loads(grave.read_text("utf-8"))
                except (ValueError, OSError):
                    moved = {}
                if moved and info and moved.get("pid") != info.get("pid") and self.stale_reason(moved) is None:
                    try:
                        os.link(grave, self.path)
                    except OSError:
                        pass
                    grave.unlink(missing_ok=True)
                    continue
                grave.unlink(missing_ok=True)
                if on_takeover:
                    on_takeover(f"took over a stale lock of the {self.what} (PID {info.get('pid')}, "
                                f"since {info.get('at')}): {why}")
                continue
            me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _proc_start(os.getpid()),
                  "created": time.time(), "at": iso(utcnow())}
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self.held = True
            return self
        raise LockedError(f"could not take the lock {self.path} (it keeps changing)")

    def release(self) -> None:
        if not self.held:
            return
        info = self.read()
        if info and info.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
