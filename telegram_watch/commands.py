"""Synchronous entry points for the CLI and ``veille daily`` (each runs its own event loop).

Every function opens the Telethon client through :func:`open_seam` (tests
replace it with a seam replaying recorded sequences) and closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from storage.errors import SourceError

from .client import TelegramSeam, make_client, secure_session_file, session_path


def open_seam(ws) -> tuple[Any, TelegramSeam]:
    client = make_client(ws)
    return client, TelegramSeam(client, pace_seconds=float(ws.config.get("telegram.pace_seconds", 1.5)))


def configured_channels(ws) -> list[str]:
    from storage.telegram_store import watchlist

    from .preview import normalise_channel

    names = [normalise_channel(c) for c in (ws.config.get("telegram.channels") or [])]
    return [w["name"] for w in watchlist(ws, names)]


def login(ws, prompt_phone: Callable[[], str], prompt_code: Callable[[], str],
          prompt_password: Callable[[], str]) -> dict[str, Any]:
    from .client import login as _login

    _, seam = open_seam(ws)
    info = asyncio.run(_login(seam, prompt_phone, prompt_code, prompt_password))
    path = session_path(ws)
    if path.exists():
        secure_session_file(path)
    info["session_mode"] = oct(path.stat().st_mode & 0o777) if path.exists() else None
    return info


async def _with_session(seam, coro_fn):
    from telethon import errors

    await seam.connect()
    try:
        if not await seam.is_user_authorized():
            raise SourceError("no Telegram session: run 'veille telegram login' first")
        return await coro_fn()
    except errors.FloodWaitError as exc:
        raise SourceError(f"Telegram asks to wait {exc.seconds} s (FloodWait): try again later") from None
    except errors.RPCError as exc:
        raise SourceError(f"Telegram refused the request: {type(exc).__name__}") from None
    finally:
        await seam.disconnect()


def backfill(ws, channels: list[str], since: datetime | None = None, limit: int | None = None,
             on_alert: Callable[[dict], None] | None = None) -> list:
    """Backfill channels (the configured watch list when ``channels`` is empty). Used by ``veille daily``."""
    from .backfill import backfill_channels_async

    chans = channels or configured_channels(ws)
    if not chans:
        raise SourceError("no channel given and none configured (telegram.channels)")
    _, seam = open_seam(ws)
    return asyncio.run(_with_session(seam, lambda: backfill_channels_async(ws, seam, chans, since=since, limit=limit,
                                                                     on_alert=on_alert)))


def search(ws, query: str, limit: int = 50) -> list[dict]:
    from .discover import search_public

    _, seam = open_seam(ws)
    return asyncio.run(_with_session(seam, lambda: search_public(seam, query, limit)))


def watch(ws, channels: list[str], on_alert=None, on_event=None):
    from .watch import run_watch

    client, seam = open_seam(ws)
    return asyncio.run(run_watch(ws, client, seam, channels or configured_channels(ws), on_alert=on_alert,
                                 on_event=on_event))
