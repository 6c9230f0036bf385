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


def bulk_load(ws, records: Iterable[dict[str, Any]], category: str = "appointment_resale") -> int:
    """Insert records ``{platform, url, external_id, author_handle, text, media, entities:[{kind, value}],
    price}``; return how many were inserted (existing dedupe keys are skipped)."""
    now = iso(utcnow())
    db = ws.db
    n = 0
    with transaction(db):
        cur = db.conn.cursor()
        for r in records:
            key = f"{r['platform']}:id:{r['external_id']}"
            text = r.get("text") or ""
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            cur.execute(
                "insert or ignore into posts(dedupe_key, platform, source, url, external_id, author_handle, text, "
                "price, media, content_sha256, first_seen_at, last_seen_at, posted_at, category, score, "
                "classified_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [key, r["platform"], r["platform"], r.get("url") or "", r["external_id"], r.get("author_handle"),
                 text, r.get("price"), json.dumps(r.get("media") or []), sha, now, now, r.get("posted_at"),
                 category, 1.0, now])
            if cur.rowcount != 1:
                continue
            pid = cur.lastrowid
            cur.executemany(
                'insert or ignore into entities(post_id, kind, value, raw, start, "end", extra) values (?,?,?,?,?,?,?)',
                [(pid, e["kind"], e["value"], e.get("raw") or e["value"], i, i + 1,
                  json.dumps(e.get("extra") or {})) for i, e in enumerate(r.get("entities") or [])])
            n += 1
    return n
