"""The JSONL interchange format: one Post per line (see docs/jsonl.md).

Import reads the file as bytes, line by line with a size bound, so a 50 MB
line or invalid UTF-8 is rejected with its line number and never loaded
whole. Good lines are ingested in batches (one transaction each). The input
file itself is stored in the evidence store, and each post's capture records
the file's hash, the line number and the line's own SHA-256, so the import is
provable and re-running it adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import custody
from .db import rows
from .errors import InputError
from .ingest import ingest_many
from .post import Post, iso, utcnow
from .posts import Artifact, Capture, finish_run, start_run

EXPORT_FIELDS = ("id", "platform", "url", "external_id", "author", "author_handle", "text", "posted_at",
                 "category", "subtype", "score", "seller_id")


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    positives: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    source_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "imported": self.imported, "updated": self.updated,
                "unchanged": self.unchanged, "positives": self.positives,
                "rejected": [{"line": n, "reason": r} for n, r in self.rejected],
                "source_sha256": self.source_sha256}


def iter_lines(fh: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None, str | None]]:
    """Yield (line number, bytes, None) or (line number, None, error) with bounded memory."""
    lineno = 0
    while True:
        line = fh.readline(max_line_bytes + 1)
        if not line:
            return
        lineno += 1
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            # Too long: skip the rest of the line in chunks.
            while True:
                chunk = fh.readline(1 << 20)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield lineno, None, f"line longer than {max_line_bytes} bytes"
            continue
        yield lineno, line, None


def parse_line(raw: bytes) -> Post | None:
    """Parse one JSONL line into a Post; None for a blank line; InputError otherwise."""
    stripped = raw.strip()
    if not stripped:
        return None
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    return Post.from_dict(data)


def _spool_stdin() -> Path:
    fd, tmp = tempfile.mkstemp(prefix="veille-stdin-", suffix=".jsonl")
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return Path(tmp)


def import_jsonl(ws, source: str | Path, max_line_bytes: int | None = None, batch_size: int = 500,
                 progress=None) -> ImportReport:
    """Import a JSONL file (or ``-`` for stdin). Never raises for bad lines: see ``rejected``."""
    max_line_bytes = int(max_line_bytes or ws.config.get("import.max_line_bytes", 5_000_000))
    spooled = None
    if str(source) == "-":
        spooled = path = _spool_stdin()
        display = "<stdin>"
    else:
        path = Path(source)
        display = str(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    report = ImportReport()
    run_id = start_run(ws, f"import:{Path(display).name}", "import jsonl")
    status, error = "failed", "interrupted"
    try:
        file_sha, file_size = ws.store.put_file(path)
        report.source_sha256 = file_sha

        def items():
            with open(path, "rb") as fh:
                for lineno, raw, err in iter_lines(fh, max_line_bytes):
                    report.lines = lineno
                    if err:
                        report.rejected.append((lineno, err))
                        continue
                    try:
                        post = parse_line(raw)
                    except InputError as exc:
                        report.rejected.append((lineno, str(exc)))
                        continue
                    if post is None:
                        continue
                    line_sha = hashlib.sha256(raw.rstrip(b"\r\n")).hexdigest()
                    cap = Capture(
                        kind="import",
                        url=post.url or None,
                        method=None,
                        fetched_at=post.fetched_at,
                        tool="veille import jsonl",
                        capture_key=f"jsonl:{line_sha}:{post.dedupe_key()}",
                        artifacts=[Artifact(role="import_file", sha256=file_sha, size=file_size,
                                            mime="application/x-ndjson", name=Path(display).name,
                                            extra={"line": lineno, "line_sha256": line_sha})],
                        extra={"source_file": display, "line": lineno, "line_sha256": line_sha},
                    )
                    yield post, cap

        seen_keys: set[str] = set()
        for res in ingest_many(ws, items(), batch_size=batch_size):
            s = res.save
            if s.created:
                report.imported += 1
            elif s.changed:
                report.updated += 1
            else:
                report.unchanged += 1
            if res.positive and (s.created or s.changed):
                report.positives += 1
            seen_keys.add(str(s.post_id))
            if progress:
                progress(report)
        custody.append(ws.db, "import", {
            "event": "jsonl import finished", "file": display, "file_sha256": file_sha, "file_size": file_size,
            "lines": report.lines, "imported": report.imported, "updated": report.updated,
            "unchanged": report.unchanged, "rejected": len(report.rejected), "at": iso(utcnow())},
            subject_type="file", subject_id=file_sha)
        status = "partial" if report.rejected else "ok"
        error = f"{len(report.rejected)} line(s) rejected" if report.rejected else None
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        finish_run(ws, run_id, status, report.imported + report.updated, error)
        if spooled:
            spooled.unlink(missing_ok=True)
    return report


def export_rows(ws) -> Iterator[dict[str, Any]]:
    cur = ws.db.conn.execute(
        "select id, platform, url, external_id, author, author_handle, text, posted_at, category, subtype, score, "
        "seller_id from posts order by id")
    for row in cur:
        yield dict(zip(EXPORT_FIELDS, row, strict=True))


def export_jsonl(ws, out: IO[str]) -> int:
    n = 0
    for obj in export_rows(ws):
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        n += 1
    return n


def post_count(ws) -> int:
    return rows(ws.db, "select count(*) as n from posts")[0]["n"]
