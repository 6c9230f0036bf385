"""Snowball discovery of channels, and keyword search of public channels.

:func:`discover` reads the posts classified positive (any platform: an ad on a
classifieds site that says "contact @x" counts) and collects the Telegram
channels they reference:

- forwards (``forwarded_from`` / ``extra.forwarded``) whose origin has a public name;
- ``t.me/<name>`` links in the text and in link entities;
- ``@mentions``.

Each candidate is ranked by the number of distinct positive posts referencing
it. Only candidates referenced by at least ``telegram.discover_min_refs`` posts
are listed. Depth: a channel in ``telegram.channels`` (or a post not from a
watched channel, e.g. an import) is depth 0; a channel found from posts of a
depth-*d* channel is depth *d+1*; candidates deeper than
``telegram.discover_max_depth`` are not listed. ``--add`` writes them to the
watch list (table ``telegram_channels``) with their depth, so the next
``discover`` goes one hop further from them.

Offline, a mention cannot be told apart from a person's account; candidates
are therefore marked ``unverified`` until ``veille telegram watch``/``backfill``
resolves them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from storage.telegram_store import add_channels, positive_telegram_sources, watchlist

_TME_RE = re.compile(r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})\b",
                     re.I)
_MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_]{3,31})\b")
_RESERVED = {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "addlist", "contact",
             "setlanguage", "addtheme", "login", "confirmphone", "bg", "invoice", "boost", "giftcode", "c", "s"}


def refs_in(text: str, forwarded_from: str | None = None, extra: dict | None = None) -> set[str]:
    """Public channel/user names a post references (lower case)."""
    out: set[str] = set()
    blob = text or ""
    extra = extra or {}
    for e in extra.get("entities") or []:
        if isinstance(e, dict) and e.get("href"):
            blob += " " + str(e["href"])
    for m in _TME_RE.finditer(blob):
        out.add(m.group(1).lower())
    for m in _MENTION_RE.finditer(text or ""):
        out.add(m.group(1).lower())
    fwd = extra.get("forwarded") if isinstance(extra.get("forwarded"), dict) else {}
    if fwd.get("channel"):
        out.add(str(fwd["channel"]).lower())
    for src in (forwarded_from or "", fwd.get("url") or ""):
        m = _TME_RE.search(src)
        if m:
            out.add(m.group(1).lower())
    return {r for r in out if r not in _RESERVED}


@dataclass
class Candidate:
    name: str
    refs: int
    depth: int
    post_ids: list[int] = field(default_factory=list)
    via: dict[str, int] = field(default_factory=dict)
    kind: str = "unverified"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": f"https://t.me/{self.name}", "refs": self.refs, "depth": self.depth,
                "kind": self.kind, "via": self.via, "post_ids": self.post_ids[:20]}


def discover(ws, min_refs: int | None = None, max_depth: int | None = None) -> list[Candidate]:
    cfg = ws.config
    min_refs = int(min_refs if min_refs is not None else cfg.get("telegram.discover_min_refs", 2))
    max_depth = int(max_depth if max_depth is not None else cfg.get("telegram.discover_max_depth", 2))
    watched = {w["name"]: int(w["depth"]) for w in watchlist(ws, cfg.get("telegram.channels") or [])}
    found: dict[str, Candidate] = {}
    for row in positive_telegram_sources(ws):
        try:
            extra = json.loads(row["extra"] or "{}")
        except ValueError:
            extra = {}
        src = (row["source"] or "").lower() if row["platform"] == "telegram" else ""
        depth = watched.get(src, 0) + 1
        if depth > max_depth:
            continue
        for name in refs_in(row["text"] or "", row["forwarded_from"], extra):
            if name == src or name in watched:
                continue
            c = found.setdefault(name, Candidate(name, 0, depth))
            if row["id"] not in c.post_ids:
                c.post_ids.append(row["id"])
                c.refs += 1
            c.depth = min(c.depth, depth)
            key = "forward" if (extra.get("forwarded") or {}).get("channel") == name else "link_or_mention"
            c.via[key] = c.via.get(key, 0) + 1
    out = [c for c in found.values() if c.refs >= min_refs]
    for c in out:
        if c.name.endswith("bot"):
            c.kind = "bot"
    out.sort(key=lambda c: (-c.refs, c.depth, c.name))
    return out


def add_candidates(ws, candidates: list[Candidate]) -> int:
    return add_channels(ws, [{"name": c.name, "depth": c.depth, "refs": c.refs,
                              "note": f"discovered from {c.refs} positive post(s)"} for c in candidates],
                        added_by="discover")


async def search_public(seam, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Public channels and groups matching ``query`` (``contacts.Search``)."""
    from .convert import chat_ref_from_entity

    q = (query or "").strip()
    if len(q) < 2:
        from storage.errors import InputError

        raise InputError("search query must have at least 2 characters")
    res = await seam.search(q, limit=limit)
    out = []
    for ch in getattr(res, "chats", []) or []:
        ref = chat_ref_from_entity(ch)
        out.append({"name": ref.username, "title": ref.title, "id": ref.chat_id, "kind": ref.kind,
                    "members": getattr(ch, "participants_count", None),
                    "url": f"https://t.me/{ref.username}" if ref.username else None})
    return out
