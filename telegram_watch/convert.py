"""Telethon messages (live objects or their ``to_dict()`` JSON) → :class:`Post`.

One code path for the three routes that see Telethon messages: the live
watcher, the backfill and the import of saved ``to_dict()`` lists. A live
message is first turned into its ``to_dict()``; the converter only reads
dicts, so a message imported from a file gives exactly the Post it gave live.

Chats are named by a *chat key*: the public username in lower case when the
chat has one (``external_id`` ``"<username>/<id>"``, url
``https://t.me/<username>/<id>``), ``c/<id>`` for a channel or supergroup
without one (url ``https://t.me/c/<id>/<msg>``, members only), ``chat/<id>``
for private chats and basic groups (no url).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage.errors import InputError
from storage.post import Post, to_utc, utcnow

TME = "https://t.me"

_ENTITY_TYPES = {
    "MessageEntityUrl": "url", "MessageEntityTextUrl": "text_link", "MessageEntityMention": "mention",
    "MessageEntityMentionName": "mention_name", "InputMessageEntityMentionName": "mention_name",
    "MessageEntityHashtag": "hashtag", "MessageEntityCashtag": "cashtag", "MessageEntityEmail": "email",
    "MessageEntityPhone": "phone", "MessageEntityBotCommand": "bot_command", "MessageEntityBold": "bold",
    "MessageEntityItalic": "italic", "MessageEntityUnderline": "underline", "MessageEntityStrike": "strike",
    "MessageEntityCode": "code", "MessageEntityPre": "pre", "MessageEntitySpoiler": "spoiler",
    "MessageEntityBlockquote": "blockquote", "MessageEntityBankCard": "bank_card",
    "MessageEntityCustomEmoji": "custom_emoji",
}


@dataclass(frozen=True)
class ChatRef:
    key: str
    title: str | None = None
    username: str | None = None
    chat_id: int | None = None
    kind: str = "channel"  # channel | megagroup | group | user

    def url_for(self, msg_id: int) -> str:
        if self.username:
            return f"{TME}/{self.username}/{msg_id}"
        if self.key.startswith("c/"):
            return f"{TME}/{self.key}/{msg_id}"
        return ""


def chat_ref_from_entity(entity) -> ChatRef:
    """A ChatRef for a Telethon Channel / Chat / User entity."""
    username = getattr(entity, "username", None)
    if not username:
        names = getattr(entity, "usernames", None) or []
        username = next((u.username for u in names if getattr(u, "active", False)), None)
    cls = type(entity).__name__
    eid = getattr(entity, "id", None)
    if cls in ("Channel", "ChannelForbidden"):
        kind = "megagroup" if getattr(entity, "megagroup", False) else "channel"
    elif cls in ("Chat", "ChatForbidden"):
        kind = "group"
    else:
        kind = "user"
    title = getattr(entity, "title", None) or " ".join(
        x for x in (getattr(entity, "first_name", None), getattr(entity, "last_name", None)) if x) or None
    return chat_ref(eid, kind, username=username, title=title)


def chat_ref(chat_id: int | None, kind: str, username: str | None = None, title: str | None = None) -> ChatRef:
    if username:
        return ChatRef(username.lower(), title, username.lower(), chat_id, kind)
    if chat_id is None:
        raise InputError("a chat needs a username or an id")
    if kind in ("channel", "megagroup"):
        return ChatRef(f"c/{chat_id}", title, None, chat_id, kind)
    return ChatRef(f"chat/{chat_id}", title, None, chat_id, kind)


def tl_default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray)):
        return {"_bytes_b64": base64.b64encode(bytes(obj)).decode("ascii")}
    return str(obj)


def tl_json(d: dict) -> bytes:
    """Canonical JSON of a ``to_dict()`` (the evidence artifact)."""
    return json.dumps(d, ensure_ascii=False, sort_keys=True, default=tl_default).encode("utf-8")


def peer_ref(peer: Any) -> tuple[str, int] | None:
    """``{"_": "PeerChannel", "channel_id": 5}`` → ("channel", 5)."""
    if not isinstance(peer, dict):
        return None
    t = peer.get("_")
    for cls, field, kind in (("PeerChannel", "channel_id", "channel"), ("PeerChat", "chat_id", "group"),
                             ("PeerUser", "user_id", "user")):
        if t == cls and isinstance(peer.get(field), int):
            return kind, peer[field]
    return None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    b = text.encode("utf-16-le", "surrogatepass")
    return b[offset * 2:(offset + length) * 2].decode("utf-16-le", "replace")


def convert_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    out = []
    for e in entities or []:
        if not isinstance(e, dict):
            continue
        off, ln = e.get("offset"), e.get("length")
        if not isinstance(off, int) or not isinstance(ln, int) or off < 0 or ln <= 0:
            continue
        item = {"type": _ENTITY_TYPES.get(e.get("_"), str(e.get("_") or "unknown")),
                "offset": off, "length": ln, "offset_unit": "utf16", "text": _utf16_slice(text, off, ln)}
        if e.get("url"):
            item["href"] = str(e["url"])[:2000]
        if e.get("user_id"):
            item["user_id"] = e["user_id"]
        out.append(item)
    return out


def _media(d: dict) -> list[dict[str, Any]]:
    m = d.get("media")
    if not isinstance(m, dict):
        return []
    t = m.get("_")
    if t == "MessageMediaPhoto":
        photo = m.get("photo") or {}
        return [{"url": None, "sha256": None, "kind": "photo", "telegram_id": photo.get("id")}]
    if t == "MessageMediaDocument":
        doc = m.get("document") or {}
        mime = doc.get("mime_type") or ""
        kind = "video" if mime.startswith("video/") else "audio" if mime.startswith("audio/") else \
            "sticker" if mime in ("application/x-tgsticker", "image/webp") else \
            "image" if mime.startswith("image/") else "document"
        name = None
        for a in doc.get("attributes") or []:
            if isinstance(a, dict) and a.get("_") == "DocumentAttributeFilename":
                name = a.get("file_name")
        return [{"url": None, "sha256": None, "kind": kind, "mime": mime or None, "size": doc.get("size"),
                 "name": name, "telegram_id": doc.get("id")}]
    if t == "MessageMediaWebPage":
        wp = m.get("webpage") or {}
        return [] if not wp.get("url") else [{"url": None, "sha256": None, "kind": "other", "link_preview": {
            "url": wp.get("url"), "site_name": wp.get("site_name"), "title": wp.get("title"),
            "description": wp.get("description")}}]
    return [{"url": None, "sha256": None, "kind": "other", "telegram_media": t}]


def normalise_sellers(values: Any) -> frozenset[str]:
    """Seller references (``telegram.sellers`` / ``--seller``): ids, ``user123``, ``@name``, ``peer`` → a set."""
    if isinstance(values, str):
        values = [values]
    out = set()
    for v in values or []:
        v = str(v).strip().lstrip("@").lower()
        if v:
            out.add(v)
    return frozenset(out)


def sender_role(d: dict[str, Any], chat: ChatRef, sender: dict[str, Any], sellers: frozenset[str] = frozenset()) -> str:
    """The author's role, as for Desktop exports (bundles redact third parties).

    - ``channel``: a broadcast channel's own posts, and messages sent *as* a
      channel or group (anonymous admins, a linked channel's posts in its
      discussion group);
    - ``seller``: a sender named in ``sellers`` (``telegram.sellers``, or
      ``--seller`` for imports): numeric id, ``user<id>``, or username;
      ``peer`` names the other party of a one-to-one chat;
    - ``third_party``: everybody else — members who replied, asked, bought,
      the account's owner. Being classified positive does not make a sender
      a seller: requests ("who sells an appointment?") are classified
      positive too.
    """
    from_peer = peer_ref(d.get("from_id"))
    if from_peer is not None and from_peer[0] in ("channel", "group"):
        return "channel"
    if from_peer is None and not sender.get("id"):
        if chat.kind in ("channel", "megagroup") or d.get("post"):
            return "channel"
    if chat.kind == "channel" and d.get("post"):
        return "channel"
    sid = sender.get("id") or (from_peer[1] if from_peer else None)
    if sid is None and chat.kind == "user" and not d.get("out"):
        sid = chat.chat_id  # an incoming message of a one-to-one chat is the peer's
    refs = {str(sid), f"user{sid}"} if sid is not None else set()
    if sender.get("username"):
        refs.add(str(sender["username"]).lower())
    if sellers & refs:
        return "seller"
    if "peer" in sellers and chat.kind == "user" and sid is not None and sid == chat.chat_id and not d.get("out"):
        return "seller"
    return "third_party"


def message_dict_to_post(d: dict[str, Any], chat: ChatRef, sender: dict[str, Any] | None = None,
                         via: str = "telethon", fetched_at: datetime | None = None,
                         sellers: frozenset[str] = frozenset()) -> Post:
    """Build the Post of one message from its ``to_dict()``.

    ``sender`` is ``{"id", "username", "name"}`` when known (live and backfill).
    ``extra.role`` (→ ``posts.author_role``) is :func:`sender_role`.
    InputError names the field when the dict is not a Telethon message.
    """
    if not isinstance(d, dict) or d.get("_") not in ("Message", "MessageService"):
        raise InputError("not a Telethon Message (expected \"_\": \"Message\" or \"MessageService\")")
    msg_id = d.get("id")
    if isinstance(msg_id, bool) or not isinstance(msg_id, int):
        raise InputError(f"'id' must be an integer, got {type(msg_id).__name__}")
    text = d.get("message") or ""
    if not isinstance(text, str):
        raise InputError(f"'message' must be a string, got {type(text).__name__}")
    posted = to_utc(d.get("date"), "date")
    edit = to_utc(d.get("edit_date"), "edit_date") if d.get("edit_date") else None
    from_peer = peer_ref(d.get("from_id"))
    sender = dict(sender or {})
    role = sender_role(d, chat, sender, sellers)
    if from_peer and not sender.get("id"):
        sender["id"] = from_peer[1]
    extra: dict[str, Any] = {
        "via": via,
        "chat": chat.key,
        "chat_title": chat.title,
        "chat_type": chat.kind,
        "message_id": msg_id,
        "sender_id": sender.get("id"),
        "sender_username": sender.get("username"),
        "sender_name": sender.get("name"),
        "entities": convert_entities(text, d.get("entities")),
        "views": d.get("views"),
        "forwards": d.get("forwards"),
        "grouped_id": d.get("grouped_id"),
        "post_author": d.get("post_author"),
        "role": role,
    }
    if edit:
        extra["edited_at"] = edit.isoformat().replace("+00:00", "Z")
    rr = d.get("restriction_reason") or []
    if rr:
        extra["restriction_reason"] = [
            {k: r.get(k) for k in ("platform", "reason", "text")} for r in rr if isinstance(r, dict)]
    forwarded = None
    fwd = d.get("fwd_from")
    if isinstance(fwd, dict):
        fp = peer_ref(fwd.get("from_id"))
        info = {"name": fwd.get("from_name"), "peer_type": fp[0] if fp else None, "peer_id": fp[1] if fp else None,
                "channel_post": fwd.get("channel_post"), "post_author": fwd.get("post_author"),
                "date": str(fwd.get("date")) if fwd.get("date") else None}
        extra["forwarded"] = {k: v for k, v in info.items() if v is not None}
        forwarded = fwd.get("from_name") or (f"{fp[0]}:{fp[1]}" if fp else None)
    reply_to = None
    rh = d.get("reply_to")
    if isinstance(rh, dict) and isinstance(rh.get("reply_to_msg_id"), int):
        rid = rh["reply_to_msg_id"]
        reply_to = chat.url_for(rid) or f"{chat.key}/{rid}"
        extra["reply_to_msg_id"] = rid
    if d.get("_") == "MessageService":
        action = d.get("action") or {}
        extra["service"] = {"action": action.get("_") if isinstance(action, dict) else str(action)}
    author = sender.get("name") or d.get("post_author") or chat.title
    handle = sender.get("username") or (str(sender["id"]) if sender.get("id") else None) or chat.username
    if not sender and chat.kind == "channel":
        handle = chat.username or chat.key
    return Post(
        platform="telegram",
        source=chat.key,
        url=chat.url_for(msg_id),
        external_id=f"{chat.key}/{msg_id}",
        author=author,
        author_handle=handle,
        author_url=f"{TME}/{sender['username']}" if sender.get("username") else
        (f"{TME}/{chat.username}" if chat.username and not sender.get("id") else None),
        text=text,
        posted_at=posted,
        fetched_at=fetched_at or utcnow(),
        media=_media(d),
        reply_to=reply_to,
        forwarded_from=forwarded,
        extra={k: v for k, v in extra.items() if v is not None},
    )


def chat_from_message_dict(d: dict[str, Any], username: str | None = None) -> ChatRef:
    """The chat of a ``to_dict()`` message, from its ``peer_id`` (and a username if known)."""
    p = peer_ref(d.get("peer_id"))
    if p is None:
        if username:
            return chat_ref(None, "channel", username=username)
        raise InputError("'peer_id' is missing or not a PeerChannel/PeerChat/PeerUser")
    kind = {"channel": "channel", "group": "group", "user": "user"}[p[0]]
    return chat_ref(p[1], kind, username=username)
