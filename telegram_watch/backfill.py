"""History of a channel through Telethon's ``iter_messages``, resumable and paced.

``veille telegram backfill CHANNEL [--since DATE] [--limit N]`` reads messages
in *ascending* id order, in chunks; each chunk is ingested in one transaction
and only then is the chat's backfill mark (``telegram_sync``) moved to the
chunk's highest id. Stored ids are thus always a contiguous run up to the mark:
a run killed at any moment resumes after the mark and neither loses nor
duplicates a message (captures are keyed by chat, id and content).

A ``FloodWaitError`` is honoured: the pending chunk is committed, veille sleeps
the number of seconds Telegram asked for (if not more than
``telegram.max_flood_wait``; otherwise the run stops as ``partial`` and says
when to retry), then goes on from the mark. ``iter_messages`` waits
``telegram.pace_seconds`` between its requests.

Called by the CLI and by ``veille daily``::

    run = backfill_channels(ws, ["channel1", "channel2"])   # or one name
    run.items, run.failed, run.reports

(it opens the session of the workspace; ``veille telegram login`` first).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.errors import SourceError
from storage.ingest import ingest_many
from storage.post import Post, iso, utcnow
from storage.posts import Artifact, Capture, finish_run, start_run
from storage.telegram_store import last_backfill_id, set_backfill_id

from .convert import ChatRef, chat_ref_from_entity, message_dict_to_post, normalise_sellers, tl_json
from .export import perceptual_hash

log = logging.getLogger("veille.telegram")

CHUNK = 100


@dataclass
class BackfillReport:
    chat: str
    status: str = "ok"  # ok | partial | failed | interrupted
    fetched: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    positives: int = 0
    first_id: int | None = None
    last_id: int = 0
    resumed_from: int = 0
    flood_waits: list[int] = field(default_factory=list)
    media_stored: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sender_info(msg) -> dict[str, Any] | None:
    s = getattr(msg, "sender", None)
    if s is None:
        return None
    name = getattr(s, "title", None) or " ".join(
        x for x in (getattr(s, "first_name", None), getattr(s, "last_name", None)) if x) or None
    return {"id": getattr(s, "id", None), "username": getattr(s, "username", None), "name": name}


def _name_forward_origin(msg, post: Post) -> None:
    """Name the channel a message was forwarded from when Telegram sent its entity (for discovery).

    ``to_dict()`` only has the origin's numeric id; the live message also
    carries the origin's entity (``msg.forward.chat``) when it is visible.
    """
    fwd = getattr(msg, "forward", None)
    info = post.extra.get("forwarded")
    if fwd is None or not isinstance(info, dict):
        return
    try:
        origin = fwd.chat
    except Exception:  # noqa: BLE001 - no entity for the origin: keep the id only
        return
    username = getattr(origin, "username", None) if origin is not None else None
    if not username:
        return
    info["channel"] = username.lower()
    info["title"] = getattr(origin, "title", None)
    cp = info.get("channel_post")
    info["url"] = f"https://t.me/{username.lower()}" + (f"/{cp}" if cp else "")
    post.forwarded_from = info["url"]


async def _download(seam, msg, max_media: int, max_flood_wait: int) -> tuple[bytes | None, str | None]:
    """(bytes or None, failure) of a message's media; a FloodWait up to ``max_flood_wait`` s is slept through once."""
    from telethon import errors

    for attempt in range(2):
        try:
            return await seam.download_media(msg, max_media), None
        except errors.FloodWaitError as exc:
            if attempt or exc.seconds > max_flood_wait:
                return None, f"FloodWait {exc.seconds} s"
            log.warning("FloodWait: sleeping %s s before downloading a media", exc.seconds)
            await seam.sleep(exc.seconds)
        except Exception as exc:  # noqa: BLE001 - a failed download must not lose the message
            return None, type(exc).__name__
    return None, "download failed"


