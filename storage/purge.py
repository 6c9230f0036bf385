"""Data retention: ``veille purge --older-than DAYS``.

Deletes the posts classified ``none`` that veille has not seen for more than
``DAYS`` days (``last_seen_at``), with everything hanging off them (versions,
entities, captures, artifacts, re-checks, alerts, seller links, clustering state) and the blobs
no other capture still references. Never touched:

- posts held in a case (directly, or through their seller);
- posts named in a notice;
- posts with no verdict yet, and offers (any category but ``none``).

The database rows go in one transaction together with a ``purge`` custody
entry that lists every removed post (id, key, URL, content hash) and blob hash,
so the custody chain shows what was removed and when. Blob files are deleted
only after the commit: a crash leaves at worst an unreferenced file (which a
re-run removes), never a row pointing at a missing blob.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import custody
from .db import rows, transaction
from .errors import InputError
from .post import iso, utcnow
from .sellers import refresh_sellers

TEMP_MAX_AGE_S = 3600  # an evidence write's temporary file lives seconds; one this old was left by a killed process

PROTECTED_SQL = """
    p.id not in (select post_id from case_items where post_id is not null)
    and coalesce(p.seller_id, -1) not in (select seller_id from case_items where seller_id is not null)
    and p.id not in (select post_id from notice_items)
