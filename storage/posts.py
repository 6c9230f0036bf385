"""Saving posts, captures, verdicts and entities.

The named functions here are the only way the rest of veille writes posts:

- :func:`save_post`: a post with its capture, verdict and entities, atomically;
- :func:`add_capture`: a capture that is not (or not yet) tied to a post;
- :func:`set_verdict`, :func:`replace_entities`: re-classification;
- :func:`mark_status`: removed / deleted / live, with the proving capture;
- :func:`start_run`, :func:`finish_run`: runs of a source.

Blobs are written to the evidence store *before* the database transaction, so
a crash leaves at worst an unreferenced blob, never a row pointing nowhere.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import custody
from .db import rows, transaction
from .errors import InputError, NotFoundError
from .post import Post, iso, to_utc, utcnow

TOOL_NAME = "veille"
TOOL_VERSION = "0.1.0"


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


@dataclass
class Artifact:
    """One file a capture produced. Give ``data`` or ``path`` (or a stored ``sha256``)."""

    role: str  # raw_html, headers, json, screenshot, media, import_record, export_file ...
    data: bytes | None = None
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    mime: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Capture:
    """A dated fetch or import. Never overwritten: each one is a new row."""

    kind: str = "fetch"  # fetch | import | recapture | screenshot | embed | export
    url: str | None = None
    final_url: str | None = None
    method: str | None = "GET"
    http_status: int | None = None
    headers: dict[str, Any] | None = None
    fetched_at: datetime | None = None
    tool: str = TOOL_NAME
    tool_version: str = TOOL_VERSION
    user_agent: str | None = None
    outcome: str = "ok"  # ok | removed | blocked | error | changed
    note: str | None = None
    capture_key: str | None = None  # makes re-imports idempotent
    artifacts: list[Artifact] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SaveResult:
    post_id: int
    created: bool
    changed: bool
    capture_id: int | None
    version: int


def store_artifacts(ws, capture: Capture) -> list[Artifact]:
    """Write the capture's bytes to the evidence store; fill sha256/size/mime."""
    for a in capture.artifacts:
        if a.sha256 and a.size is not None and ws.store.has(a.sha256):
            continue  # already stored (e.g. by a batch before its transaction)
        if a.sha256 and a.data is None and a.path is None:
            if not ws.store.has(a.sha256):
                raise NotFoundError(f"artifact {a.role}: blob {a.sha256} is not in the store")
            if a.size is None:
                a.size = ws.store.path_for(a.sha256).stat().st_size
        elif a.data is not None:
            a.sha256 = ws.store.put_bytes(a.data)
            a.size = len(a.data)
        elif a.path is not None:
            a.sha256, a.size = ws.store.put_file(Path(a.path))
        else:
            raise InputError(f"artifact {a.role}: no data, path or sha256")
        if not a.mime and a.name:
            a.mime = mimetypes.guess_type(a.name)[0]
    return capture.artifacts


def _insert_capture(db, capture: Capture, post_id: int | None) -> int | None:
    """Insert capture+artifacts+custody entry. Returns None if its key exists."""
    if capture.capture_key:
        hit = db.execute("select id from captures where capture_key = ?", [capture.capture_key]).fetchone()
        if hit:
            return None
    fetched = iso(to_utc(capture.fetched_at) if capture.fetched_at else utcnow())
    cur = db.execute(
        "insert into captures(post_id, capture_key, kind, url, final_url, method, http_status, headers, "
        "fetched_at, tool, tool_version, user_agent, outcome, note, extra) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [post_id, capture.capture_key, capture.kind, capture.url, capture.final_url, capture.method,
         capture.http_status, _json(capture.headers or {}), fetched, capture.tool, capture.tool_version,
         capture.user_agent, capture.outcome, capture.note, _json(capture.extra)],
    )
    capture_id = cur.lastrowid
    now = iso(utcnow())
    for a in capture.artifacts:
        if not a.sha256:
            raise InputError(f"artifact {a.role} was not stored before saving")
        db.execute("insert or ignore into blobs(sha256, size, mime, stored_at) values (?,?,?,?)",
                   [a.sha256, a.size or 0, a.mime, now])
        db.execute("insert into artifacts(capture_id, sha256, role, name, mime, extra) values (?,?,?,?,?,?)",
                   [capture_id, a.sha256, a.role, a.name, a.mime, _json(a.extra)])
    custody.append(
        db,
        "import" if capture.kind == "import" else "capture",
        {
            "capture_id": capture_id,
            "post_id": post_id,
            "kind": capture.kind,
            "url": capture.url,
            "final_url": capture.final_url,
            "http_status": capture.http_status,
            "fetched_at": fetched,
            "outcome": capture.outcome,
            "tool": f"{capture.tool}/{capture.tool_version}",
            "artifacts": [{"role": a.role, "sha256": a.sha256, "size": a.size} for a in capture.artifacts],
        },
        subject_type="capture",
        subject_id=capture_id,
    )
    return capture_id


