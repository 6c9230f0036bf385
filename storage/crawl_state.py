"""What the crawlers need to know from the database: URLs already seen, posts due for re-capture.

Read-only named queries for ``spiders/`` (SQL stays in ``storage/``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .db import rows
from .post import iso, utcnow


def seen_urls(ws, platform: str) -> set[str]:
    """URLs of the posts of ``platform`` already stored (skipped by the next crawl)."""
    return {r["url"] for r in rows(ws.db, "select url from posts where platform = ? and url != ''", [platform])}


def due_for_recapture(ws, platform: str, hours: float, now: datetime | None = None) -> dict[str, int]:
    """``{url: post_id}`` of live posts classified positive whose last capture is older than ``hours``."""
    cutoff = iso((now or utcnow()) - timedelta(hours=float(hours)))
    sql = ("select p.id, p.url, max(c.fetched_at) as last from posts p left join captures c on c.post_id = p.id "
           "and c.kind in ('fetch', 'recapture', 'import') where p.platform = ? and p.url != '' "
           "and p.status = 'live' and p.category is not null and p.category != 'none' group by p.id")
    return {r["url"]: r["id"] for r in rows(ws.db, sql, [platform]) if not r["last"] or r["last"] < cutoff}


def post_id_for(ws, platform: str, url: str | None = None, dedupe_key: str | None = None) -> int | None:
    if dedupe_key:
        r = rows(ws.db, "select id from posts where dedupe_key = ?", [dedupe_key])
        if r:
            return r[0]["id"]
    if url:
        r = rows(ws.db, "select id from posts where platform = ? and url = ? order by id limit 1", [platform, url])
        if r:
            return r[0]["id"]
    return None


def posts_for_recheck(ws, post_ids: list[int]) -> list[dict]:
    """id, platform, url, title, text and status of the given posts (unknown ids are left out)."""
    out = []
    for pid in post_ids:
        r = rows(ws.db, "select id, platform, url, external_id, title, text, status, category from posts "
                        "where id = ?", [int(pid)])
        if r:
            out.append(r[0])
    return out


def post_category(ws, post_id: int) -> str | None:
    r = rows(ws.db, "select category from posts where id = ?", [post_id])
    return r[0]["category"] if r else None