"""


@dataclass
class PurgeReport:
    cutoff: str
    dry_run: bool = False
    posts: int = 0
    captures: int = 0
    blobs: int = 0
    bytes: int = 0
    kept_in_cases: int = 0
    temp_files: int = 0  # temporary files of interrupted evidence writes, older than TEMP_MAX_AGE_S, removed
    post_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff, "dry_run": self.dry_run, "posts": self.posts, "captures": self.captures,
                "blobs": self.blobs, "bytes": self.bytes, "kept_in_cases": self.kept_in_cases,
                "temp_files": self.temp_files, "post_ids": self.post_ids}


def _chunks(ids: list[int], n: int = 500):
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def _in(ids) -> str:
    return ",".join("?" * len(ids))


def purge_candidates(ws, cutoff: str) -> list[dict]:
    return rows(ws.db, "select p.id, p.dedupe_key, p.url, p.content_sha256, p.last_seen_at from posts p "  # noqa: S608
                       "where p.category = 'none' and p.last_seen_at < ? and " + PROTECTED_SQL + " order by p.id",
                [cutoff])


def purge(ws, older_than_days: int, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    if older_than_days is None or int(older_than_days) < 1:
        raise InputError("--older-than must be a whole number of days, at least 1")
    cutoff = iso((now or utcnow()) - timedelta(days=int(older_than_days)))
    rep = PurgeReport(cutoff, dry_run)
    rep.kept_in_cases = rows(ws.db, "select count(*) as n from posts p where p.category = 'none' and "  # noqa: S608
                                    "p.last_seen_at < ? and not (" + PROTECTED_SQL + ")", [cutoff])[0]["n"]
    cands = purge_candidates(ws, cutoff)
    rep.post_ids = [c["id"] for c in cands]
    rep.posts = len(cands)
    rep.temp_files = ws.store.remove_stale_temp(TEMP_MAX_AGE_S, dry_run=dry_run)
    if not cands:
        _sweep_orphans(ws, rep, dry_run)
        return rep
    db = ws.db
    cap_ids: list[int] = []
    shas: set[str] = set()
    for chunk in _chunks(rep.post_ids):
        for r in rows(db, f"select id from captures where post_id in ({_in(chunk)})", chunk):  # noqa: S608
            cap_ids.append(r["id"])
    for chunk in _chunks(cap_ids):
        for r in rows(db, f"select distinct sha256 from artifacts where capture_id in ({_in(chunk)})",  # noqa: S608
                      chunk):
            shas.add(r["sha256"])
    rep.captures = len(cap_ids)
    if dry_run:
        still = _still_referenced(ws, shas, set(cap_ids))
        gone = shas - still
        rep.blobs = len(gone)
        rep.bytes = _size(ws, gone)
        return rep
    with transaction(db):
        sellers: set[int] = set()
        for chunk in _chunks(rep.post_ids):
            sellers.update(r[0] for r in db.conn.execute(
                f"select distinct seller_id from posts where id in ({_in(chunk)}) and seller_id is not null",  # noqa: S608
                chunk))
        for chunk in _chunks(cap_ids):
            q = _in(chunk)
            db.execute(f"delete from artifacts where capture_id in ({q})", chunk)  # noqa: S608
        for chunk in _chunks(rep.post_ids):
            q = _in(chunk)
            for sql in (f"delete from entities where post_id in ({q})",  # noqa: S608
                        f"delete from post_versions where post_id in ({q})",  # noqa: S608
                        f"delete from rechecks where post_id in ({q})",  # noqa: S608
                        f"delete from alerts where post_id in ({q})",  # noqa: S608
                        f"delete from captures where post_id in ({q})",  # noqa: S608
                        f"delete from cluster_keys where post_id in ({q})",  # noqa: S608
                        f"delete from cluster_posts where post_id in ({q})"):  # noqa: S608
                db.execute(sql, chunk)
            db.execute(f"delete from seller_links where post_a in ({q}) or post_b in ({q})",  # noqa: S608
                       chunk + chunk)
            db.execute(f"update posts set status_capture_id = null where status_capture_id in "  # noqa: S608
                       f"(select id from captures where post_id in ({q}))", chunk)
            db.execute(f"delete from posts where id in ({q})", chunk)  # noqa: S608
        # the sellers the purged posts belonged to (posts clustered, then re-classified none) lose them now
        refresh_sellers(db, sellers, iso(utcnow()))
        still = _still_referenced(ws, shas, set())
        gone = sorted(shas - still)
        rep.bytes = _size(ws, gone)
        for chunk in _chunks(gone):
            db.execute(f"delete from blobs where sha256 in ({_in(chunk)})", chunk)  # noqa: S608
        rep.blobs = len(gone)
        custody.append(db, "purge", {
            "event": "retention purge", "older_than_days": int(older_than_days), "cutoff": cutoff,
            "rule": "category none, last seen before the cutoff, not in a case or notice",
            "posts": [{"id": c["id"], "key": c["dedupe_key"], "url": c["url"], "content_sha256": c["content_sha256"],
                       "last_seen_at": c["last_seen_at"]} for c in cands],
            "captures": len(cap_ids), "blobs": gone, "bytes": rep.bytes, "kept_in_cases": rep.kept_in_cases},
            subject_type="retention", subject_id=cutoff)
    for sha in gone:
        ws.store.delete(sha)
    _sweep_orphans(ws, rep, False)
    return rep


def _still_referenced(ws, shas: set[str], excluding_captures: set[int]) -> set[str]:
    out = set()
    lst = sorted(shas)
    for chunk in _chunks(lst):
        for r in rows(ws.db, f"select sha256, capture_id from artifacts where sha256 in ({_in(chunk)})",  # noqa: S608
                      chunk):
            if r["capture_id"] not in excluding_captures:
                out.add(r["sha256"])
    return out


def _size(ws, shas) -> int:
    total = 0
    lst = sorted(shas)
    for chunk in _chunks(lst):
        r = rows(ws.db, f"select coalesce(sum(size), 0) as n from blobs where sha256 in ({_in(chunk)})", chunk)  # noqa: S608
        total += r[0]["n"]
    return total


def _sweep_orphans(ws, rep: PurgeReport, dry_run: bool) -> None:
    """Blob files an interrupted purge left behind (listed in a purge entry, no row in ``blobs``) are removed."""
    if dry_run:
        return
    known = None
    for e in custody.iter_entries(ws.db, "where action = 'purge'"):
        for sha in e["details"].get("blobs") or []:
            if not isinstance(sha, str):
                continue
            try:
                if not ws.store.has(sha):
                    continue
            except Exception:  # noqa: BLE001 - not a hash: ignore
                continue
            if known is None:
                known = {r[0] for r in ws.db.conn.execute("select sha256 from blobs")}
            if sha not in known:
                ws.store.delete(sha)