async def message_to_capture(seam, msg, chat: ChatRef, via: str, max_media: int,
                             tool: str, sellers: frozenset[str] = frozenset(),
                             max_flood_wait: int = 900) -> tuple[Post, Capture]:
    """Post + capture (raw ``to_dict()`` JSON, media within the size limit) of one live message.

    ``sellers`` (``telegram.sellers``) decides the author's role (see :func:`convert.sender_role`).
    A FloodWait while downloading the media is slept through once if not longer than ``max_flood_wait``.
    """
    d = msg.to_dict()
    post = message_dict_to_post(d, chat, sender=sender_info(msg), via=via, sellers=sellers)
    _name_forward_origin(msg, post)
    arts = [Artifact(role="json", data=tl_json(d), mime="application/json",
                     name=f"{chat.key.replace('/', '-')}-{msg.id}.json")]
    if post.media and getattr(msg, "media", None) is not None and seam is not None:
        data, failure = await _download(seam, msg, max_media, max_flood_wait)
        if failure:
            log.warning("media of %s/%s not downloaded: %s", chat.key, msg.id, failure)
        if data:
            arts.append(Artifact(role="media", data=bytes(data),
                                 name=f"{chat.key.replace('/', '-')}-{msg.id}-media"))
            post.media[0]["sha256"] = hashlib.sha256(data).hexdigest()
            post.media[0]["size"] = len(data)
            if post.media[0].get("kind") == "photo":
                ph = perceptual_hash(bytes(data))
                if ph:
                    post.media[0]["phash"] = ph
        elif post.media:
            post.media[0]["note"] = post.media[0].get("note") or (
                f"not downloaded ({failure})" if failure else f"not downloaded (absent or over {max_media} bytes)")
    cap = Capture(kind="fetch", url=post.url or None, method=None, tool=tool, fetched_at=utcnow(),
                  capture_key=f"tg:{post.external_id}:{post.content_hash()}:{via}",
                  artifacts=arts, extra={"via": via, "chat": chat.key, "message_id": msg.id})
    return post, cap


async def resolve(seam, channel: str | int, max_flood_wait: int = 900):
    """The entity of a channel/group; SourceError with a clear message if it does not exist or is private.

    A FloodWait of at most ``max_flood_wait`` seconds is slept through (twice at most).
    """
    from telethon import errors

    for attempt in range(3):
        try:
            return await seam.get_entity(channel)
        except errors.FloodWaitError as exc:
            if exc.seconds > max_flood_wait or attempt == 2:
                raise SourceError(f"Telegram asks to wait {exc.seconds} s before resolving {channel!r}: "
                                  "try again later") from None
            await seam.sleep(exc.seconds)
        except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError) as exc:
            raise SourceError(f"Telegram channel {channel!r} does not exist ({type(exc).__name__})") from None
        except (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChatAdminRequiredError) as exc:
            raise SourceError(f"Telegram channel {channel!r} is private or not accessible "
                              f"({type(exc).__name__})") from None
        except ValueError as exc:
            raise SourceError(f"Telegram channel {channel!r} not found: {exc}") from None
    raise SourceError(f"could not resolve {channel!r}")


