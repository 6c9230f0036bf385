"""Import of Telegram Desktop exports (``result.json``) and of lists of Telethon ``to_dict()`` JSON.

``veille import telegram-export PATH`` takes a ``result.json`` or the folder
that holds it. It reads:

- single-chat exports (``{"name", "type", "id", "messages": [...]}``) and
  whole-account exports (``{"personal_information", "chats": {"list": [...]},
  "left_chats": {...}, ...}``);
- ``text`` as a string or as a mixed array of strings and ``{"type", "text",
  "href"}`` parts; ``text_entities``; service messages; ``edited``;
  ``forwarded_from``; ``reply_to_message_id``;
- photos and files named by the messages, inside the export folder: each is
  hashed into the evidence store (bounded by ``telegram.max_media_bytes``;
  a bigger file is hashed but not copied). A path that leaves the export
  folder (``../``, absolute, or a symlink pointing out) is refused and reported;
- a JSON array of Telethon ``Message.to_dict()`` objects.

The file is parsed as a stream (:mod:`telegram_watch.jsonstream`): memory stays
bounded whatever its size. A truncated or wrongly typed file gets an
:class:`~storage.errors.InputError` naming the chat, the message index and the
byte offset; messages already imported stay imported. A message of the wrong
shape is rejected with its place and the import goes on.

Roles (for redaction in bundles). People who send such exports were approached
by sellers; everyone in the export who is not a seller is a third party.
``extra.role`` (→ ``posts.author_role``) is therefore:

- ``seller`` for a sender named by ``sellers`` (``--seller``: a ``from_id`` such
  as ``user123456``, a bare numeric id, or the display name; ``peer`` means the
  other party of a one-to-one chat);
- ``channel`` for the posts a channel publishes under its own name (public posts);
- ``third_party`` for everybody else, including the account owner who exported.

Re-running an import adds nothing twice (each message's capture has a key made
of the message's own SHA-256), and a killed import resumes: messages already
committed are skipped without re-classifying them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from storage import custody
from storage.errors import InputError, IntegrityError
from storage.evidence import sha256_file
from storage.ingest import ingest_many
from storage.post import Post, iso, to_utc, utcnow
from storage.posts import Artifact, Capture
from storage.telegram_store import capture_key_exists

from .convert import TME, chat_from_message_dict, message_dict_to_post, normalise_sellers
from .jsonstream import JsonStream

CHANNEL_TYPES = {"public_channel", "private_channel"}
SUPERGROUP_TYPES = {"public_supergroup", "private_supergroup"}
NOT_INCLUDED = "(File not included"
MEDIA_KEYS = (("photo", "photo"), ("file", None), ("thumbnail", "other"))


@dataclass
class ExportReport:
    source: str = ""
    source_sha256: str | None = None
    format: str = ""  # desktop | telethon
    chats: int = 0
    messages: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_already_imported: int = 0
    service: int = 0
    positives: int = 0
    duplicate_ids: int = 0
    media_stored: int = 0
    media_hashed_only: int = 0
    media_not_included: int = 0
    media_missing: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (place, path, reason)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (place, reason)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    roles: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["media_missing"] = [{"place": p, "path": f} for p, f in self.media_missing]
        d["refused"] = [{"place": p, "path": f, "reason": r} for p, f, r in self.refused]
        d["rejected"] = [{"place": p, "reason": r} for p, r in self.rejected]
        return d


# ----------------------------------------------------------------- helpers
# Desktop export entity types → the names the Telethon and t.me/s routes use (one vocabulary for all routes)
_ENTITY_NAMES = {"link": "url", "strikethrough": "strike", "mention_name": "mention_name"}


def _etype(t: Any) -> str:
    t = str(t or "plain")
    return _ENTITY_NAMES.get(t, t)


def _text_and_entities(msg: dict, place: str) -> tuple[str, list[dict[str, Any]]]:
    text = msg.get("text", "")
    if text is None:
        text = ""
    if isinstance(text, str):
        parts: list[Any] = [text]
    elif isinstance(text, list):
        parts = text
    else:
        raise InputError(f"{place}: 'text' must be a string or an array, got {type(text).__name__}")
    out: list[str] = []
    derived: list[dict[str, Any]] = []
    n = 0
    for i, p in enumerate(parts):
        if isinstance(p, str):
            out.append(p)
            n += len(p)
        elif isinstance(p, dict):
            t = p.get("text", "")
            if not isinstance(t, str):
                raise InputError(f"{place}: text part {i} has a non-string 'text'")
            e = {"type": _etype(p.get("type")), "offset": n, "length": len(t), "text": t}
            if p.get("href"):
                e["href"] = str(p["href"])[:2000]
            if p.get("user_id"):
                e["user_id"] = p["user_id"]
            if e["type"] != "plain":
                derived.append(e)
            out.append(t)
            n += len(t)
        else:
            raise InputError(f"{place}: text part {i} must be a string or an object, got {type(p).__name__}")
    full = "".join(out)
    te = msg.get("text_entities")
    if isinstance(te, list) and te:
        ents = []
        n = 0
        for e in te:
            if not isinstance(e, dict) or not isinstance(e.get("text", ""), str):
                raise InputError(f"{place}: 'text_entities' must be a list of objects with a string 'text'")
            t = e.get("text", "")
            if e.get("type") not in (None, "plain"):
                item = {"type": _etype(e.get("type")), "offset": n, "length": len(t), "text": t}
                if e.get("href"):
                    item["href"] = str(e["href"])[:2000]
                if e.get("user_id"):
                    item["user_id"] = e["user_id"]
                ents.append(item)
            n += len(t)
        if n == len(full):  # consistent with the text: use them (they carry the offsets)
            return full, ents
        return full, derived or ents
    return full, derived


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:40] or "chat"


def _safe_media(root: Path, rel: str) -> tuple[Path | None, str | None]:
    """(path, None) if ``rel`` is a file inside ``root``; (None, reason) otherwise."""
    if "\x00" in rel:
        return None, "NUL byte in path"
    if (PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or rel.startswith(("\\", "/"))
            or PureWindowsPath(rel).drive):
        return None, "absolute path refused"
    parts = re.split(r"[\\/]+", rel)
    if ".." in parts:
        return None, "path leaves the export folder ('..') refused"
    full = root.joinpath(*[p for p in parts if p not in ("", ".")])
    real = Path(os.path.realpath(full))
    try:
        real.relative_to(root)
    except ValueError:
        return None, "symlink pointing outside the export folder refused"
    return real, None


@dataclass
class _Ctx:
    ws: Any
    root: Path
    file_sha: str
    file_size: int
    file_name: str
    report: ExportReport
    sellers: set[str]
    max_media: int
    channel: str | None  # --channel: the public username of a single-chat export
    owner_id: str | None = None


def _sender_role(ctx: _Ctx, chat: dict, from_id: Any, name: Any) -> str:
    fid = str(from_id) if from_id is not None else ""
    bare = re.sub(r"^(user|channel|chat)", "", fid)
    if ctx.sellers and ({fid, bare, str(name or "")} & ctx.sellers):
        return "seller"
    if "peer" in ctx.sellers and chat.get("type") in ("personal_chat", "bot_chat") and bare and \
            str(chat.get("id")) == bare:
        return "seller"
    if chat.get("type") in CHANNEL_TYPES and (fid.startswith("channel") or not fid):
        return "channel"
    return "third_party"


def _chat_key(ctx: _Ctx, chat: dict) -> tuple[str, str]:
    """(chat key, url prefix or '') of a Desktop chat."""
    ctype = chat.get("type")
    cid = chat.get("id")
    if ctx.channel and chat.get("_single"):
        return ctx.channel, f"{TME}/{ctx.channel}"
    if isinstance(cid, int) and not isinstance(cid, bool):
        if ctype in CHANNEL_TYPES or ctype in SUPERGROUP_TYPES:
            return f"c/{cid}", f"{TME}/c/{cid}"
        return f"chat/{cid}", ""
    return f"chat/{_slug(str(chat.get('name') or 'export'))}", ""


def _media_for(ctx: _Ctx, msg: dict, place: str) -> tuple[list[dict], list[Artifact]]:
    media: list[dict] = []
    arts: list[Artifact] = []
    for key, default_kind in MEDIA_KEYS:
        rel = msg.get(key)
        if rel is None:
            continue
        kind = default_kind or {"video_file": "video", "animation": "video", "voice_message": "audio",
                                "audio_file": "audio", "sticker": "sticker", "video_message": "video"}.get(
            str(msg.get("media_type")), "document")
        if not isinstance(rel, str):
            ctx.report.rejected.append((place, f"'{key}' must be a string path, got {type(rel).__name__}"))
            continue
        entry: dict[str, Any] = {"url": None, "sha256": None, "kind": kind, "export_path": rel[:500],
                                 "role": key}
        if msg.get("mime_type") and key == "file":
            entry["mime"] = str(msg["mime_type"])[:100]
        if rel.startswith(NOT_INCLUDED) or not rel.strip():
            entry["note"] = "not included in the export"
            ctx.report.media_not_included += 1
            media.append(entry)
            continue
        path, reason = _safe_media(ctx.root, rel)
        if reason:
            ctx.report.refused.append((place, rel[:300], reason))
            entry["note"] = reason
            media.append(entry)
            continue
        if not path.is_file():
            ctx.report.media_missing.append((place, rel[:300]))
            entry["note"] = "missing from the export folder"
            media.append(entry)
            continue
        try:
            sha, size = ctx.ws.store.put_file(path, max_bytes=ctx.max_media)
            stored = True
            ctx.report.media_stored += 1
        except IntegrityError:
            sha, size = sha256_file(path), path.stat().st_size
            stored = False
            ctx.report.media_hashed_only += 1
            entry["note"] = f"larger than {ctx.max_media} bytes: hashed, not stored"
        entry["sha256"] = sha
        entry["size"] = size
        if kind == "photo" and stored:
            ph = perceptual_hash(path)
            if ph:
                entry["phash"] = ph
        media.append(entry)
        if stored:
            arts.append(Artifact(role="media", sha256=sha, size=size, name=path.name,
                                 extra={"export_path": rel[:500], "kind": kind}))
    return media, arts


def perceptual_hash(path_or_bytes) -> str | None:
    """pHash of an image (hex), or None if it is not a readable image."""
    try:
        import io

        import imagehash
        from PIL import Image

        src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else path_or_bytes
        with Image.open(src) as im:
            if im.width * im.height > 50_000_000:
                return None
            return str(imagehash.phash(im))
    except Exception:  # noqa: BLE001 - not an image, truncated, unsupported: no hash
        return None


def _capture(ctx: _Ctx, msg_sha: str, place: str, byte_offset: int, post: Post, arts: list[Artifact],
             index: int, tool: str) -> Capture:
    return Capture(
        kind="import", url=post.url or None, method=None, fetched_at=utcnow(), tool=tool,
        capture_key=f"tgexport:{msg_sha}:{post.dedupe_key()}",
        artifacts=[Artifact(role="import_file", sha256=ctx.file_sha, size=ctx.file_size,
                            mime="application/json", name=ctx.file_name,
                            extra={"message_index": index, "byte_offset": byte_offset, "message_sha256": msg_sha,
                                   "place": place})] + arts,
        extra={"source_file": ctx.file_name, "place": place, "byte_offset": byte_offset,
               "message_sha256": msg_sha},
    )


class _SeenIds:
    """Message ids seen in one chat, in little memory: a bitmap for ids below 2**27, a set above.

    Returns how many times an id was seen (repeats are counted in a small dict).
    """

    BITMAP_MAX = 1 << 27  # 16 MB of bitmap at most

    def __init__(self) -> None:
        self.bits = bytearray()
        self.big: set[int] = set()
        self.repeats: dict[int, int] = {}

    def add(self, mid: int) -> int:
        if 0 <= mid < self.BITMAP_MAX:
            byte, bit = divmod(mid, 8)
            if byte >= len(self.bits):
                self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
            if not self.bits[byte] & (1 << bit):
                self.bits[byte] |= 1 << bit
                return 1
        elif mid not in self.big:
            self.big.add(mid)
            return 1
        self.repeats[mid] = self.repeats.get(mid, 1) + 1
        return self.repeats[mid]


def _desktop_post(ctx: _Ctx, chat: dict, chat_key: str, url_prefix: str, msg: Any, index: int,
                  seen: _SeenIds, place: str) -> tuple[Post, list[Artifact]]:
    if not isinstance(msg, dict):
        raise InputError(f"{place}: a message must be an object, got {type(msg).__name__}")
    mid = msg.get("id")
    if isinstance(mid, bool) or not isinstance(mid, int):
        raise InputError(f"{place}: 'id' must be an integer, got {type(mid).__name__}")
    mtype = msg.get("type", "message")
    if mtype not in ("message", "service"):
        raise InputError(f"{place}: unknown message type {str(mtype)[:30]!r}")
    text, entities = _text_and_entities(msg, place)
    posted = None
    ts = msg.get("date_unixtime")
    if isinstance(ts, str) and ts.isdigit() and int(ts) > 0:
        posted = to_utc(int(ts))
    elif msg.get("date") is not None:
        try:
            posted = to_utc(msg.get("date"), f"{place}: date")
        except InputError:
            raise
    times = seen.add(mid)
    ext_id = f"{chat_key}/{mid}"
    if times > 1:
        ctx.report.duplicate_ids += 1
        ext_id = f"{chat_key}/{mid}~{times}"
    service = mtype == "service"
    from_id = msg.get("actor_id") if service else msg.get("from_id")
    name = msg.get("actor") if service else msg.get("from")
    role = _sender_role(ctx, chat, from_id, name)
    ctx.report.roles[role] = ctx.report.roles.get(role, 0) + 1
    media, arts = _media_for(ctx, msg, place)
    extra: dict[str, Any] = {
        "via": "desktop_export", "chat": chat_key, "chat_name": chat.get("name"), "chat_type": chat.get("type"),
        "chat_id": chat.get("id"), "message_id": mid, "from_id": from_id, "entities": entities, "role": role,
        "export_index": index,
    }
    if msg.get("edited"):
        try:
            eu = msg.get("edited_unixtime")
            ed = to_utc(int(eu)) if isinstance(eu, str) and eu.isdigit() and int(eu) > 0 else \
                to_utc(msg.get("edited"), f"{place}: edited")
            extra["edited_at"] = iso(ed)
        except InputError:
            extra["edited_raw"] = str(msg.get("edited"))[:40]
    if service:
        ctx.report.service += 1
        extra["service"] = {k: msg.get(k) for k in ("action", "title", "members", "message_id", "duration_seconds",
                                                    "discard_reason") if msg.get(k) is not None}
    for k in ("via_bot", "author", "media_type", "sticker_emoji", "saved_from", "forwarded_from_id"):
        if msg.get(k) is not None:
            extra[k] = msg.get(k)
    reply_to = None
    rid = msg.get("reply_to_message_id")
    if isinstance(rid, int) and not isinstance(rid, bool):
        reply_to = f"{url_prefix}/{rid}" if url_prefix else f"{chat_key}/{rid}"
        extra["reply_to_msg_id"] = rid
    fwd = msg.get("forwarded_from")
    post = Post(
        platform="telegram", source=chat_key, url=f"{url_prefix}/{mid}" if url_prefix and times == 1 else "",
        external_id=ext_id, author=str(name) if name is not None else None,
        author_handle=str(from_id) if from_id is not None else None, text=text, posted_at=posted,
        fetched_at=utcnow(), media=media, reply_to=reply_to,
        forwarded_from=str(fwd)[:300] if fwd is not None else None, extra=extra,
    )
    return post, arts


# ----------------------------------------------------------------- walking the file
def _iter_desktop(ctx: _Ctx, js: JsonStream) -> Iterator[tuple[Post, Capture]]:
    saw_messages = False
    top: dict[str, Any] = {}
    for key in js.iter_object("the export (a JSON object)"):
        if key == "messages":
            saw_messages = True
            ctx.report.chats += 1
            top["_single"] = True  # a single-chat export: --channel names this chat
            yield from _iter_messages(ctx, js, top, f"chat {top.get('name')!r}")
        elif key in ("chats", "left_chats"):
            saw_messages = True
            yield from _iter_chat_list(ctx, js, key)
        elif key == "personal_information":
            info = js.value("'personal_information'")
            if isinstance(info, dict) and info.get("user_id") is not None:
                ctx.owner_id = f"user{info.get('user_id')}"
        else:
            top[key] = js.value(f"the value of '{key}'")
    if not saw_messages:
        raise InputError(f"{ctx.file_name}: no 'messages' array and no 'chats' list: not a Telegram Desktop export")
    if not js.at_end():
        raise InputError(f"{ctx.file_name}, byte {js.byte_offset()}: unexpected data after the export object")


def _iter_chat_list(ctx: _Ctx, js: JsonStream, section: str) -> Iterator[tuple[Post, Capture]]:
    if js.peek() != "{":
        raise InputError(f"{ctx.file_name}, byte {js.byte_offset()}: '{section}' must be an object with a 'list'")
    for key in js.iter_object(f"'{section}'"):
        if key != "list":
            js.value(f"'{section}.{key}'")
            continue
        for ci in js.iter_array(f"'{section}.list'"):
            chat: dict[str, Any] = {}
            ctx.report.chats += 1
            for ck in js.iter_object(f"chat {ci} of '{section}.list'"):
                if ck == "messages":
                    yield from _iter_messages(ctx, js, chat, f"{section} chat {ci} ({chat.get('name')!r})")
                else:
                    chat[ck] = js.value(f"'{ck}' of chat {ci}")


def _iter_messages(ctx: _Ctx, js: JsonStream, chat: dict, where: str) -> Iterator[tuple[Post, Capture]]:
    if js.peek() != "[":
        raise InputError(f"{ctx.file_name}, byte {js.byte_offset()}: 'messages' of {where} must be an array")
    if "type" in chat and chat["type"] is not None and not isinstance(chat["type"], str):
        raise InputError(f"{ctx.file_name}: 'type' of {where} must be a string")
    chat_key, url_prefix = _chat_key(ctx, chat)
    seen = _SeenIds()
    for i in js.iter_array(f"'messages' of {where}"):
        js.skip_ws()
        offset = js.byte_offset()
        msg, raw = js.value(f"message {i} of {where}", raw=True)
        ctx.report.messages += 1
        place = f"{where}, message {i} (byte {offset})"
        msg_sha = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            post, arts = _desktop_post(ctx, chat, chat_key, url_prefix, msg, i, seen, place)
        except InputError as exc:
            msg_text = str(exc)
            ctx.report.rejected.append((place, msg_text.removeprefix(place + ": ")))
            continue
        cap = _capture(ctx, msg_sha, place, offset, post, arts, i, "veille import telegram-export")
        if capture_key_exists(ctx.ws, cap.capture_key):
            ctx.report.skipped_already_imported += 1
            continue
        yield post, cap


def _iter_telethon(ctx: _Ctx, js: JsonStream) -> Iterator[tuple[Post, Capture]]:
    ctx.report.chats = 0
    chats: set[str] = set()
    for i in js.iter_array("the list of Telethon messages"):
        js.skip_ws()
        offset = js.byte_offset()
        d, raw = js.value(f"element {i}", raw=True)
        ctx.report.messages += 1
        place = f"element {i} (byte {offset})"
        try:
            if not isinstance(d, dict):
                raise InputError(f"expected an object, got {type(d).__name__}")
            chat = chat_from_message_dict(d, username=ctx.channel)
            post = message_dict_to_post(d, chat, via="telethon_json", sellers=normalise_sellers(ctx.sellers))
        except InputError as exc:
            ctx.report.rejected.append((place, str(exc)))
            continue
        chats.add(chat.key)
        ctx.report.chats = len(chats)
        role = post.extra.get("role") or "third_party"
        ctx.report.roles[role] = ctx.report.roles.get(role, 0) + 1
        if d.get("_") == "MessageService":
            ctx.report.service += 1
        msg_sha = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
        raw_art = Artifact(role="json", data=raw.encode("utf-8", "surrogatepass"),
                           mime="application/json", name=f"message-{post.external_id.replace('/', '-')}.json")
        cap = _capture(ctx, msg_sha, place, offset, post, [raw_art], i, "veille import telegram-export")
        if capture_key_exists(ctx.ws, cap.capture_key):
            ctx.report.skipped_already_imported += 1
            continue
        yield post, cap


def resolve_export_path(path: str | Path) -> tuple[Path, Path]:
    """(result.json, export folder) from a file or folder argument."""
    p = Path(path).expanduser()
    if p.is_dir():
        f = p / "result.json"
        if not f.is_file():
            jsons = sorted(p.glob("*.json"))
            if len(jsons) != 1:
                raise InputError(f"{p}: no result.json in this folder")
            f = jsons[0]
        return f, Path(os.path.realpath(p))
    if not p.is_file():
        raise InputError(f"{p}: no such file or folder")
    return p, Path(os.path.realpath(p.parent))


def import_export(ws, path: str | Path, sellers: list[str] | tuple[str, ...] = (), channel: str | None = None,
                  batch_size: int = 500, progress=None) -> ExportReport:
    """Import a Desktop export or a Telethon JSON list; see the module doc."""
    from .preview import normalise_channel

    file, root = resolve_export_path(path)
    report = ExportReport(source=str(file))
    max_media = int(ws.config.get("telegram.max_media_bytes", 15_000_000))
    file_sha, file_size = ws.store.put_file(file)
    report.source_sha256 = file_sha
    ctx = _Ctx(ws=ws, root=root, file_sha=file_sha, file_size=file_size, file_name=file.name, report=report,
               sellers={s.strip().lstrip("@") for s in sellers if s and s.strip()}, max_media=max_media,
               channel=normalise_channel(channel) if channel else None)
    with open(file, "rb") as fh:
        js = JsonStream(fh, name=file.name)
        first = js.peek()
        if first == "{":
            report.format = "desktop"
            items = _iter_desktop(ctx, js)
        elif first == "[":
            report.format = "telethon"
            items = _iter_telethon(ctx, js)
        else:
            found = repr(first) if first else "an empty file"
            raise InputError(f"{file.name}: not a Telegram export (expected a JSON object or array, found {found})")
        for res in ingest_many(ws, items, batch_size=batch_size):
            s = res.save
            if s.created:
                report.imported += 1
            elif s.changed:
                report.updated += 1
            else:
                report.unchanged += 1
            if res.positive and (s.created or s.changed):
                report.positives += 1
                if len(report.alerts) < 1000:
                    v = res.analysis.verdict
                    report.alerts.append({"post_id": s.post_id, "category": v.category, "subtype": v.subtype,
                                          "score": round(float(v.score), 3)})
            if progress:
                progress(report)
        if report.format == "telethon" and not js.at_end():
            raise InputError(f"{file.name}, byte {js.byte_offset()}: unexpected data after the array")
    custody.append(ws.db, "import", {
        "event": "telegram export import finished", "file": str(file), "file_sha256": file_sha,
        "file_size": file_size, "format": report.format, "messages": report.messages, "imported": report.imported,
        "updated": report.updated, "skipped": report.skipped_already_imported, "rejected": len(report.rejected),
        "refused_media": len(report.refused), "at": iso(utcnow())}, subject_type="file", subject_id=file_sha)
    return report
