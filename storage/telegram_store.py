"""Storage for the Telegram sources (issue 5): the SQL that ``telegram_watch`` needs.

- backfill progress per chat (``telegram_sync``): the highest message id whose
  batch was committed by a Telethon backfill, so a new run resumes after it;
- the watch list (``telegram_channels``): channels added by ``veille telegram
  discover --add`` or by hand, on top of ``telegram.channels`` in the config;
- lookups of stored messages by chat and id, deletions (through
  :func:`storage.posts.mark_status`, nothing erased) and the positive posts that
  discovery reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .db import rows, transaction
from .errors import InputError
from .post import iso, utcnow
from .posts import Capture, add_capture, mark_status


def message_key(chat: str, msg_id: int | str) -> str:
    """The dedupe key of a Telegram message (see ``Post.dedupe_key``)."""
    return f"telegram:id:{chat}/{msg_id}"


# ----------------------------------------------------------------- backfill
def last_backfill_id(ws, chat: str) -> int:
    r = ws.db.execute("select last_backfill_id from telegram_sync where chat = ?", [chat]).fetchone()
    return int(r[0]) if r else 0


def set_backfill_id(ws, chat: str, msg_id: int) -> None:
    """Record that every message of ``chat`` up to ``msg_id`` is stored (never moves back)."""
    now = iso(utcnow())
    with transaction(ws.db):
        ws.db.execute(
            "insert into telegram_sync(chat, last_backfill_id, updated_at) values (?,?,?) "
            "on conflict(chat) do update set last_backfill_id = max(last_backfill_id, excluded.last_backfill_id), "
            "updated_at = excluded.updated_at",
            [chat, int(msg_id), now])


def sync_state(ws) -> list[dict]:
    return rows(ws.db, "select chat, last_backfill_id, updated_at from telegram_sync order by chat")


def max_stored_message_id(ws, chat: str) -> int:
    """Highest message id stored for ``chat`` from any route (preview, export, live)."""
    r = ws.db.execute(
        "select max(cast(substr(external_id, length(?) + 2) as integer)) from posts "
        "where platform = 'telegram' and external_id like ? escape '\\'",
        [chat, chat.replace("_", "\\_").replace("%", "\\%") + "/%"]).fetchone()
    return int(r[0] or 0)


# ----------------------------------------------------------------- messages
def find_message(ws, chat: str, msg_id: int | str) -> dict | None:
    r = rows(ws.db, "select id, status, content_sha256, version from posts where dedupe_key = ?",
             [message_key(chat, msg_id)])
    return r[0] if r else None


def stored_media(ws, chat: str, msg_id: int | str) -> list[dict]:
    """The ``media`` list of a stored message (current version), or [] when it is not stored."""
    import json

    r = ws.db.execute("select media from posts where dedupe_key = ?", [message_key(chat, msg_id)]).fetchone()
    if not r or not r[0]:
        return []
    try:
        media = json.loads(r[0])
    except ValueError:
        return []
    return [m for m in media if isinstance(m, dict)] if isinstance(media, list) else []


def has_capture_kind(ws, post_id: int, kind: str) -> bool:
    """Whether the post has a successful capture of this kind (e.g. a ``screenshot``)."""
    return ws.db.execute("select 1 from captures where post_id = ? and kind = ? and outcome = 'ok' limit 1",
                         [post_id, kind]).fetchone() is not None


def capture_key_exists(ws, key: str) -> bool:
    return ws.db.execute("select 1 from captures where capture_key = ?", [key]).fetchone() is not None


def mark_messages_deleted(ws, chat: str, msg_ids: Iterable[int], capture: Capture | None = None,
                          at=None, reason: str = "deleted on Telegram") -> list[int]:
    """Mark stored messages of ``chat`` deleted (with the time); return the post ids marked.

    The capture (e.g. the raw deletion update) is stored once, tied to the first
    post; each post's status points to it. Messages never stored are ignored.
    """
    found = []
    for mid in msg_ids:
        row = find_message(ws, chat, mid)
        if row is not None and row["status"] != "deleted":
            found.append(row["id"])
    if not found:
        return []
    capture_id = add_capture(ws, capture, found[0]) if capture is not None else None
    for pid in found:
        mark_status(ws, pid, "deleted", capture_id=capture_id, at=at, reason=reason)
    return found


def add_keyword_alert(ws, post_id: int, keywords: list[str], url: str | None) -> int:
    """Store a ``keyword`` alert: a watched message contains words of ``telegram.alert_keywords``."""
    import json

    with transaction(ws.db):
        cur = ws.db.execute(
            "insert into alerts(kind, at, post_id, message, details) values (?,?,?,?,?)",
            ["keyword", iso(utcnow()), post_id,
             f"keyword {', '.join(keywords)[:200]!s} on telegram: {url or post_id}",
             json.dumps({"keywords": keywords}, ensure_ascii=False)])
        return int(cur.lastrowid)


def apply_seller_roles(ws, sellers: Iterable[str]) -> list[int]:
    """Mark as ``seller`` the stored Telethon messages of senders now listed in ``telegram.sellers``.

    A sender added to the list after their messages were read keeps no
    ``third_party`` role on them (bundles would redact the seller). Only
    ``third_party`` → ``seller`` is done (never the other way); each change is
    a custody entry. ``sellers`` are normalised references (ids, ``user<id>``,
    lower-case usernames). Returns the post ids changed.
    """
    from . import custody

    refs = {str(s).strip().lstrip("@").lower() for s in sellers if str(s).strip()}
    if not refs:
        return []
    changed = []
    cur = ws.db.execute(
        "select id, json_extract(extra, '$.sender_id'), lower(json_extract(extra, '$.sender_username')) from posts "
        "where platform = 'telegram' and author_role = 'third_party' and json_extract(extra, '$.via') like 'telethon%'")
    for pid, sid, uname in cur.fetchall():
        mine = ({str(sid), f"user{sid}"} if sid is not None else set()) | ({uname} if uname else set())
        if mine & refs:
            changed.append(pid)
    if not changed:
        return []
    with transaction(ws.db):
        for pid in changed:
            ws.db.execute("update posts set author_role = 'seller', extra = json_set(extra, '$.role', 'seller') "
                          "where id = ?", [pid])
            custody.append(ws.db, "decision", {"event": "author role set to seller", "previous": "third_party",
                                               "reason": "sender listed in telegram.sellers"},
                           subject_type="post", subject_id=pid)
    return changed


# ----------------------------------------------------------------- watch list
def watchlist(ws, config_channels: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Channels to watch: the config's (depth 0) and the active rows of ``telegram_channels``."""
    out: dict[str, dict[str, Any]] = {}
    for name in config_channels:
        out[name] = {"name": name, "added_by": "config", "depth": 0, "refs": 0, "note": None}
    for r in rows(ws.db, "select name, added_by, depth, refs, note from telegram_channels where active = 1 "
                         "order by depth, name"):
        out.setdefault(r["name"], r)
    return list(out.values())


