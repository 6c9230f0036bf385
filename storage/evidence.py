"""Content-addressed evidence store.

Raw bytes (HTML, JSON, screenshots, media) live under
``evidence/sha256/ab/cd/<hash>``. Writes are atomic: a temporary file in the
same folder, fsync, then rename; a stored blob is never modified. Storing the
same bytes twice is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EvidenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / "sha256"
        self._base = str(self.base)
        self._dirs: set[str] = set()  # folders known to exist (a crawl writes thousands of blobs)

    def _path(self, sha256: str) -> str:
        if not _HEX.match(sha256 or ""):
            raise NotFoundError(f"not a SHA-256 hex digest: {sha256!r}")
        return os.path.join(self._base, sha256[:2], sha256[2:4], sha256)

    def path_for(self, sha256: str) -> Path:
        return Path(self._path(sha256))

    def has(self, sha256: str) -> bool:
        return os.path.exists(self._path(sha256))

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
        dest = self.path_for(sha256)
        if dest.exists():
            os.unlink(tmp_path)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp_path, 0o444)
        os.replace(tmp_path, dest)
        _fsync_dir(dest.parent)
        return dest

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their SHA-256.

        The bytes go to a temporary file in the blob's own folder (fsynced, made read-only), which is then
        renamed to the blob's name and the folder fsynced: a crash leaves the blob whole or absent."""
        sha = sha256_bytes(data)
        dest = self._path(sha)
        if os.path.exists(dest):
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
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), 0o444)
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
        p = self.path_for(sha256)
        try:
            return p.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"blob {sha256} is not in the evidence store") from exc

    def open(self, sha256: str) -> BinaryIO:
        p = self.path_for(sha256)
        try:
            return open(p, "rb")
        except FileNotFoundError as exc:
            raise NotFoundError(f"blob {sha256} is not in the evidence store") from exc

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        if not self.base.exists():
            return
        for sub in sorted(self.base.iterdir()):
            if not sub.is_dir():
                continue
            for sub2 in sorted(sub.iterdir()):
                for p in sorted(sub2.iterdir()):
                    if p.name.startswith(".tmp-"):
                        continue
                    yield p.name, p

    def size(self) -> int:
        return sum(p.stat().st_size for _, p in self.iter_blobs())

    def delete(self, sha256: str) -> None:
        """Remove a blob (retention purge only)."""
        p = self.path_for(sha256)
        if p.exists():
            os.chmod(p, 0o644)
            p.unlink()
