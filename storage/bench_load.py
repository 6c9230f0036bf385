"""Bulk loading of already-extracted posts, for benchmarks only (``bench/cluster_db_bench.py``).

It writes ``posts`` (classified as offers) and their ``entities`` with
``executemany`` in one transaction, without captures or custody entries, so
that a benchmark can build a store of a million posts in minutes and measure
the clustering step alone. No command uses it: real imports go through
``storage.jsonl.import_jsonl`` (captures, custody, classification).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from .db import transaction
from .post import iso, utcnow


def bulk_load(ws, records: Iterable[dict[str, Any]], category: str = "appointment_resale",
              chunk: int = 20_000) -> int:
    """Insert records ``{platform, url, external_id, author_handle, text, media, entities:[{kind, value}],
    price}`` (new dedupe keys only: a benchmark builds a fresh store); return how many were inserted."""
    now = iso(utcnow())
    db = ws.db
    n = 0
    with transaction(db):
        next_id = (db.execute("select coalesce(max(id), 0) from posts").fetchone()[0] or 0) + 1
        posts, ents = [], []

        def flush() -> None:
            db.conn.executemany(
                "insert into posts(id, dedupe_key, platform, source, url, external_id, author_handle, text, "
                "price, media, content_sha256, first_seen_at, last_seen_at, posted_at, category, score, "
                "classified_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", posts)
            db.conn.executemany(
                'insert or ignore into entities(post_id, kind, value, raw, start, "end", extra) '
                "values (?,?,?,?,?,?,?)", ents)
            posts.clear()
            ents.clear()

        for r in records:
            pid = next_id
            next_id += 1
            text = r.get("text") or ""
            posts.append([pid, f"{r['platform']}:id:{r['external_id']}", r["platform"], r["platform"],
                          r.get("url") or "", r["external_id"], r.get("author_handle"), text, r.get("price"),
                          json.dumps(r.get("media") or []), hashlib.sha256(text.encode("utf-8")).hexdigest(),
                          now, now, r.get("posted_at"), category, 1.0, now])
            ents.extend((pid, e["kind"], e["value"], e.get("raw") or e["value"], i, i + 1,
                         json.dumps(e.get("extra") or {})) for i, e in enumerate(r.get("entities") or []))
            n += 1
            if len(posts) >= chunk:
                flush()
        flush()
    return n
