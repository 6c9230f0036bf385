"""Pseudonymised mode: third parties' identifiers stored pseudonymised from the start.

With ``workspace.pseudonymise_third_parties = true`` in ``veille.toml``,
:func:`storage.posts.save_post` passes every post through
:func:`pseudonymise_post` before saving it. For a post whose author is a third
party (``extra.role`` / ``author_role`` other than seller, channel, admin …:
buyers, victims, people who replied, non-seller members of exported chats):

- ``author``, ``author_handle`` and ``author_url`` become keyed pseudonyms
  (HMAC-SHA-256 with a per-workspace key, ``keys/pseudonym.key``, mode 0600),
  the same person always getting the same pseudonym, so conversations stay
  readable and countable;
- the identifiers extracted from the text (phones, messaging handles, e-mails,
  wallets, IBANs) are replaced in the stored text and in ``entities`` by their
  pseudonyms; identity fields of ``extra`` (``from_id``, ``sender_id``,
  ``username`` …) too.

Sellers' posts are never changed. The raw evidence files (the imported export,
the captured page) are kept byte for byte as captured: a court needs the
untouched originals, and bundles redact their working copies separately.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import secrets

from .workspace import write_private

KEY_FILE = "keys/pseudonym.key"
SELLER_ROLES = {"", "seller", "author", "channel", "admin", "owner"}
IDENTIFYING_KINDS = {"phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban"}
EXTRA_IDENTITY_KEYS = ("from_id", "sender_id", "sender_username", "sender_name", "username", "user_id", "phone",
                       "author_id")


def enabled(ws) -> bool:
    return bool(ws.config.get("workspace.pseudonymise_third_parties", False))


def is_third_party(post) -> bool:
    role = str((post.extra or {}).get("role") or "").strip().lower()
    return bool(role) and role not in SELLER_ROLES


def workspace_key(ws) -> bytes:
    path = ws.path(KEY_FILE)
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) if path.parent.is_dir() else None
    except FileExistsError:
        return path.read_bytes()  # another process created it first
    if fd is None:
        write_private(path, key)
        return key
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def pseudonym(key: bytes, kind: str, value: str) -> str:
    norm = re.sub(r"\s+", "", str(value).strip().lower().lstrip("@"))
    digest = hmac.new(key, f"{kind}:{norm}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"[{kind}-{digest}]"


def pseudonymise_post(ws, post, entities=None):
    """Return (post, entities), pseudonymised when the workspace asks for it and the author is a third party."""
    if not enabled(ws) or not is_third_party(post):
        return post, entities
    key = workspace_key(ws)
    p = dataclasses.replace(post, extra=dict(post.extra or {}))
    if p.author:
        p.author = pseudonym(key, "person", p.author)
    if p.author_handle:
        p.author_handle = pseudonym(key, "account", p.author_handle)
    if p.author_url:
        p.author_url = None
    for k in EXTRA_IDENTITY_KEYS:
        if p.extra.get(k) not in (None, ""):
            p.extra[k] = pseudonym(key, "account" if k != "phone" else "phone", str(p.extra[k]))
    new_entities = entities
    if entities:
        full = post.full_text
        offset = len(post.title) + 1 if post.title and post.text else 0
        spans = sorted((e for e in entities if e.kind in IDENTIFYING_KINDS), key=lambda e: e.start)
        done: list[tuple[int, int, int]] = []  # (old start, old end, length change), absolute offsets
        pieces, prev_end, out = [], 0, []
        for e in spans:
            s, t = e.start - offset, e.end - offset
            if s < prev_end or s < 0 or t > len(post.text) or post.text[s:t] != full[e.start:e.end]:
                continue  # overlapping, or in the title
            alias = pseudonym(key, e.kind, e.value)
            pieces.append(post.text[prev_end:s])
            new_start = offset + sum(len(x) for x in pieces)
            pieces.append(alias)
            out.append(dataclasses.replace(e, value=alias, raw=alias, start=new_start, end=new_start + len(alias)))
            done.append((e.start, e.end, len(alias) - (e.end - e.start)))
            prev_end = t
        if done:
            pieces.append(post.text[prev_end:])
            p.text = "".join(pieces)
            replaced = {(e.kind, e.start) for e in spans if any(d[0] == e.start for d in done)}
            keep = []
            for e in entities:
                if (e.kind, e.start) in replaced or any(a0 < e.end and e.start < a1 for (a0, a1, _) in done):
                    continue  # replaced, or inside a replaced identifier
                if e.kind in IDENTIFYING_KINDS:
                    e = dataclasses.replace(e, value=pseudonym(key, e.kind, e.value), raw=pseudonym(key, e.kind, e.value))
                delta = sum(d for (a0, a1, d) in done if a1 <= e.start)
                keep.append(dataclasses.replace(e, start=e.start + delta, end=e.end + delta))
            merged = sorted(keep + out, key=lambda e: e.start)
            new_entities = type(entities)(merged) if isinstance(entities, list) else merged
    p.extra["pseudonymised"] = True
    return p, new_entities
