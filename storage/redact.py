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

from matchers.patterns import trie_pattern

from .workspace import write_private

THIRD_PARTY_ROLES = {"third_party", "buyer", "victim", "replier", "reply", "member", "non_seller", "contact",
                     "witness", "customer", "client"}
SELLER_ROLES = {"", "seller", "author", "channel", "admin", "owner"}
# Entity kinds that identify a person (prices, places, domains do not).
IDENTIFYING_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban")
# Chat types of Telegram exports: their non-seller members are third parties.
PRIVATE_CHAT_TYPES = {"personal_chat", "private_group", "private_supergroup", "private", "group", "bot_chat",
                      "saved_messages", "user"}
MIN_NAME_CHARS = 3
# Values of these keys are hashes: never rewritten (a short handle could occur inside a hex digest).
HASH_KEYS = {"sha256", "content_sha256", "entry_hash", "prev_hash", "phash", "hash", "message_sha256",
             "redacted_sha256", "sha256_before", "sha256_after", "first_prev_hash", "last_entry_hash"}
# Handles at least this long are replaced wherever they occur, even inside a longer word.
SUBSTRING_HANDLE_CHARS = 6
# A third party's name is also replaced word by word ("Jeanne" alone, for "Jeanne Acheteuse"): each word of
# at least this many letters, written capitalised, that is no particle and no word of a seller's name.
MIN_NAME_PART_CHARS = 3
NAME_PARTICLES = {"de", "du", "des", "la", "le", "les", "el", "al", "ben", "bin", "ibn", "abu", "bou", "ait",
                  "van", "von", "der", "den", "di", "da", "dos", "das", "del", "della", "mac", "st", "ste", "and",
                  "et", "the", "mme", "mlle", "mr", "mrs", "dr"}
_NAME_PART = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


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


_PHONE_RUN = re.compile(r"\+?\d(?:[\s.\-/()]{0,3}\d)+")
_WORD = re.compile(r"\w")


