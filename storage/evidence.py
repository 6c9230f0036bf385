"""Content-addressed evidence store.

Raw bytes (HTML, JSON, screenshots, media) live under
``evidence/sha256/ab/<hash>`` (``ab``: the hash's first two hex digits, 256
folders). Stores made before 2026-12-06 keep their two-level layout,
``evidence/sha256/ab/cd/<hash>`` (65,536 folders); ``evidence/LAYOUT`` says
which one a store uses. Writes are atomic: a temporary file in the same
folder, fsync, then rename; a stored blob is never modified. Storing the same
bytes twice is a no-op.

Why one level: on ext4, making a folder is one more inode to allocate, and
with 65,536 folders nearly every blob of a young store (under a few hundred
thousand blobs) lands in a new one (``bench/evidence_layout.py``: 328 against
426 µs of CPU per blob on a quiet disk; see docs/crawling.md for a disk just
after mass deletions, where it went the other way).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import IntegrityError, NotFoundError

_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_path(path: str | Path, skip_unopenable: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if skip_unopenable:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_path(path, skip_unopenable=True)


def _load_syncfs():
    """libc's ``syncfs(fd)`` (Linux), or None."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):  # no such symbol, or no C library to open (Windows)
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()
SYNC_ENV = "VEILLE_EVIDENCE_SYNC"  # "files": deferred blobs are fsynced one by one, never with syncfs


LAYOUT_FILE = "LAYOUT"
# the first line of evidence/LAYOUT -> how many two-hex-digit folder levels a blob sits under
LAYOUTS = {"sha256/ab/<sha256>": 1, "sha256/ab/cd/<sha256>": 2}
_LAYOUT_OF_DEPTH = {v: k for k, v in LAYOUTS.items()}
NEW_STORE_DEPTH = 1


class EvidenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / "sha256"
        self._base = str(self.base)
        self._dirs: set[str] = set()  # folders known to exist (a crawl writes thousands of blobs)
        self._depth: int | None = None  # folder levels, once known (see layout())
        self._layout_written = False  # evidence/LAYOUT checked or written by this object
        # deferred blobs (put_bytes(..., defer=True)) waiting for sync(): sha256 -> (temporary file, name, folder)
        self._pending: dict[str, tuple[str, str, str]] = {}
        self._pending_lock = threading.Lock()

    # -------------------------------------------------------------- layout
    def _read_layout(self) -> int | None:
        """The store's folder depth: from evidence/LAYOUT, else from the folders of a store made before
        the file existed (two levels), else None (an empty store: decided by its first write)."""
        depth = self._layout_file()
        if depth is not None:
            return depth
        found = self._layout_of_folders()
        if found is None:
            return None
        # A new store's LAYOUT is written before its first folder: if another thread or process wrote both
        # between the two looks, the file (now there) wins over folders that only hold temporary files.
        again = self._layout_file()
        return again if again is not None else found

    def _layout_file(self) -> int | None:
        try:
            with open(os.path.join(self.root, LAYOUT_FILE), encoding="utf-8") as fh:
                line = fh.readline(200).strip()
        except FileNotFoundError:
            return None
        if line not in LAYOUTS:
            raise IntegrityError(f"{self.root / LAYOUT_FILE}: unknown evidence layout {line[:80]!r} "
                                 f"(known: {', '.join(LAYOUTS)})")
        return LAYOUTS[line]

    def _layout_of_folders(self) -> int | None:
        try:
            subs = [e for e in os.scandir(self._base) if e.is_dir() and len(e.name) == 2]
        except FileNotFoundError:
            return None
        for sub in subs:
            for e in os.scandir(sub.path):
                if e.name.startswith(".tmp-"):
                    continue
                return 2 if e.is_dir() else 1
        return 2 if subs else None  # folders without blobs: made by the old code

    def layout(self) -> int:
        """How many folder levels this store puts above a blob (1 for a new store)."""
        if self._depth is None:
            depth = self._read_layout()
            if depth is None:
                return NEW_STORE_DEPTH  # not cached: another process may write the store's first blob
            self._depth = depth
        return self._depth

    def _fix_layout(self) -> None:
        """Before a write: make sure evidence/LAYOUT says the layout (written once, atomically)."""
        depth = self._read_layout() or NEW_STORE_DEPTH
        path = os.path.join(self.root, LAYOUT_FILE)
        if not os.path.exists(path):
            os.makedirs(self.root, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-layout-", dir=self.root)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(_LAYOUT_OF_DEPTH[depth] + "\n"
                             "# where each blob sits under evidence/: sha256/ then the first two hex digits of "
                             "its SHA-256 (and the next two in a two-level store), then the whole hash\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
                _fsync_dir(self.root)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            depth = self._read_layout() or depth  # another process may have written it first: the file says
        self._depth = depth
        self._layout_written = True

    def _path(self, sha256: str) -> str:
        if not _HEX.match(sha256 or ""):
            raise NotFoundError(f"not a SHA-256 hex digest: {sha256!r}")
        if self.layout() == 1:
            return os.path.join(self._base, sha256[:2], sha256)
        return os.path.join(self._base, sha256[:2], sha256[2:4], sha256)

    def path_for(self, sha256: str) -> Path:
        return Path(self._path(sha256))

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored (deferred blobs of this object included: they are once ``sync`` returns)."""
        return sha256 in self._pending or os.path.exists(self._path(sha256))

    def _folder(self, folder: str) -> None:
        """Make a blob folder durable: created with its parents, each new one recorded in its parent."""
        if folder in self._dirs:
            return
        new = []
        d = folder
        while not os.path.isdir(d):
            new.append(d)
            d = os.path.dirname(d)
        os.makedirs(folder, exist_ok=True)
        for d in new:
            _fsync_dir(Path(os.path.dirname(d)))
        self._dirs.add(folder)

    def _install(self, tmp_path: Path, sha256: str) -> Path:
        if not self._layout_written:
            self._fix_layout()
        dest = self.path_for(sha256)
        if dest.exists():
            os.unlink(tmp_path)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp_path, 0o444)
        os.replace(tmp_path, dest)
        _fsync_dir(dest.parent)
        return dest

    def put_bytes(self, data: bytes, defer: bool = False) -> str:
        """Store bytes; return their SHA-256.

        The bytes go to a temporary file in the blob's own folder (fsynced, made read-only), which is then
        renamed to the blob's name and the folder fsynced: a crash leaves the blob whole or absent, and a
        file under a blob's name is always whole on disk.

        ``defer=True`` (the crawl's storage writer, which commits many blobs per database transaction):
        the temporary file is written but neither fsynced nor renamed; :meth:`sync` does both for every
        deferred blob at once, and must return before any database row that names one is committed.
        Until then :meth:`has` counts the blob as stored (in this object only)."""
        sha = sha256_bytes(data)
        if not self._layout_written:
            self._fix_layout()
        dest = self._path(sha)
        if os.path.exists(dest) or (defer and sha in self._pending):
            return sha
        folder = os.path.dirname(dest)
        self._folder(folder)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        except FileNotFoundError:  # the folder was removed since: make it again
            self._dirs.discard(folder)
            self._folder(folder)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if not defer:
                    os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), 0o444)
            if defer:
                with self._pending_lock:
                    if sha not in self._pending:
                        self._pending[sha] = (tmp, dest, folder)
                        return sha
                os.unlink(tmp)  # another thread deferred the same bytes meanwhile
                return sha
            if os.path.exists(dest):  # stored meanwhile by another writer
                os.unlink(tmp)
                return sha
            os.replace(tmp, dest)
            _fsync_dir(Path(folder))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return sha

    def pending(self) -> int:
        """How many deferred blobs wait for :meth:`sync`."""
        return len(self._pending)

    def sync(self) -> int:
        """Make every deferred blob durable under its name; return how many.

        Their data is flushed first, then each temporary file is renamed to its blob's name, then the
        renames are flushed, so a file under a blob's name is whole on disk (the rule of
        :meth:`put_bytes`). On Linux each flush is one ``syncfs`` of the store's file system: two disk
        flushes for the whole batch instead of two per blob (``bench/evidence_sync.py``). Elsewhere, or
        with ``VEILLE_EVIDENCE_SYNC=files``, each file and then each folder is fsynced. A failure raises
        :class:`IntegrityError`, and the blobs not yet renamed are dropped (not stored, their temporary
        files removed) rather than kept for a retry that the kernel could report as a success."""
        with self._pending_lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        done: set[str] = set()
        try:
            self._flush([tmp for tmp, _, _ in batch.values()])
            folders = set()
            for sha, (tmp, dest, folder) in batch.items():
                os.replace(tmp, dest)
                done.add(sha)
                folders.add(folder)
            self._flush(folders)
        except BaseException as exc:
            # The blobs not renamed yet are dropped, their files removed: after a failed flush the kernel may
            # report the next one as a success without the bytes on disk, so they are never retried. Their
            # calls fail with this error; a later call with the same bytes writes them again.
            for sha, entry in batch.items():
                if sha not in done:
                    try:
                        os.unlink(entry[0])
                    except OSError:
                        pass
            if isinstance(exc, OSError):
                raise IntegrityError(f"evidence store: could not flush {len(batch) - len(done)} blob(s) "
                                     f"to disk: {exc.strerror or exc}") from None
            raise
        return len(batch)

    def _flush(self, paths) -> None:
        """Flush ``paths`` (files or folders) to disk: one ``syncfs`` of the store's file system where
        available (unless ``VEILLE_EVIDENCE_SYNC=files``), else an fsync of each."""
        if _SYNCFS is not None and os.environ.get(SYNC_ENV, "") != "files":
            self._syncfs()
        else:
            for p in paths:
                _fsync_path(p)

    def _syncfs(self) -> None:
        fd = os.open(self._base, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        """Store a stream without holding it in memory; return (sha256, size)."""
        self.base.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.base)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise IntegrityError(f"stream larger than {max_bytes} bytes")
                    h.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha = h.hexdigest()
            self._install(Path(tmp), sha)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return sha, size

    def put_file(self, path: Path, max_bytes: int | None = None) -> tuple[str, int]:
        with open(path, "rb") as fh:
            return self.put_stream(fh, max_bytes)

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def open(self, sha256: str) -> BinaryIO:
        p = self.path_for(sha256)
        try:
            return open(p, "rb")
        except FileNotFoundError as exc:
            entry = self._pending.get(sha256)  # deferred, not yet synced: its temporary file
            if entry is not None:
                try:
                    return open(entry[0], "rb")
                except FileNotFoundError:
                    try:
                        return open(p, "rb")  # renamed by sync() meanwhile
                    except FileNotFoundError:
                        pass
            raise NotFoundError(f"blob {sha256} is not in the evidence store") from exc

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        if not self.base.exists():
            return
        # either layout (and a store whose LAYOUT file was lost): files one or two folders down
        for sub in sorted(self.base.iterdir()):
            if not sub.is_dir():
                continue
            for p in sorted(sub.iterdir()):
                if p.name.startswith(".tmp-"):
                    continue
                if p.is_dir():
                    for q in sorted(p.iterdir()):
                        if not q.name.startswith(".tmp-"):
                            yield q.name, q
                else:
                    yield p.name, p

    def temp_files(self) -> Iterator[tuple[Path, float]]:
        """Temporary files under the store (``.tmp-*``: a write in progress, or left by one that was
        interrupted) with their age in seconds. No blob is ever one: a blob has its hash as its name."""
        now = time.time()
        folders = [str(self.root), self._base]
        try:
            subs = [e.path for e in os.scandir(self._base) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            subs = []
        for sub in subs:
            folders.append(sub)
            folders.extend(e.path for e in os.scandir(sub) if e.is_dir(follow_symlinks=False))
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for e in entries:
                if e.name.startswith(".tmp-") and e.is_file(follow_symlinks=False):
                    try:
                        yield Path(e.path), max(0.0, now - e.stat(follow_symlinks=False).st_mtime)
                    except FileNotFoundError:  # finished (renamed) meanwhile
                        continue

    def remove_stale_temp(self, older_than_s: float = 3600, dry_run: bool = False) -> int:
        """Remove the temporary files older than ``older_than_s`` (left by interrupted writes: a write, or a
        deferred blob waiting for :meth:`sync`, lasts seconds); return how many (would be) removed. A
        process that held one for longer finds it gone at its ``sync`` and fails that group (nothing
        committed), never a blob under its name with missing bytes."""
        n = 0
        for path, age in list(self.temp_files()):
            if age < older_than_s:
                continue
            n += 1
            if not dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
        return n

    def size(self) -> int:
        return sum(p.stat().st_size for _, p in self.iter_blobs())

    def delete(self, sha256: str) -> None:
        """Remove a blob (retention purge only)."""
        p = self.path_for(sha256)
        if p.exists():
            os.chmod(p, 0o644)
            p.unlink()
