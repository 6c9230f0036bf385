"""The one place a Telethon client is created, and the seam around its network calls.

- :func:`make_client` builds the ``TelegramClient`` (the only call of its
  constructor in veille) from the workspace config: api_id/api_hash come from
  the environment variables the config names, the session file lives in the
  workspace with mode 0600, and Telethon's own flood sleeping is switched off
  (``flood_sleep_threshold=0``) so that veille honours ``FloodWaitError``
  itself, bounded by ``telegram.max_flood_wait``.
- :class:`TelegramSeam` wraps every network call veille makes (connect and
  login steps, ``get_entity``, ``iter_messages``, ``download_media``,
  ``contacts.Search``) and the sleeps. Tests substitute a seam that replays
  recorded sequences; nothing else in veille talks to Telegram.

The session file and the api_hash are never logged, printed or exported.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from storage.errors import ConfigError, SourceError

log = logging.getLogger("veille.telegram")


def session_path(ws) -> Path:
    """Where the session lives (``telegram.session_file``, relative to the workspace)."""
    name = str(ws.config.get("telegram.session_file") or "telegram.session")
    p = Path(name).expanduser()
    if not p.is_absolute():
        p = ws.root / p
    if not p.name.endswith(".session"):
        p = p.with_name(p.name + ".session")
    return p


def secure_session_file(path: Path) -> None:
    """Create the session file 0600 before Telethon opens it, and keep it (and journals) 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    for p in (path, path.with_name(path.name + "-journal")):
        if p.exists():
            os.chmod(p, 0o600)


def credentials(ws) -> tuple[int, str]:
    """(api_id, api_hash) from the env vars named by telegram.api_id_env / api_hash_env."""
    raw_id = ws.config.secret("telegram.api_id_env")
    api_hash = ws.config.secret("telegram.api_hash_env")
    try:
        api_id = int(raw_id)
    except ValueError:
        var = ws.config.get("telegram.api_id_env")
        raise ConfigError(f"environment variable {var} (named by 'telegram.api_id_env') is not a number") from None
    return api_id, api_hash


def make_client(ws, session=None):
    """Create the TelegramClient. The ONLY place veille constructs one.

    ``session`` replaces the workspace session file (tests pass a MemorySession
    and never connect).
    """
    from telethon import TelegramClient

    if session is None:
        api_id, api_hash = credentials(ws)
        path = session_path(ws)
        secure_session_file(path)
        session = str(path)
    else:
        api_id, api_hash = 1, "0" * 32  # never connected: tests and offline dispatch
    old = os.umask(0o077)  # journals and the session written by Telethon stay private
    try:
        client = TelegramClient(session, api_id, api_hash, flood_sleep_threshold=0, receive_updates=True,
                                base_logger="veille.telethon")
    finally:
        os.umask(old)
    return client


class TelegramSeam:
    """Every network call veille makes to Telegram, in one small class."""

    def __init__(self, client, pace_seconds: float = 1.5):
        self.client = client
        self.pace = float(pace_seconds)

    # -- login
    async def connect(self) -> None:
        try:
            await self.client.connect()
        except OSError as exc:
            raise SourceError(f"cannot connect to Telegram: {exc}") from None

    async def disconnect(self) -> None:
        await self.client.disconnect()

    async def is_user_authorized(self) -> bool:
        return await self.client.is_user_authorized()

    async def send_code_request(self, phone: str) -> None:
        await self.client.send_code_request(phone)

    async def sign_in(self, phone: str | None = None, code: str | None = None, password: str | None = None):
        if password is not None:
            return await self.client.sign_in(password=password)
        return await self.client.sign_in(phone=phone, code=code)

    async def get_me(self):
        return await self.client.get_me()

    # -- reading
    async def get_entity(self, ref: str | int):
        return await self.client.get_entity(ref)

    def iter_messages(self, entity, *, min_id: int = 0, offset_date=None, limit: int | None = None,
                      reverse: bool = True) -> AsyncIterator[Any]:
        return self.client.iter_messages(entity, min_id=min_id, offset_date=offset_date, limit=limit,
                                         reverse=reverse, wait_time=self.pace)

    async def latest_message_id(self, entity) -> int:
        async for m in self.client.iter_messages(entity, limit=1):
            return int(m.id)
        return 0

    async def download_media(self, message, max_bytes: int) -> bytes | None:
        """The message's media as bytes, or None when absent or larger than ``max_bytes``."""
        if getattr(message, "media", None) is None:
            return None
        f = getattr(message, "file", None)
        size = getattr(f, "size", None) if f is not None else None
        if size is None or size > max_bytes:
            return None
        data = await self.client.download_media(message, file=bytes)
        return data if isinstance(data, (bytes, bytearray)) and len(data) <= max_bytes else None

    async def search(self, query: str, limit: int = 50):
        from telethon.tl.functions.contacts import SearchRequest

        return await self.client(SearchRequest(q=query, limit=limit))

    async def run_until_disconnected(self) -> None:
        """Receive updates (dispatched to the registered handlers) until disconnected or interrupted."""
        await self.client.run_until_disconnected()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def login(seam: TelegramSeam, prompt_phone: Callable[[], str], prompt_code: Callable[[], str],
                prompt_password: Callable[[], str]) -> dict[str, Any]:
    """Interactive login: phone, code, then the 2FA password if the account has one.

    Returns ``{"user_id", "username", "already": bool}``; never returns or logs secrets.
    """
    from telethon import errors

    await seam.connect()
    try:
        if await seam.is_user_authorized():
            me = await seam.get_me()
            return {"user_id": getattr(me, "id", None), "username": getattr(me, "username", None), "already": True}
        phone = prompt_phone().strip()
        if not phone:
            raise SourceError("no phone number given")
        try:
            await seam.send_code_request(phone)
        except errors.PhoneNumberInvalidError:
            raise SourceError("Telegram says the phone number is invalid") from None
        code = prompt_code().strip()
        try:
            await seam.sign_in(phone=phone, code=code)
        except errors.SessionPasswordNeededError:
            password = prompt_password()
            try:
                await seam.sign_in(password=password)
            except errors.PasswordHashInvalidError:
                raise SourceError("wrong two-step verification password") from None
        except (errors.PhoneCodeInvalidError, errors.PhoneCodeExpiredError) as exc:
            raise SourceError(f"login code refused: {type(exc).__name__}") from None
        me = await seam.get_me()
        return {"user_id": getattr(me, "id", None), "username": getattr(me, "username", None), "already": False}
    finally:
        await seam.disconnect()
