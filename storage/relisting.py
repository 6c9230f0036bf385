"""Relisting alerts: a removed seller's identifiers showing up again in new posts.

A seller counts as *removed* from the earliest of: one of its posts marked
removed/deleted (by a re-check, a crawl or the Telegram watcher), or a notice
covering its posts marked ``removed``. Any later post (first seen after that
time, still live, not written by a third party, not classified ``none``: a
warning that quotes the seller's phone is no relisting) that

- shares one of the seller's identifiers (phone, WhatsApp, Telegram handle,
  e-mail, wallet, IBAN …, from ``entities``),
- or comes from the same account (platform + handle),
- or was linked to the same seller by clustering,

raises one ``relisting`` alert (per seller and post: re-running adds nothing).
``veille status`` counts unseen alerts by kind and the daily digest lists them.
Identifiers shared by more than ``clustering.max_authors_per_identifier``
distinct authors are ignored as too common.
"""

from __future__ import annotations

import json
from typing import Any

from .db import rows, transaction
from .post import iso, utcnow

IDENTIFYING_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban")
SELLER_ROLE_SQL = "coalesce(lower(author_role), '') in ('', 'seller', 'author', 'channel', 'admin', 'owner')"


def removed_sellers(ws) -> dict[int, dict[str, Any]]:
    """Sellers with a removal, mapped to the earliest removal time and the removed posts."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows(ws.db, "select seller_id, id, status_at from posts where seller_id is not null and "
                         "status in ('removed', 'deleted') and status_at is not null"):
        s = out.setdefault(r["seller_id"], {"removed_at": r["status_at"], "posts": set()})
        s["removed_at"] = min(s["removed_at"], r["status_at"])
        s["posts"].add(r["id"])
    for r in rows(ws.db, "select p.seller_id, p.id, e.at from notices n join notice_items i on i.notice_id = n.id "
                         "join posts p on p.id = i.post_id join notice_events e on e.notice_id = n.id "
                         "where n.status = 'removed' and e.status = 'removed' and p.seller_id is not null"):
        s = out.setdefault(r["seller_id"], {"removed_at": r["at"], "posts": set()})
        s["removed_at"] = min(s["removed_at"], r["at"])
        s["posts"].add(r["id"])
    return out


def _too_common(ws, kind: str, value: str, limit: int) -> bool:
    n = ws.db.execute("select count(distinct coalesce(p.author_handle, p.author, p.id)) from entities e "
                      "join posts p on p.id = e.post_id where e.kind = ? and e.value = ?", [kind, value]).fetchone()[0]
    return n > limit


def detect_relisting(ws) -> list[dict]:
    """Raise the relisting alerts that are due; return the new ones."""
    limit = int(ws.config.get("clustering.max_authors_per_identifier", 20) or 20)
    new_alerts: list[dict] = []
    for seller_id, info in sorted(removed_sellers(ws).items()):
        since = info["removed_at"]
        idents = rows(ws.db, "select distinct e.kind, e.value from entities e join posts p on p.id = e.post_id "  # noqa: S608
                             f"where p.seller_id = ? and {SELLER_ROLE_SQL.replace('author_role', 'p.author_role')} "
                             f"and e.kind in ({','.join('?' * len(IDENTIFYING_KINDS))})",
                      [seller_id, *IDENTIFYING_KINDS])
        idents = [i for i in idents if not _too_common(ws, i["kind"], i["value"], limit)]
        accounts = rows(ws.db, "select distinct platform, author_handle from posts where seller_id = ? and "  # noqa: S608
                               f"author_handle is not null and author_handle != '' and {SELLER_ROLE_SQL}",
                        [seller_id])
        candidates: dict[int, list[dict]] = {}
        # an offer (or a post not classified yet): a warning or a testimony quoting the phone is no relisting
        base = (f"select id from posts where first_seen_at > ? and status = 'live' and {SELLER_ROLE_SQL} "  # noqa: S608
                "and coalesce(category, '') != 'none' and id not in (select post_id from notice_items i join notices n on n.id = i.notice_id "
                "where n.status = 'removed')")
        for i in idents:
            for r in rows(ws.db, base + " and id in (select post_id from entities where kind = ? and value = ?)",  # noqa: S608
                          [since, i["kind"], i["value"]]):
                candidates.setdefault(r["id"], []).append({"kind": i["kind"], "value": i["value"]})
        for a in accounts:
            for r in rows(ws.db, base + " and platform = ? and author_handle = ?",
                          [since, a["platform"], a["author_handle"]]):
                candidates.setdefault(r["id"], []).append({"kind": "account",
                                                           "value": f"{a['platform']}:{a['author_handle']}"})
        for r in rows(ws.db, base + " and seller_id = ?", [since, seller_id]):
            candidates.setdefault(r["id"], []).append({"kind": "cluster", "value": f"seller {seller_id}"})
        for post_id, matched in sorted(candidates.items()):
            if post_id in info["posts"]:
                continue
            with transaction(ws.db):
                if ws.db.execute("select 1 from alerts where kind = 'relisting' and seller_id = ? and post_id = ?",
                                 [seller_id, post_id]).fetchone():
                    continue
                p = rows(ws.db, "select platform, url, first_seen_at from posts where id = ?", [post_id])[0]
                what = ", ".join(sorted({f"{m['kind']} {m['value']}" for m in matched}))
                msg = (f"seller {seller_id} (removed {since}) is back: post {post_id} on {p['platform']} "
                       f"{p['url'] or ''} shares {what}").replace("  ", " ")
                details = {"removed_at": since, "removed_posts": sorted(info["posts"]), "matched": matched,
                           "first_seen_at": p["first_seen_at"]}
                now = iso(utcnow())
                ws.db.execute("insert into alerts(kind, at, post_id, seller_id, message, details) values "
                              "('relisting', ?, ?, ?, ?, ?)",
                              [now, post_id, seller_id, msg, json.dumps(details, ensure_ascii=False, sort_keys=True)])
                new_alerts.append({"seller_id": seller_id, "post_id": post_id, "message": msg, **details})
    return new_alerts


def relisting_alerts(ws, unseen_only: bool = False) -> list[dict]:
    sql = "select * from alerts where kind = 'relisting'" + (" and seen = 0" if unseen_only else "")  # noqa: S608
    sql += " order by id"
    out = rows(ws.db, sql)
    for a in out:
        a["details"] = json.loads(a["details"] or "{}")
    return out