def add_capture(ws, capture: Capture, post_id: int | None = None) -> int | None:
    """Store a capture on its own (search pages, screenshots, re-captures)."""
    store_artifacts(ws, capture)
    with transaction(ws.db):
        return _insert_capture(ws.db, capture, post_id)


def _verdict_values(verdict) -> list:
    return [
        verdict.category,
        verdict.subtype,
        float(verdict.score),
        _json([r.to_dict() for r in verdict.reasons]),
        verdict.lexicon_version,
        iso(utcnow()),
    ]


def _write_entities(db, post_id: int, entities) -> None:
    db.execute("delete from entities where post_id = ?", [post_id])
    for e in entities or ():
        db.execute(
            'insert or ignore into entities(post_id, kind, value, raw, start, "end", extra) values (?,?,?,?,?,?,?)',
            [post_id, e.kind, e.value, e.raw, e.start, e.end, _json(e.extra)],
        )


def save_post(ws, post: Post, capture: Capture | None = None, verdict=None, entities=None,
              alert_on_offer: bool = True) -> SaveResult:
    """Save a post (new or new version), its capture, verdict and entities atomically."""
    # --- pseudonymised mode (issue 9, storage/pseudonymise.py): with workspace.pseudonymise_third_parties,
    # third parties' identifiers are replaced by keyed pseudonyms before anything is stored.
    if ws.config.get("workspace.pseudonymise_third_parties", False):
        from .pseudonymise import pseudonymise_post

        post, entities = pseudonymise_post(ws, post, entities)
    # ---
    key = post.dedupe_key()
    if capture is not None:
        store_artifacts(ws, capture)
    db = ws.db
    now = iso(utcnow())
    content_hash = post.content_hash()
    with transaction(db):
        row = db.execute("select id, content_sha256, version from posts where dedupe_key = ?", [key]).fetchone()
        created = row is None
        changed = False
        if created:
            cur = db.execute(
                "insert into posts(dedupe_key, platform, source, url, external_id, author, author_handle, "
                "author_url, author_role, title, text, price, currency, posted_at, fetched_at, lang, media, "
                "reply_to, forwarded_from, extra, content_sha256, version, first_seen_at, last_seen_at) "
                "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)",
                [key, post.platform, post.source, post.url, post.external_id, post.author, post.author_handle,
                 post.author_url, post.extra.get("role"), post.title, post.text, post.price, post.currency,
                 iso(post.posted_at), iso(post.fetched_at), post.lang, _json(post.media), post.reply_to,
                 post.forwarded_from, _json(post.extra), content_hash, now, now],
            )
            post_id = cur.lastrowid
            version = 1
        else:
            post_id, old_hash, version = row
            if old_hash != content_hash:
                changed = True
                version += 1
                db.execute(
                    "update posts set title=?, text=?, price=?, currency=?, media=?, content_sha256=?, "
                    "version=?, last_seen_at=?, fetched_at=?, extra=? where id=?",
                    [post.title, post.text, post.price, post.currency, _json(post.media), content_hash, version,
                     now, iso(post.fetched_at), _json(post.extra), post_id],
                )
            else:
                db.execute("update posts set last_seen_at=? where id=?", [now, post_id])
        capture_id = _insert_capture(db, capture, post_id) if capture is not None else None
        if created or changed:
            db.execute(
                "insert into post_versions(post_id, version, content_sha256, title, text, price, currency, media, "
                "edited_at, recorded_at, capture_id) values (?,?,?,?,?,?,?,?,?,?,?)",
                [post_id, version, content_hash, post.title, post.text, post.price, post.currency,
                 _json(post.media), post.extra.get("edited_at"), now, capture_id],
            )
            if verdict is not None:
                db.execute(
                    "update posts set category=?, subtype=?, score=?, reasons=?, lexicon_version=?, "
                    "classified_at=? where id=?",
                    [*_verdict_values(verdict), post_id],
                )
                if alert_on_offer and verdict.category != "none":
                    db.execute(
                        "insert into alerts(kind, at, post_id, message, details) values (?,?,?,?,?)",
                        ["offer", now, post_id,
                         f"{verdict.category}/{verdict.subtype or '-'} on {post.platform}: {post.url or key}",
                         _json({"score": verdict.score, "new": created})],
                    )
            if entities is not None:
                _write_entities(db, post_id, entities)
    return SaveResult(post_id, created, changed, capture_id, version)