async def backfill(ws, seam, channel: str | int, since: datetime | None = None, limit: int | None = None,
                   on_alert: Callable[[dict], None] | None = None, entity=None) -> BackfillReport:
    """Backfill one channel; see the module doc. Returns the report (status ok/partial)."""
    from telethon import errors

    cfg = ws.config
    limit = int(limit or cfg.get("telegram.backfill_limit", 2000))
    max_wait = int(cfg.get("telegram.max_flood_wait", 900))
    max_media = int(cfg.get("telegram.max_media_bytes", 15_000_000))
    sellers = normalise_sellers(cfg.get("telegram.sellers"))
    if entity is None:
        entity = await resolve(seam, channel, max_wait)
    chat = chat_ref_from_entity(entity)
    rep = BackfillReport(chat=chat.key)
    run_id = start_run(ws, f"telegram:{chat.key}", "backfill")
    mark = last_backfill_id(ws, chat.key)
    rep.resumed_from = mark
    offset_date = None
    if mark == 0:
        if since is not None:
            offset_date = since
        else:
            try:
                latest = await seam.latest_message_id(entity)
            except errors.FloodWaitError as exc:
                if exc.seconds > max_wait:
                    finish_run(ws, run_id, "partial", 0, f"FloodWait {exc.seconds} s")
                    raise SourceError(f"Telegram asks to wait {exc.seconds} s: try {chat.key} again later") \
                        from None
                await seam.sleep(exc.seconds)
                latest = await seam.latest_message_id(entity)
            mark = max(0, latest - limit)
    rep.last_id = mark
    pending: list[tuple[Post, Capture]] = []

    def flush() -> None:
        if not pending:
            return
        top = max(int(p.extra["message_id"]) for p, _ in pending)
        for res in ingest_many(ws, pending, batch_size=len(pending)):
            s = res.save
            rep.imported += s.created
            rep.updated += s.changed
            rep.unchanged += not (s.created or s.changed)
            if res.positive and (s.created or s.changed):
                rep.positives += 1
                v = res.analysis.verdict
                alert = {"post_id": s.post_id, "chat": chat.key, "category": v.category, "subtype": v.subtype,
                         "score": round(float(v.score), 3), "url": None}
                rep.alerts.append(alert)
                if on_alert:
                    on_alert(alert)
        rep.media_stored += sum(1 for _, c in pending for a in c.artifacts if a.role == "media")
        pending.clear()
        set_backfill_id(ws, chat.key, top)  # only after the chunk is committed
        rep.last_id = max(rep.last_id, top)

    try:
        while True:
            remaining = limit - rep.fetched
            if remaining <= 0:
                break
            try:
                async for msg in seam.iter_messages(entity, min_id=rep.last_id, offset_date=offset_date,
                                                    limit=remaining, reverse=True):
                    if msg.id <= rep.last_id:
                        continue
                    if since is not None and msg.date is not None and msg.date < since:
                        continue
                    rep.fetched += 1
                    rep.first_id = rep.first_id or msg.id
                    pending.append(await message_to_capture(seam, msg, chat, "telethon_backfill", max_media,
                                                            "veille telegram backfill", sellers, max_wait))
                    if len(pending) >= CHUNK:
                        flush()
                    if rep.fetched >= limit:
                        break
                flush()
                break
            except errors.FloodWaitError as exc:
                flush()
                wait = int(exc.seconds)
                rep.flood_waits.append(wait)
                if wait > max_wait:
                    rep.status = "partial"
                    rep.error = (f"Telegram asked to wait {wait} s (more than telegram.max_flood_wait = {max_wait}); "
                                 f"stopped at message {rep.last_id}; run again later to resume")
                    break
                log.warning("FloodWait: sleeping %s s before resuming %s after %s", wait, chat.key, rep.last_id)
                await seam.sleep(wait)
                offset_date = None
    except Exception as exc:
        flush_error = None
        try:
            flush()  # keep what was read before the failure
        except Exception as exc2:  # noqa: BLE001
            flush_error = exc2
        rep.status = "failed"
        rep.error = f"{type(exc).__name__}: {exc}" + (f" (and {flush_error})" if flush_error else "")
        finish_run(ws, run_id, "failed", rep.imported + rep.updated, rep.error)
        raise SourceError(f"backfill of {chat.key} failed after message {rep.last_id}: {rep.error}; "
                          "run it again to resume") from None
    except BaseException:
        rep.status = "interrupted"
        finish_run(ws, run_id, "interrupted", rep.imported + rep.updated, "interrupted")
        raise
    finish_run(ws, run_id, rep.status, rep.imported + rep.updated, rep.error)
    log.info("backfill %s: %s fetched up to %s at %s", chat.key, rep.fetched, rep.last_id, iso(utcnow()))
    return rep


async def backfill_channels_async(ws, seam, channels: list[str], since: datetime | None = None,
                                  limit: int | None = None, on_alert=None) -> list[BackfillReport]:
    """Backfill several channels one after the other (``veille daily``); a failing channel stops no other.

    Messages already stored from senders since added to ``telegram.sellers`` are marked ``seller`` first.
    """
    from storage.telegram_store import apply_seller_roles

    apply_seller_roles(ws, normalise_sellers(ws.config.get("telegram.sellers")))
    out = []
    for i, ch in enumerate(channels):
        if i:
            await seam.sleep(seam.pace)
        try:
            out.append(await backfill(ws, seam, ch, since=since, limit=limit, on_alert=on_alert))
        except SourceError as exc:
            out.append(BackfillReport(chat=str(ch), status="failed", error=str(exc)))
    return out


@dataclass
class BackfillRun:
    reports: list[BackfillReport] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(r.imported + r.updated for r in self.reports)

    @property
    def failed(self) -> dict[str, str]:
        return {r.chat: r.error or r.status for r in self.reports if r.status == "failed"}

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "failed": self.failed, "reports": [r.to_dict() for r in self.reports]}


def backfill_channels(ws, channels: str | list[str] | None = None, since: datetime | None = None,
                      limit: int | None = None, on_alert=None) -> BackfillRun:
    """Synchronous backfill for ``veille daily`` and scripts (opens and closes the Telethon session).

    ``channels``: one name (a failure then raises SourceError), a list (failures
    are in ``failed``), or None for the watch list. Raises SourceError when
    there is no logged-in session.
    """
    from . import commands

    single = isinstance(channels, str)
    names = [channels] if single else list(channels or [])
    reports = commands.backfill(ws, names, since=since, limit=limit, on_alert=on_alert)
    run = BackfillRun(reports)
    if single and run.failed:
        raise SourceError(next(iter(run.failed.values())))
    return run
