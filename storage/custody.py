"""Append-only custody log with a SHA-256 hash chain.

Each entry's ``entry_hash`` is the SHA-256 of its canonical JSON (sequence,
time, action, actor, subject, details and the previous entry's hash), so an
edited, inserted or deleted row breaks the chain. Entries are written in the
same transaction as the change they record.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
from typing import Any

import sqlite_utils

from .db import transaction
from .post import iso, utcnow

GENESIS = "0" * 64

ACTIONS = {
    "capture", "import", "export", "redaction", "verification", "decision",
    "removal", "purge", "notice", "case", "recheck", "cluster", "keys", "workspace",
}


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: entry[k] for k in ("seq", "at", "action", "actor", "subject_type", "subject_id", "details",
                                  "prev_hash")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@functools.lru_cache(maxsize=1)
def default_actor() -> str:
    try:
        return f"veille:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "veille"


def append(db: sqlite_utils.Database, action: str, details: dict[str, Any], *,
           subject_type: str | None = None, subject_id: Any = None, actor: str | None = None,
           at: str | None = None) -> dict[str, Any]:
    """Append one entry; joins the caller's transaction when there is one."""
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    with transaction(db):
        last = db.execute("select seq, entry_hash from custody_log order by seq desc limit 1").fetchone()
        seq = (last[0] + 1) if last else 1
        prev = last[1] if last else GENESIS
        entry = {
            "seq": seq,
            "at": at or iso(utcnow()),
            "action": action,
            "actor": actor or default_actor(),
            "subject_type": subject_type,
            "subject_id": None if subject_id is None else str(subject_id),
            "details": details,
            "prev_hash": prev,
        }
        entry["entry_hash"] = entry_hash(entry)
        db.execute(
            "insert into custody_log(seq, at, action, actor, subject_type, subject_id, details, prev_hash, "
            "entry_hash) values (?,?,?,?,?,?,?,?,?)",
            [seq, entry["at"], action, entry["actor"], entry["subject_type"], entry["subject_id"],
             canonical_json(details).decode("utf-8"), prev, entry["entry_hash"]],
        )
    return entry


def row_to_entry(row: dict[str, Any] | tuple) -> dict[str, Any]:
    if not isinstance(row, dict):
        keys = ("seq", "at", "action", "actor", "subject_type", "subject_id", "details", "prev_hash", "entry_hash")
        row = dict(zip(keys, row, strict=True))
    entry = dict(row)
    entry["details"] = json.loads(entry["details"]) if isinstance(entry["details"], str) else entry["details"]
    return entry


def iter_entries(db: sqlite_utils.Database, where: str = "", params: list | tuple = ()):
    sql = ("select seq, at, action, actor, subject_type, subject_id, details, prev_hash, entry_hash "
           "from custody_log " + where + " order by seq")
    cur = db.conn.execute(sql, params)
    for row in cur:
        yield row_to_entry(row)


def verify_entries(entries) -> list[str]:
    """Check hashes and links of a sequence of entries; return problems.

    Works on a whole log (starting at seq 1) or on any contiguous run of
    entries; a gap between two consecutive entries is reported as such.
    """
    problems: list[str] = []
    prev_hash = None
    prev_seq = None
    for e in entries:
        try:
            computed = entry_hash(e)
        except (KeyError, TypeError) as exc:
            problems.append(f"custody entry {e.get('seq')}: malformed ({exc})")
            continue
        if computed != e.get("entry_hash"):
            problems.append(f"custody entry {e['seq']}: content does not match its entry_hash")
        if prev_seq is None:
            if e["seq"] == 1 and e["prev_hash"] != GENESIS:
                problems.append("custody entry 1: prev_hash is not the genesis hash")
        elif e["seq"] == prev_seq + 1:
            if e["prev_hash"] != prev_hash:
                problems.append(f"custody entry {e['seq']}: prev_hash does not match entry {prev_seq}")
        prev_hash = e.get("entry_hash")
        prev_seq = e["seq"]
    return problems


def verify_chain(db: sqlite_utils.Database) -> tuple[int, list[str]]:
    """Verify the whole log; return (entries checked, problems)."""
    problems: list[str] = []
    count = 0
    expected_seq = 1
    prev = GENESIS
    for e in iter_entries(db):
        count += 1
        if e["seq"] != expected_seq:
            problems.append(f"custody log: entry {expected_seq} is missing (next is {e['seq']})")
            expected_seq = e["seq"]
        if entry_hash(e) != e["entry_hash"]:
            problems.append(f"custody entry {e['seq']}: content does not match its entry_hash")
        if e["prev_hash"] != prev:
            problems.append(f"custody entry {e['seq']}: prev_hash does not match the previous entry")
        prev = e["entry_hash"]
        expected_seq += 1
    return count, problems


def head(db: sqlite_utils.Database) -> dict[str, Any] | None:
    row = db.execute("select seq, at, action, actor, subject_type, subject_id, details, prev_hash, entry_hash "
                     "from custody_log order by seq desc limit 1").fetchone()
    return row_to_entry(row) if row else None
