"""Live watching: ``NewMessage``, ``MessageEdited`` and ``MessageDeleted`` handlers.

- a new message is classified, saved with its raw ``to_dict()`` JSON, and an
  alert is printed (and stored by ``save_post``) when it is an offer;
- an edit whose text or media changed is saved as a new version (the previous
  versions stay in ``post_versions``);
- a deletion marks the stored message ``deleted`` with the time, through
  ``storage.posts.mark_status``; nothing is erased. The deletion update itself
  is kept as evidence.

:func:`register_handlers` works on any ``TelegramClient``: tests use one that
is never connected and dispatch locally built updates to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.errors import SourceError
from storage.ingest import ingest
from storage.post import utcnow
from storage.posts import Artifact, Capture
from storage.telegram_store import add_keyword_alert, mark_messages_deleted

from .backfill import message_to_capture, resolve
from .convert import ChatRef, chat_ref, chat_ref_from_entity, normalise_sellers, tl_json

log = logging.getLogger("veille.telegram")


@dataclass
class WatchState:
    chats: dict[int, ChatRef] = field(default_factory=dict)  # Telethon peer id (marked) → chat
    new: int = 0
    edited: int = 0
    deleted: int = 0
    alerts: int = 0
    errors: int = 0


def _fold(text: str) -> str:
    import unicodedata

    t = unicodedata.normalize("NFKD", text or "").casefold()
    return " ".join("".join(c for c in t if not unicodedata.combining(c)).split())


def keyword_hits(text: str, keywords: list[str]) -> list[str]:
    """The keywords found in ``text`` (case, accents and spacing ignored; whole words at the edges)."""
    import re

    folded = _fold(text)
    out = []
    for k in keywords:
        fk = _fold(str(k))
        if fk and re.search(r"(?<!\w)" + re.escape(fk) + r"(?!\w)", folded):
            out.append(str(k))
    return out


async def _chat_of(event, state: WatchState) -> ChatRef:
    cid = event.chat_id
    if cid in state.chats:
        return state.chats[cid]
    try:
        ent = await event.get_chat()
    except Exception:  # noqa: BLE001 - unknown entity offline: fall back to the id
        ent = None
    if ent is not None:
        ref = chat_ref_from_entity(ent)
    else:
        bare = abs(cid) % 1_000_000_000_000 if cid is not None else None
        ref = chat_ref(bare, "channel" if cid is not None and cid < -1_000_000_000_000 else "group")
    if cid is not None:
        state.chats[cid] = ref
    return ref


def register_handlers(client, ws, seam=None, chats: list[Any] | None = None,
                      on_alert: Callable[[dict], None] | None = None,
                      on_event: Callable[[str, dict], None] | None = None) -> WatchState:
    """Attach the three handlers to ``client``; ``chats`` limits them (entities, ids or names)."""
    from telethon import events

    state = WatchState()
    max_media = int(ws.config.get("telegram.max_media_bytes", 15_000_000))
    sellers = normalise_sellers(ws.config.get("telegram.sellers"))
    max_wait = int(ws.config.get("telegram.max_flood_wait", 900))
    keywords = [str(k) for k in (ws.config.get("telegram.alert_keywords") or []) if str(k).strip()]

    def note(kind: str, info: dict) -> None:
        if on_event:
            on_event(kind, info)

    async def store(event, kind: str) -> None:
        try:
            chat = await _chat_of(event, state)
            post, cap = await message_to_capture(seam, event.message, chat, "telethon_live", max_media,
                                                 "veille telegram watch", sellers, max_wait)
            res = ingest(ws, post, cap)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the watcher
            state.errors += 1
            log.warning("could not store a %s message: %s: %s", kind, type(exc).__name__, exc)
            note("error", {"kind": kind, "error": f"{type(exc).__name__}: {exc}"})
            return
        if kind == "new":
            state.new += 1
        else:
            state.edited += 1
        note(kind, {"post_id": res.save.post_id, "external_id": post.external_id, "created": res.save.created,
                    "changed": res.save.changed, "version": res.save.version})
        if not (res.save.created or res.save.changed):
            return
        if res.positive:  # classifier alert (stored by save_post)
            v = res.analysis.verdict
            state.alerts += 1
            alert = {"kind": "offer", "post_id": res.save.post_id, "chat": chat.key, "external_id": post.external_id,
                     "url": post.url, "category": v.category, "subtype": v.subtype,
                     "score": round(float(v.score), 3), "edit": kind == "edit"}
            if on_alert:
                on_alert(alert)
        hits = keyword_hits(post.full_text, keywords) if keywords else []
        if hits:  # keyword alert, whatever the classifier said
            try:
                add_keyword_alert(ws, res.save.post_id, hits, post.url)
            except Exception as exc:  # noqa: BLE001 - the message is stored; only the alert row failed
                state.errors += 1
                log.warning("could not store a keyword alert: %s: %s", type(exc).__name__, exc)
                return
            state.alerts += 1
            if on_alert:
                on_alert({"kind": "keyword", "keywords": hits, "post_id": res.save.post_id, "chat": chat.key,
                          "external_id": post.external_id, "url": post.url, "edit": kind == "edit"})

    async def on_new(event) -> None:
        await store(event, "new")

    async def on_edit(event) -> None:
        await store(event, "edit")

    async def on_delete(event) -> None:
        try:
            ids = list(event.deleted_ids or [])
            upd = event.original_update
            raw = tl_json(upd.to_dict()) if hasattr(upd, "to_dict") else b"{}"
            cap = Capture(kind="event", method=None, outcome="removed", tool="veille telegram watch",
                          fetched_at=utcnow(), note=f"deletion of {len(ids)} message(s) reported by Telegram",
                          artifacts=[Artifact(role="json", data=raw, mime="application/json",
                                              name="deletion-update.json")],
                          extra={"via": "telethon_live", "deleted_ids": ids[:1000]})
            if event.chat_id is not None:
                chat = await _chat_of(event, state)
                marked = mark_messages_deleted(ws, chat.key, ids, capture=cap, at=utcnow())
            else:
                # private chats and basic groups: message ids are unique per account
                marked = []
                for key in {c.key for c in state.chats.values() if c.key.startswith("chat/")}:
                    marked += mark_messages_deleted(ws, key, ids, capture=cap, at=utcnow())
        except Exception as exc:  # noqa: BLE001
            state.errors += 1
            log.warning("could not record a deletion: %s: %s", type(exc).__name__, exc)
            return
        state.deleted += len(marked)
        note("delete", {"ids": ids, "post_ids": marked})

    client.add_event_handler(on_new, events.NewMessage(chats=chats))
    client.add_event_handler(on_edit, events.MessageEdited(chats=chats))
    client.add_event_handler(on_delete, events.MessageDeleted(chats=chats))
    return state


async def run_watch(ws, client, seam, channels: list[str], on_alert=None, on_event=None) -> WatchState:
    """Connect, resolve the channels, attach the handlers and run until disconnected."""
    await seam.connect()
    if not await seam.is_user_authorized():
        await seam.disconnect()
        raise SourceError("no Telegram session: run 'veille telegram login' first")
    entities = []
    refs: dict[int, ChatRef] = {}
    skipped: list[str] = []
    from telethon import utils

    try:
        for i, ch in enumerate(channels):
            if i:
                await seam.sleep(seam.pace)
            try:
                ent = await resolve(seam, ch)
            except SourceError as exc:  # a channel that does not exist or is private stops no other
                skipped.append(str(exc))
                log.warning("not watched: %s", exc)
                if on_event:
                    on_event("skipped", {"channel": str(ch), "error": str(exc)})
                continue
            entities.append(ent)
            refs[utils.get_peer_id(ent)] = chat_ref_from_entity(ent)
    except BaseException:
        await seam.disconnect()
        raise
    if not entities:
        await seam.disconnect()
        if skipped:
            raise SourceError("nothing to watch: " + "; ".join(skipped))
        raise SourceError("nothing to watch: set telegram.channels in veille.toml or use 'telegram discover --add'")
    from storage.telegram_store import apply_seller_roles

    apply_seller_roles(ws, normalise_sellers(ws.config.get("telegram.sellers")))  # sellers added since last run
    state = register_handlers(client, ws, seam, chats=entities, on_alert=on_alert, on_event=on_event)
    state.chats.update(refs)
    try:
        await seam.run_until_disconnected()
    finally:
        await seam.disconnect()
    return state
