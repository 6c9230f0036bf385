"""Pseudonymisation of third parties in the working copy of an evidence bundle.

Third parties are buyers, victims, people who replied, and members of
exported chats who are not sellers (see :func:`is_third_party`). Their phones,
handles, names, e-mail addresses and profile links are replaced by
``[TP-<kind>-<hmac>]`` where ``<hmac>`` is the first 12 hex digits of
HMAC-SHA256(per-bundle key, "<kind>:<normalised value>"). The same person gets
the same pseudonym everywhere in one bundle; the key stays outside the bundle
(written 0600 by :func:`write_key`), so whoever holds it can confirm that a
given phone number is the pseudonym ``[TP-phone-…]`` and nobody else can.

The seller's own identifiers are never redacted: they are the evidence.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workspace import write_private

THIRD_PARTY_ROLES = {"third_party", "buyer", "victim", "replier", "reply", "member", "non_seller", "contact",
                     "witness", "customer", "client"}
SELLER_ROLES = {"", "seller", "author", "channel", "admin", "owner"}
# Entity kinds that identify a person (prices, places, domains do not).
IDENTIFYING_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban")
# Chat types of Telegram exports: their non-seller members are third parties.
PRIVATE_CHAT_TYPES = {"personal_chat", "private_group", "private_supergroup", "private", "group", "bot_chat",
                      "saved_messages"}
MIN_NAME_CHARS = 3
# Handles at least this long are replaced wherever they occur, even inside a longer word.
SUBSTRING_HANDLE_CHARS = 6


def is_third_party(post: dict) -> bool:
    """A post whose author is a third party (buyer, victim, replier, non-seller chat member)."""
    role = (post.get("author_role") or "").strip().lower()
    if role in THIRD_PARTY_ROLES:
        return True
    if role and role not in SELLER_ROLES:
        return True  # any explicit non-seller role
    if role:
        return False
    extra = _extra(post)
    chat_type = str(extra.get("chat_type") or "").lower()
    return chat_type in PRIVATE_CHAT_TYPES and post.get("seller_id") is None


def _extra(post: dict) -> dict:
    e = post.get("extra")
    if isinstance(e, str):
        try:
            e = json.loads(e)
        except ValueError:
            return {}
    return e if isinstance(e, dict) else {}


def chat_members(post: dict) -> list[dict]:
    """Members listed by an exported chat (``extra.chat_members`` or ``extra.members``)."""
    extra = _extra(post)
    out = []
    for m in extra.get("chat_members") or extra.get("members") or []:
        if isinstance(m, str):
            out.append({"name": m})
        elif isinstance(m, dict):
            out.append(m)
    return out


def normalise(kind: str, value: str) -> str:
    v = unicodedata.normalize("NFC", str(value)).strip()
    if kind == "phone":
        digits = re.sub(r"\D", "", v)
        if v.startswith("+"):
            return "+" + digits
        if digits.startswith("00"):
            return "+" + digits[2:]
        if digits.startswith("0") and len(digits) == 10:
            return "+33" + digits[1:]
        return digits
    if kind in ("handle", "email", "url"):
        return v.lstrip("@").casefold()
    return " ".join(v.split()).casefold()


def _phone_pattern(value: str) -> str | None:
    """A regex that matches a phone number however it is written (spaces, dots, +33/0033/0)."""
    norm = normalise("phone", value)
    digits = norm.lstrip("+")
    if len(digits) < 6:
        return None
    sep = r"[\s.\-/()]*"
    national = None
    if norm.startswith("+"):
        try:
            import phonenumbers

            pn = phonenumbers.parse(norm, None)
            cc = str(pn.country_code)
            national = str(pn.national_number)
        except Exception:  # noqa: BLE001 - not a parseable number: match digits only
            cc = None
        if cc and national:
            cc_pat = sep.join(cc)
            nat_pat = sep.join(national)
            return rf"(?<!\d)(?:(?:\+|00){sep}{cc_pat}{sep}(?:\(0\){sep})?|0{sep})?{nat_pat}(?!\d)"
    return r"(?<!\d)" + sep.join(digits) + r"(?!\d)"


@dataclass
class Replacement:
    kind: str
    pseudonym: str
    count: int = 0


@dataclass
class Redactor:
    """Replaces every known third-party identifier in strings, JSON and bytes."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    identifiers: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, normalised) -> raw sample
    protected: set[str] = field(default_factory=set)  # normalised seller identifiers: never redacted
    _regex: re.Pattern | None = None
    _lookup: list[tuple[str, str]] = field(default_factory=list)

    def pseudonym(self, kind: str, value: str) -> str:
        norm = normalise(kind, value)
        mac = hmac.new(self.key, f"{kind}:{norm}".encode(), hashlib.sha256).hexdigest()[:12]
        return f"[TP-{kind}-{mac}]"

    def protect(self, value: str | None) -> None:
        if value and str(value).strip():
            for kind in ("phone", "handle", "name", "email", "url", "account"):
                self.protected.add(f"{kind}:{normalise(kind, value)}")

    def add(self, kind: str, value: str | None) -> None:
        if value is None:
            return
        value = str(value).strip()
        if kind == "handle":
            value = value.lstrip("@")
        if len(value) < (MIN_NAME_CHARS if kind == "name" else 3):
            return
        if f"{kind}:{normalise(kind, value)}" in self.protected:
            return
        self.identifiers.setdefault((kind, normalise(kind, value)), value)
        self._regex = None

    def add_entity(self, kind: str, value: str | None, raw: str | None = None) -> None:
        k = "phone" if kind in ("phone", "whatsapp") else ("email" if kind == "email" else "handle")
        if kind in ("wallet", "iban"):
            k = "account"
        for v in (value, raw):
            if v:
                self.add(k, v)

    def __bool__(self) -> bool:
        return bool(self.identifiers)

    # ------------------------------------------------------------------ matching
    def _compile(self) -> re.Pattern | None:
        if self._regex is not None or not self.identifiers:
            return self._regex
        alts: list[str] = []
        self._lookup = []
        items = sorted(self.identifiers.items(), key=lambda kv: -len(kv[1]))
        for (kind, _norm), raw in items:
            pats: list[str] = []
            if kind == "phone":
                p = _phone_pattern(raw)
                if p:
                    pats.append(p)
            else:
                forms = {raw, html.escape(raw, quote=True), json.dumps(raw, ensure_ascii=True)[1:-1],
                         unicodedata.normalize("NFD", raw)}
                for f in sorted(forms, key=len, reverse=True):
                    esc = re.escape(f)
                    if kind == "handle" and len(raw) >= SUBSTRING_HANDLE_CHARS:
                        esc = "@?" + esc  # distinctive: also inside ids such as "user<handle>"
                    elif kind == "handle":
                        esc = r"(?<![\w.])@?" + esc + r"(?![\w])"
                    elif kind in ("name", "account"):
                        esc = r"(?<!\w)" + esc + r"(?!\w)"
                    pats.append(esc)
            for p in pats:
                self._lookup.append((kind, raw))
                alts.append(f"(?P<g{len(self._lookup) - 1}>{p})")
        self._regex = re.compile("|".join(alts), re.IGNORECASE) if alts else None
        return self._regex

    def redact_text(self, text: str, counts: dict[str, Replacement] | None = None) -> str:
        if not text or not self.identifiers:
            return text
        rx = self._compile()
        if rx is None:
            return text

        def sub(m: re.Match) -> str:
            kind, raw = self._lookup[int(m.lastgroup[1:])]
            ps = self.pseudonym(kind, raw)
            if counts is not None:
                counts.setdefault(ps, Replacement(kind, ps)).count += 1
            return ps

        return rx.sub(sub, text)

    def redact_obj(self, obj: Any, counts: dict[str, Replacement] | None = None) -> Any:
        """Redact every string (keys included) of a JSON-like object."""
        if isinstance(obj, str):
            return self.redact_text(obj, counts)
        if isinstance(obj, list):
            return [self.redact_obj(x, counts) for x in obj]
        if isinstance(obj, dict):
            return {self.redact_text(str(k), counts): self.redact_obj(v, counts) for k, v in obj.items()}
        return obj

    def redact_bytes(self, data: bytes, mime: str | None = None,
                     counts: dict[str, Replacement] | None = None) -> bytes:
        """Redact a text file's bytes. JSON is parsed and rewritten; other text is substituted."""
        try:
            text = data.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            enc = "latin-1"
        if (mime or "").endswith("json") or text.lstrip()[:1] in ("{", "["):
            try:
                obj = json.loads(text)
            except ValueError:
                pass
            else:
                red = self.redact_obj(obj, counts)
                if red == obj:
                    return data
                return json.dumps(red, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        out = self.redact_text(text, counts)
        if out == text:
            return data
        try:
            return out.encode(enc)
        except UnicodeEncodeError:
            return out.encode("utf-8")

    def contains(self, text: str) -> bool:
        rx = self._compile()
        return bool(rx and text and rx.search(text))


def new_key() -> bytes:
    return secrets.token_bytes(32)


def write_key(path: Path, key: bytes, bundle_id: str, bundle_name: str) -> Path:
    """Write the per-bundle pseudonymisation key (0600), never inside the bundle."""
    body = {
        "bundle_id": bundle_id,
        "bundle": bundle_name,
        "algorithm": "HMAC-SHA256",
        "key_hex": key.hex(),
        "pseudonym": "[TP-<kind>-<first 12 hex digits of HMAC-SHA256(key, '<kind>:<normalised value>')>]",
        "normalisation": "phone: E.164 (+33...); handle/email/url: without '@', case-folded; "
                         "name: spaces collapsed, case-folded",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    write_private(path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
    return path