def _phone_parts(value: str) -> tuple[str, set[str]] | None:
    """(national significant number, digit prefixes allowed before it: '', '0', country code…)."""
    norm = normalise("phone", value)
    digits = norm.lstrip("+")
    if len(digits) < 6:
        return None
    if norm.startswith("+"):
        try:
            import phonenumbers

            pn = phonenumbers.parse(norm, None)
            cc, nsn = str(pn.country_code), str(pn.national_number)
            if nsn and digits.endswith(nsn):
                return nsn, {"", "0", cc, f"00{cc}", f"{cc}0", f"00{cc}0"}
        except Exception:  # noqa: BLE001 - not a parseable number: match its digits
            pass
    return digits, {""}


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
    protected_words: set[str] = field(default_factory=set)  # case-folded words of sellers' names and handles
    _regex: re.Pattern | None = None
    _part_regex: re.Pattern | None = None
    _part_forms: dict[str, str] = field(default_factory=dict)
    _compiled: bool = False
    _forms: dict[str, tuple[str, str]] = field(default_factory=dict)
    _phones: dict[str, tuple[str, set[str]]] = field(default_factory=dict)

    def pseudonym(self, kind: str, value: str) -> str:
        norm = normalise(kind, value)
        mac = hmac.new(self.key, f"{kind}:{norm}".encode(), hashlib.sha256).hexdigest()[:12]
        return f"[TP-{kind}-{mac}]"

    def protect(self, value: str | None) -> None:
        if value and str(value).strip():
            for kind in ("phone", "handle", "name", "email", "url", "account"):
                self.protected.add(f"{kind}:{normalise(kind, value)}")
            for w in re.findall(r"[^\W\d_]+", unicodedata.normalize("NFC", str(value))):
                self.protected_words.add(w.casefold())
            self._compiled = False

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
        self._compiled = False

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
    def _compile(self) -> None:
        if self._compiled or not self.identifiers:
            return
        self._forms = {}
        self._phones = {}
        for (kind, _norm), raw in self.identifiers.items():
            if kind == "phone":
                parts = _phone_parts(raw)
                if parts:
                    nsn, prefixes = parts
                    self._phones.setdefault(nsn, (raw, set()))[1].update(prefixes)
                continue
            forms = {raw, html.escape(raw, quote=True), json.dumps(raw, ensure_ascii=True)[1:-1],
                     unicodedata.normalize("NFD", raw)}
            if kind == "handle":
                forms |= {"@" + f for f in forms}
            for f in forms:
                self._forms.setdefault(f.lower(), (kind, raw))
        self._regex = re.compile(trie_pattern(sorted(self._forms)), re.IGNORECASE) if self._forms else None
        self._compile_name_parts()
        self._compiled = True

    def _compile_name_parts(self) -> None:
        """Words of third parties' multi-word names, matched alone (case-sensitive: as a name is written)."""
        owners: dict[str, set[str]] = {}
        for (kind, _norm), raw in self.identifiers.items():
            if kind != "name":
                continue
            parts = _NAME_PART.findall(unicodedata.normalize("NFC", raw))
            if len(parts) < 2:
                continue  # a one-word name is matched whole already
            for part in parts:
                folded = part.casefold()
                if (len(part) < MIN_NAME_PART_CHARS or not part[0].isupper() or folded in NAME_PARTICLES
                        or folded in self.protected_words or f"name:{normalise('name', part)}" in self.protected):
                    continue
                owners.setdefault(part, set()).add(raw)
        self._part_forms = {}
        for part, raws in owners.items():
            # the same person keeps one pseudonym: a word shared by two third parties gets its own
            owner = next(iter(raws)) if len(raws) == 1 else part
            for form in (part, part.upper(), html.escape(part, quote=True), json.dumps(part, ensure_ascii=True)[1:-1],
                         unicodedata.normalize("NFD", part)):
                self._part_forms.setdefault(form, owner)
        self._part_regex = re.compile(trie_pattern(sorted(self._part_forms))) if self._part_forms else None

    def _spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """Non-overlapping (start, end, kind, raw) of every third-party identifier in the text."""
        self._compile()
        spans: list[tuple[int, int, str, str]] = []
        if self._regex is not None:
            for m in self._regex.finditer(text):
                s0, e0 = m.span()
                if s0 == e0:
                    continue
                kind, raw = self._forms.get(m.group().lower(), ("name", m.group()))
                before = text[s0 - 1] if s0 else ""
                after = text[e0] if e0 < len(text) else ""
                if kind == "handle" and len(raw) >= SUBSTRING_HANDLE_CHARS and not raw.isdigit():
                    pass  # distinctive: also inside ids such as "user<handle>"
                elif kind == "handle":
                    if (before and (_WORD.match(before) or before == ".")) or (after and _WORD.match(after)):
                        continue
                elif kind in ("name", "account") and (
                        (before and _WORD.match(before)) or (after and _WORD.match(after))):
                    continue
                spans.append((s0, e0, kind, raw))
        if self._part_regex is not None:
            for m in self._part_regex.finditer(text):
                s0, e0 = m.span()
                if s0 == e0:
                    continue
                before = text[s0 - 1] if s0 else ""
                after = text[e0] if e0 < len(text) else ""
                if (before and (_WORD.match(before) or before == "\\")) or (after and _WORD.match(after)):
                    continue  # inside a longer word, or right after a backslash (a JSON or regex escape)
                spans.append((s0, e0, "name", self._part_forms.get(m.group(), m.group())))
        if self._phones:
            lengths = sorted({len(n) for n in self._phones}, reverse=True)
            for m in _PHONE_RUN.finditer(text):
                chunk = m.group()
                pos = [i for i, ch in enumerate(chunk) if ch.isdigit()]
                digits = "".join(chunk[i] for i in pos)
                if len(digits) < 6:
                    continue
                i = 0
                while i < len(digits):
                    hit = None
                    for L in lengths:
                        cand = digits[i:i + L]
                        if len(cand) == L and cand in self._phones:
                            hit = (cand, L)
                            break
                    if hit is None:
                        i += 1
                        continue
                    nsn, L = hit
                    raw, prefixes = self._phones[nsn]
                    start = i
                    for pre in sorted(prefixes, key=len, reverse=True):
                        if pre and digits[:i].endswith(pre):
                            start = i - len(pre)
                            break
                    s0 = m.start() + pos[start]
                    if start == 0 and chunk.startswith("+"):
                        s0 = m.start()
                    spans.append((s0, m.start() + pos[i + L - 1] + 1, "phone", raw))
                    i += L
        if not spans:
            return spans
        spans.sort(key=lambda x: (x[0], -(x[1] - x[0])))
        out = [spans[0]]
        for sp in spans[1:]:
            if sp[0] >= out[-1][1]:
                out.append(sp)
        return out

    def redact_text(self, text: str, counts: dict[str, Replacement] | None = None) -> str:
        if not text or not self.identifiers:
            return text
        spans = self._spans(text)
        if not spans:
            return text
        parts = []
        last = 0
        for s0, e0, kind, raw in spans:
            ps = self.pseudonym(kind, raw)
            if counts is not None:
                counts.setdefault(ps, Replacement(kind, ps)).count += 1
            parts.append(text[last:s0])
            parts.append(ps)
            last = e0
        parts.append(text[last:])
        return "".join(parts)

    def redact_obj(self, obj: Any, counts: dict[str, Replacement] | None = None) -> Any:
        """Redact every string (keys included) of a JSON-like object; hash values are left alone."""
        if isinstance(obj, str):
            return self.redact_text(obj, counts)
        if isinstance(obj, list):
            return [self.redact_obj(x, counts) for x in obj]
        if isinstance(obj, dict):
            return {self.redact_text(str(k), counts): (v if k in HASH_KEYS and isinstance(v, str)
                                                       else self.redact_obj(v, counts))
                    for k, v in obj.items()}
        if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= 10_000:
            text = str(obj)  # numeric account ids (Telegram user ids) are identifiers too
            red = self.redact_text(text, counts)
            return red if red != text else obj
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
        return bool(text and self.identifiers and self._spans(text))


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