def add_channels(ws, channels: Iterable[dict[str, Any]], added_by: str) -> int:
    """Add channels ``{"name", "depth", "refs", "note"}`` to the watch list; return how many were new."""
    now = iso(utcnow())
    n = 0
    with transaction(ws.db):
        for c in channels:
            name = c.get("name")
            if not isinstance(name, str) or not name:
                raise InputError("a watch-list entry needs a channel name")
            cur = ws.db.execute(
                "insert into telegram_channels(name, added_at, added_by, depth, refs, note) values (?,?,?,?,?,?) "
                "on conflict(name) do update set active = 1",
                [name, now, added_by, int(c.get("depth", 0)), int(c.get("refs", 0)), c.get("note")])
            n += cur.rowcount > 0
    return n


def remove_channel(ws, name: str) -> bool:
    with transaction(ws.db):
        cur = ws.db.execute("update telegram_channels set active = 0 where name = ? and active = 1", [name])
        return cur.rowcount > 0


def positive_telegram_sources(ws) -> Iterator[dict[str, Any]]:
    """Positive posts (any platform) with what discovery reads: source, text, forward, extra."""
    cur = ws.db.execute(
        "select id, platform, source, text, forwarded_from, extra from posts "
        "where category is not null and category != 'none' order by id")
    cols = [c[0] for c in cur.description]
    for row in cur:
        yield dict(zip(cols, row, strict=True))