def post_state(ws, post_id: int) -> tuple[str | None, str | None, float | None, str] | None:
    """(title, text, price, status) of a stored post, or None when there is no such post."""
    row = ws.db.execute("select title, text, price, status from posts where id = ?", [post_id]).fetchone()
    return tuple(row) if row else None


def set_verdict(ws, post_id: int, verdict, entities=None) -> None:
    with transaction(ws.db):
        ws.db.execute(
            "update posts set category=?, subtype=?, score=?, reasons=?, lexicon_version=?, classified_at=? "
            "where id=?",
            [*_verdict_values(verdict), post_id],
        )
        if entities is not None:
            _write_entities(ws.db, post_id, entities)


def replace_entities(ws, post_id: int, entities) -> None:
    with transaction(ws.db):
        _write_entities(ws.db, post_id, entities)


def mark_status(ws, post_id: int, status: str, capture_id: int | None = None, at: datetime | None = None,
                reason: str | None = None) -> None:
    """Mark a post live, removed (gone from a site) or deleted (Telegram); nothing is erased."""
    if status not in ("live", "removed", "deleted"):
        raise InputError(f"unknown post status {status!r}")
    when = iso(to_utc(at) if at else utcnow())
    with transaction(ws.db):
        row = ws.db.execute("select status from posts where id=?", [post_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no post {post_id}")
        if row[0] == status:
            return
        ws.db.execute("update posts set status=?, status_at=?, status_capture_id=? where id=?",
                      [status, when, capture_id, post_id])
        custody.append(ws.db, "removal" if status != "live" else "recheck",
                       {"post_id": post_id, "status": status, "previous": row[0], "capture_id": capture_id,
                        "reason": reason, "at": when},
                       subject_type="post", subject_id=post_id)
        if status != "live":
            ws.db.execute("insert into alerts(kind, at, post_id, message, details) values (?,?,?,?,?)",
                          ["removed", when, post_id, f"post {post_id} {status}" + (f": {reason}" if reason else ""),
                           _json({"capture_id": capture_id})])


def find_post(ws, post_id: int | None = None, dedupe_key: str | None = None, url: str | None = None) -> dict | None:
    if post_id is not None:
        r = rows(ws.db, "select * from posts where id = ?", [post_id])
    elif dedupe_key is not None:
        r = rows(ws.db, "select * from posts where dedupe_key = ?", [dedupe_key])
    elif url is not None:
        r = rows(ws.db, "select * from posts where url = ? order by id limit 1", [url])
    else:
        raise ValueError("give post_id, dedupe_key or url")
    return r[0] if r else None


def get_post(ws, post_id: int) -> dict:
    p = find_post(ws, post_id=post_id)
    if p is None:
        raise NotFoundError(f"no post with id {post_id}")
    return p


def row_to_post(row: dict) -> Post:
    """Rebuild a Post from a posts row (for re-classification, exports)."""
    return Post(
        platform=row["platform"], source=row["source"], url=row["url"], external_id=row["external_id"],
        author=row["author"], author_handle=row["author_handle"], author_url=row["author_url"],
        title=row["title"] or "", text=row["text"] or "", price=row["price"], currency=row["currency"],
        posted_at=to_utc(row["posted_at"]), fetched_at=to_utc(row["fetched_at"]), lang=row["lang"],
        media=json.loads(row["media"] or "[]"), reply_to=row["reply_to"], forwarded_from=row["forwarded_from"],
        extra=json.loads(row["extra"] or "{}"),
    )


def captures_for_post(ws, post_id: int) -> list[dict]:
    caps = rows(ws.db, "select * from captures where post_id = ? order by id", [post_id])
    for c in caps:
        c["artifacts"] = rows(ws.db, "select sha256, role, name, mime from artifacts where capture_id = ?", [c["id"]])
    return caps


def entities_for_post(ws, post_id: int) -> list[dict]:
    return rows(ws.db, 'select kind, value, raw, start, "end", extra from entities where post_id = ? order by start',
                [post_id])


# ---------------------------------------------------------------------- runs
def start_run(ws, source: str, kind: str) -> int:
    with transaction(ws.db):
        cur = ws.db.execute("insert into runs(source, kind, started_at) values (?,?,?)", [source, kind, iso(utcnow())])
        return cur.lastrowid


def finish_run(ws, run_id: int, status: str, items: int = 0, error: str | None = None) -> None:
    if status not in ("ok", "failed", "blocked", "partial", "interrupted"):
        raise InputError(f"unknown run status {status!r}")
    with transaction(ws.db):
        ws.db.execute("update runs set finished_at=?, status=?, items=?, error=? where id=?",
                      [iso(utcnow()), status, items, (error or None) and error[:2000], run_id])
