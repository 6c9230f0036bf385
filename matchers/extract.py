"""Identifier extraction: ``extract(text) -> Entities``.

A pure function. It finds the identifiers that let investigators link sellers
(phones, messaging handles and links, emails, URLs and domains, prices, crypto
wallets, IBANs and named places) and returns them as :class:`Entity` records
whose ``start``/``end`` index the *original* text, so ``raw == text[start:end]``.

How it stays fast and safe on hostile input:

* every pattern is compiled once, at import, and is linear-time: no nested
  unbounded quantifier over overlapping classes; anchors such as ``@`` are found
  first and the surroundings are matched with bounded patterns;
* one pass per family of identifiers, with cheap pre-checks (no phone parsing
  under 8 digits, no wallet check without a candidate, …);
* digits in other scripts (Arabic-Indic, Persian, full-width, mathematical,
  circled) are folded by a one-to-one ``str.translate``, so offsets never move;
* every family runs in isolation: a bug in one logs a warning and the others
  still run; the result for bad input (empty, binary junk, emoji only …) is an
  empty :class:`Entities`, never an exception.

The data (currency spellings, phone-context words, shared platform domains,
the gazetteer of places) lives in ``matchers/data/*.toml``.
"""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

import phonenumbers
import tldextract

from .crypto import valid_iban, wallet_kind
from .places import find_places
from .types import Entities, Entity

log = logging.getLogger("veille.extract")

DATA_DIR = Path(__file__).parent / "data"
_DATA = tomllib.loads((DATA_DIR / "extract.toml").read_text(encoding="utf-8"))
DATA_VERSION = _DATA["meta"]["version"]

#: Texts longer than this are cut before extraction (spans stay valid: they
#: index the original text, which starts the same way).
MAX_CHARS = 2_000_000
#: Upper bound on candidates examined per family and text (bounded work).
MAX_CANDIDATES = 5_000
#: Upper bound on phonenumbers.parse calls per text.
MAX_PHONE_PARSES = 400

# --------------------------------------------------------------------------
# Digit folding (1:1, so spans are preserved)
# --------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    ranges = [(0x0100, 0x3000), (0xFF00, 0xFFF0), (0x1D400, 0x1D800)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            d = unicodedata.decimal(ch, None)
            if d is not None:
                table[cp] = str(d)
                continue
            if 0x2460 <= cp <= 0x24FF or 0x2776 <= cp <= 0x2793:  # circled digits
                dv = unicodedata.digit(ch, None)
                if dv is not None:
                    table[cp] = str(dv)
                    continue
            if 0xFF01 <= cp <= 0xFF5E or 0x1D400 <= cp < 0x1D800:  # full-width, math letters
                n = unicodedata.normalize("NFKC", ch)
                if len(n) == 1 and n.isascii():
                    table[cp] = n
    table[0x066B] = "."  # ARABIC DECIMAL SEPARATOR
    table[0x066C] = ","  # ARABIC THOUSANDS SEPARATOR
    table[0x2212] = "-"  # MINUS SIGN
    return table


_FOLD = _build_fold_table()


def _char_class(cps) -> str:
    """A compact regex character class (ranges) for a set of code points."""
    cps = sorted(cps)
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


_FOLD_CHARS = re.compile(_char_class(_FOLD))


def fold_digits(text: str) -> str:
    """Fold foreign digits and full-width/mathematical ASCII look-alikes to ASCII.

    The result has exactly the length of ``text`` (one character for one), so
    an offset in it is an offset in the original.
    """
    if text.isascii() or not _FOLD_CHARS.search(text):
        return text
    return text.translate(_FOLD)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------

_TLD = tldextract.TLDExtract(
    cache_dir=None, suffix_list_urls=(), extra_suffixes=tuple(_DATA["domains"]["reserved_tlds"])
)
_SHARED_DOMAINS = frozenset(_DATA["domains"]["shared"])
_RESERVED_TLDS = frozenset(_DATA["domains"]["reserved_tlds"])
_BARE_TLDS = frozenset(_DATA["domains"]["bare_tlds"]) | _RESERVED_TLDS


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> tuple[str, str]:
    """``(registered_domain, suffix)`` of a host name, or ``("", "")``."""
    host = host.strip(".").lower()
    if not host or len(host) > 253:
        return "", ""
    try:
        r = _TLD(host)
    except Exception:  # noqa: BLE001 - odd IDNA input
        return "", ""
    if not r.suffix or not r.domain:
        return "", r.suffix
    return f"{r.domain}.{r.suffix}", r.suffix


def _words_re(words, flags=re.IGNORECASE) -> re.Pattern:
    alts = sorted({w for w in words if w}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in alts) + r")(?!\w)", flags)


def _add(out: list, claimed: list, kind: str, value: str, text: str, start: int, end: int,
         extra: dict | None = None, claim: bool = False) -> None:
    out.append(Entity(kind, value, text[start:end], start, end, extra or {}))
    if claim:
        claimed.append((start, end))


def _overlaps(claimed: list, start: int, end: int) -> bool:
    for s, e in claimed:
        if s < end and start < e:
            return True
    return False


# --------------------------------------------------------------------------
# URLs, and the platforms behind them
# --------------------------------------------------------------------------

_URL_STOP = r"""[^\s<>"'`\u200b-\u200f\u2060\ufeff«»“”‘’]"""
_URL_RE = re.compile(
    r"(?:\b(?:https?|hxxps?)://|(?<![\w@./-])www\.)" + _URL_STOP + r"{1,2000}"
    r"|(?<![\w@./:+-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,10}[a-z]{2,24}(?![\w@-])"
    r"(?:[/?#]" + _URL_STOP + r"{0,2000})?",
    re.IGNORECASE,
)
_TRAIL = ".,;:!?)]}>'\"*…"


def _trim_url(s: str) -> str:
    while s and s[-1] in _TRAIL:
        if s[-1] == ")" and s.count("(") >= s.count(")"):
            break
        s = s[:-1]
    return s


_HANDLE_TG = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}\Z")
_HANDLE_IG = re.compile(r"[A-Za-z0-9._]{1,30}\Z")
_HANDLE_SC = re.compile(r"[A-Za-z][A-Za-z0-9._-]{1,14}\Z")
_HANDLE_TT = re.compile(r"[A-Za-z0-9._]{2,24}\Z")
_INVITE = re.compile(r"[A-Za-z0-9_-]{6,64}\Z")
_TG_RESERVED = frozenset({"share", "addstickers", "addemoji", "proxy", "socks", "iv", "login", "setlanguage",
                          "addtheme", "bg", "confirmphone", "c", "addlist", "boost", "k", "a", "z", "dl", "web"})
_IG_RESERVED = frozenset({"p", "reel", "reels", "explore", "accounts", "tv", "direct", "about", "developer",
                          "legal", "privacy", "web", "s"})


def _phone_from_digits(digits: str) -> tuple[str, dict] | None:
    """A number written in international format without '+' (wa.me, t.me/+)."""
    if not (7 <= len(digits) <= 15) or not digits.isdigit():
        return None
    try:
        n = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(n)
    fiction = _is_fr_fiction(n)
    if not (valid or fiction or phonenumbers.is_possible_number(n)):
        return None
    e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    extra = {"region": phonenumbers.region_code_for_number(n) or "", "valid": valid}
    if fiction:
        extra["fiction"] = True
    return e164, extra


def _platform_entities(out, claimed, text, start, end, host, path, query):
    """Entities for a URL on a messaging or social platform."""
    segs = [s for s in path.split("/") if s]
    first = segs[0] if segs else ""
    if host in ("wa.me", "api.whatsapp.com", "whatsapp.com", "web.whatsapp.com", "chat.whatsapp.com"):
        if host == "chat.whatsapp.com":
            code = segs[-1] if segs else ""
            if _INVITE.match(code):
                _add(out, claimed, "whatsapp", code, text, start, end, {"invite": True})
            return
        num = first if host == "wa.me" else ""
        if not num:
            m = re.search(r"(?:^|&)phone=\+?([0-9]{6,16})", query)
            num = m.group(1) if m else ""
        num = num.lstrip("+")
        p = _phone_from_digits(num) if num.isdigit() else None
        if p:
            _add(out, claimed, "whatsapp", p[0], text, start, end, dict(p[1]))
            _add(out, claimed, "phone", p[0], text, start, end, {**p[1], "channel": "whatsapp"})
        return
    if host in ("t.me", "telegram.me", "telegram.dog"):
        if first == "s" and len(segs) > 1:
            first = segs[1]
        if first.startswith("+"):
            code = first[1:]
            p = _phone_from_digits(code) if code.isdigit() else None
            if p:
                _add(out, claimed, "telegram", p[0], text, start, end, {**p[1], "phone": True})
                _add(out, claimed, "phone", p[0], text, start, end, {**p[1], "channel": "telegram"})
            elif _INVITE.match(code):
                _add(out, claimed, "telegram", code, text, start, end, {"invite": True})
            return
        if first.lower() == "joinchat" and len(segs) > 1:
            if _INVITE.match(segs[1]):
                _add(out, claimed, "telegram", segs[1], text, start, end, {"invite": True})
            return
        if first.lower() not in _TG_RESERVED and _HANDLE_TG.match(first):
            _add(out, claimed, "telegram", first.lower(), text, start, end, {"link": True})
        return
    if host in ("instagram.com", "instagr.am"):
        if first == "stories" and len(segs) > 1:
            first = segs[1]
        if first and first.lower() not in _IG_RESERVED and _HANDLE_IG.match(first):
            _add(out, claimed, "instagram", first.lower(), text, start, end, {"link": True})
        return
    if host in ("snapchat.com", "story.snapchat.com"):
        h = ""
        if first == "add" and len(segs) > 1:
            h = segs[1]
        elif first.startswith("@"):
            h = first[1:]
        if h and _HANDLE_SC.match(h):
            _add(out, claimed, "snapchat", h.lower(), text, start, end, {"link": True})
        return
    if host in ("tiktok.com", "vm.tiktok.com"):
        if first.startswith("@") and _HANDLE_TT.match(first[1:]):
            _add(out, claimed, "tiktok", first[1:].lower(), text, start, end, {"link": True})


def _urls(text: str, ft: str, out: list, claimed: list) -> None:
    for n, m in enumerate(_URL_RE.finditer(ft)):
        if n >= MAX_CANDIDATES:
            break
        s, raw = m.start(), _trim_url(m.group())
        if not raw:
            continue
        e = s + len(raw)
        low = raw.lower()
        scheme = ""
        rest = raw
        if low.startswith(("http://", "https://", "hxxp://", "hxxps://")):
            i = raw.index("://")
            scheme = low[:i].replace("hxxp", "http")
            rest = raw[i + 3:]
        cut = len(rest)
        for ch in "/?#":
            j = rest.find(ch)
            if j != -1 and j < cut:
                cut = j
        hostport, tail = rest[:cut], rest[cut:]
        host = hostport.rsplit("@", 1)[-1].split(":", 1)[0].strip(".").lower()
        if not host or "." not in host:
            continue
        reg, suffix = registered_domain(host)
        if not reg:
            continue
        bare = not scheme and not low.startswith("www.")
        if bare:
            tld = suffix.rsplit(".", 1)[-1]
            if tld not in _BARE_TLDS and not tail:
                continue
        path, _, query = tail.partition("?")
        query = query.split("#", 1)[0]
        norm_host = host[4:] if host.startswith("www.") else host
        value = norm_host + tail.rstrip("/") if tail.strip("/") else norm_host
        extra = {"domain": reg, "host": host}
        if scheme:
            extra["scheme"] = scheme
        _add(out, claimed, "url", value, text, s, e, extra, claim=True)
        plat_host = norm_host[2:] if norm_host.startswith("m.") else norm_host
        if plat_host.startswith("web.") and plat_host != "web.whatsapp.com":
            plat_host = plat_host[4:]
        _platform_entities(out, claimed, text, s, e, plat_host, path, query)
        if reg not in _SHARED_DOMAINS:
            hs = s + (len(raw) - len(rest)) + hostport.lower().find(host) if host in hostport.lower() else s
            _add(out, claimed, "domain", reg, text, hs, hs + len(host), {"host": host})


# --------------------------------------------------------------------------
# Emails and @handles (anchored on "@", never scanning blindly)
# --------------------------------------------------------------------------

_LOCAL_REV = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_DOMAIN_FWD = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_AT_HANDLE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{2,31}")
_OBF_AT = re.compile(
    r"\s{0,2}(?:[\[({<]\s{0,2}(?:at|@|arobase|arrobase|chez)\s{0,2}[\])}>]|\s(?:arobase|arrobase)\s)\s{0,2}",
    re.IGNORECASE)
_OBF_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:(?:\s{0,2}[\[({<]\s{0,2}(?:dot|point|punto)\s{0,2}[\])}>]\s{0,2}|\s(?:dot|point)\s|\.)"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,6}(?![A-Za-z0-9-])",
    re.IGNORECASE)
_OBF_DOT = re.compile(r"\s{0,2}[\[({<]\s{0,2}(?:dot|point|punto)\s{0,2}[\])}>]\s{0,2}|\s(?:dot|point)\s|\.",
                      re.IGNORECASE)

_SOCIAL_LABELS = {
    "telegram": ["telegram", "télégram", "telegramme", "tg", "tlg", "تلغرام", "تيليجرام", "تليجرام", "تلگرام",
                 "телеграм", "телеграмм"],
    "snapchat": ["snapchat", "snap", "sc", "سناب", "سناب شات", "اسنپ"],
    "instagram": ["instagram", "insta", "ig", "انستا", "انستغرام", "انستقرام", "اینستا", "اینستاگرام", "инстаграм",
                  "инста"],
    "tiktok": ["tiktok", "tik tok", "تيك توك", "تیک تاک"],
}
_LABEL_KIND = {w.lower(): k for k, ws in _SOCIAL_LABELS.items() for w in ws}
_SOCIAL_RE = re.compile(
    r"(?:(?<!\w)(?P<label>" + "|".join(re.escape(w) for w in sorted(_LABEL_KIND, key=len, reverse=True)) + r")"
    r"(?!\w)\s{0,3}(?:[:=：➡→>\-]{1,3}\s{0,3}@?|@)|(?P<ghost>👻)\s{0,3}[:=\-]?\s{0,3}@?)"
    r"(?P<h>[A-Za-z][A-Za-z0-9_.\-]{1,31})",
    re.IGNORECASE)
_HANDLE_STOP = frozenset({"me", "moi", "only", "uniquement", "dm", "pv", "mp", "inbox", "prive", "privé", "priv",
                          "direct", "contact", "contacter", "disponible", "dispo", "ou", "or", "et", "and", "the",
                          "le", "la", "les", "pour", "for", "https", "http", "www"})
_HANDLE_RE = {"telegram": _HANDLE_TG, "snapchat": _HANDLE_SC, "instagram": _HANDLE_IG, "tiktok": _HANDLE_TT}


def _social_labels(text: str, ft: str, out: list, claimed: list) -> None:
    for n, m in enumerate(_SOCIAL_RE.finditer(ft)):
        if n >= MAX_CANDIDATES:
            break
        kind = "snapchat" if m.group("ghost") else _LABEL_KIND[m.group("label").lower()]
        h = m.group("h").rstrip(".-_")
        hs = m.start("h")
        he = hs + len(h)
        if _overlaps(claimed, hs, he) or h.lower() in _HANDLE_STOP or not _HANDLE_RE[kind].match(h):
            continue
        s = hs - 1 if hs > 0 and ft[hs - 1] == "@" else hs
        _add(out, claimed, kind, h.lower(), text, s, he, {"label": m.group("label") or "👻"}, claim=True)


def _ats(text: str, ft: str, out: list, claimed: list) -> None:
    pos = ft.find("@")
    n = 0
    while pos != -1 and n < MAX_CANDIDATES:
        n += 1
        nxt = ft.find("@", pos + 1)
        if _overlaps(claimed, pos, pos + 1):
            pos = nxt
            continue
        lo = max(0, pos - 64)
        rev = ft[lo:pos][::-1]
        lm = _LOCAL_REV.match(rev)
        local = lm.group()[::-1].lstrip(".") if lm else ""
        if local:
            dm = _DOMAIN_FWD.match(ft, pos + 1)
            if dm:
                dom = dm.group()
                reg, _ = registered_domain(dom)
                if reg:
                    s = pos - len(local)
                    e = dm.end()
                    _add(out, claimed, "email", f"{local.lower()}@{dom.lower()}", text, s, e,
                         {"domain": reg}, claim=True)
            pos = nxt
            continue
        hm = _AT_HANDLE.match(ft, pos + 1)
        if hm:
            h = hm.group().rstrip(".")
            he = pos + 1 + len(h)
            after = ft[he:he + 1]
            if "." not in h and not (after and (after.isalnum() or after == "@")) and _HANDLE_TG.match(h):
                kind, ctx = _handle_context(ft, pos)
                extra = {"context": ctx} if ctx else {"context": "bare_at"}
                _add(out, claimed, kind, h.lower(), text, pos, he, extra, claim=True)
            elif "." in h:
                # "@name.surname" is an Instagram/TikTok style handle only with a label before.
                kind, ctx = _handle_context(ft, pos)
                if ctx and kind in ("instagram", "tiktok", "snapchat") and _HANDLE_RE[kind].match(h):
                    _add(out, claimed, kind, h.lower(), text, pos, he, {"context": ctx}, claim=True)
        pos = nxt


_CTX_LABEL_RE = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(w) for w in sorted(_LABEL_KIND, key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE)


def _handle_context(ft: str, pos: int) -> tuple[str, str]:
    window = ft[max(0, pos - 30):pos]
    last = None
    for m in _CTX_LABEL_RE.finditer(window):
        last = m
    if last is None:
        return "telegram", ""
    return _LABEL_KIND[last.group(1).lower()], last.group(1).lower()


def _obfuscated_emails(text: str, ft: str, out: list, claimed: list) -> None:
    for n, m in enumerate(_OBF_AT.finditer(ft)):
        if n >= MAX_CANDIDATES:
            break
        if _overlaps(claimed, m.start(), m.end()):
            continue
        rev = ft[max(0, m.start() - 64):m.start()][::-1]
        lm = _LOCAL_REV.match(rev)
        if not lm:
            continue
        local = lm.group()[::-1].lstrip(".")
        dm = _OBF_DOMAIN.match(ft, m.end())
        if not local or not dm:
            continue
        dom = _OBF_DOT.sub(".", dm.group()).lower()
        reg, _ = registered_domain(dom)
        if not reg:
            continue
        s = m.start() - len(local)
        _add(out, claimed, "email", f"{local.lower()}@{dom}", text, s, dm.end(),
             {"domain": reg, "obfuscated": True}, claim=True)


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------

_EMOJI = "\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u25A0-\u25FF\u2300-\u23FF"
_SEP = r"[\s.\-_/\\()\[\]|*~•·'\u00ad\u200b-\u200f\u2060\ufeff\ufe0f\u20e3" + _EMOJI + "]"
_PHONE_CAND = re.compile(r"(?<![\w+])\+?\d(?:" + _SEP + r"{0,4}\d){7,}")
_O_FIX = re.compile(r"(?<![A-Za-z])[oO](?=[\s.\-]?\d)|(?<=\d)[oO](?![A-Za-z])")
_PH = _DATA["phones"]
_TRUNK_REGIONS = tuple(_PH["trunk_regions"])
_NO_TRUNK_REGIONS = tuple(_PH["no_trunk_regions"])
_BARE_CC = tuple(sorted(_PH["bare_country_codes"], key=len, reverse=True))
_FR_FICTION = tuple(p.replace(" ", "") for p in _PH["fr_fiction_prefixes"])
_CTX_CHANNEL = {w.lower(): ch for ch, ws in _PH["context"].items() for w in ws}
_CTX_RE = _words_re(_CTX_CHANNEL)
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _is_fr_fiction(n) -> bool:
    if n.country_code != 33:
        return False
    return ("0" + str(n.national_number)).startswith(_FR_FICTION) and len(str(n.national_number)) == 9


def _phone_context(ft: str, start: int) -> str:
    window = ft[max(0, start - 40):start]
    last = None
    for m in _CTX_RE.finditer(window):
        last = m
    if last is None:
        return ""
    return _CTX_CHANNEL.get(last.group().lower(), "phone")


class _Budget:
    __slots__ = ("left",)

    def __init__(self, n: int) -> None:
        self.left = n

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _try_parse(s: str, region: str | None, budget: _Budget):
    if not budget.take():
        return None
    try:
        return phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        return None


def _parse_phone(d: str, plus: bool, ctx: str, ngroups: int, budget: _Budget) -> tuple[str, dict] | None:
    """Decide whether digit string ``d`` is a phone number; ``(e164, extra)`` or None."""
    intl = plus or d.startswith("00")
    if intl:
        body = d[2:] if (not plus and d.startswith("00")) else d
        n = _try_parse("+" + body, None, budget)
        if n is None:
            return None
        ok = phonenumbers.is_valid_number(n) or _is_fr_fiction(n)
        if not ok:
            cc = str(n.country_code)
            if body.startswith(cc + "0"):  # "+33 (0)6 …"
                n2 = _try_parse("+" + cc + body[len(cc) + 1:], None, budget)
                if n2 is not None and (phonenumbers.is_valid_number(n2) or _is_fr_fiction(n2)):
                    n, ok = n2, True
        if not ok and not phonenumbers.is_possible_number(n):
            return None
        return _result(n, "international", ok)
    if len(d) > 13:
        return None
    if d[0] == "0":
        for r in _TRUNK_REGIONS:
            n = _try_parse(d, r, budget)
            if n is None:
                continue
            if phonenumbers.is_valid_number(n) or (r == "FR" and _is_fr_fiction(n)):
                return _result(n, "national", True)
        return None
    strong = bool(ctx) or ngroups >= 4
    for cc in _BARE_CC:
        if d.startswith(cc) and 11 <= len(d) <= 13:
            n = _try_parse("+" + d, None, budget)
            if n is not None and (phonenumbers.is_valid_number(n) or _is_fr_fiction(n)) and (
                    ctx or phonenumbers.number_type(n) in _MOBILE_TYPES):
                return _result(n, "international_no_plus", True)
            break
    if strong and 8 <= len(d) <= 10:
        for r in _NO_TRUNK_REGIONS:
            n = _try_parse(d, r, budget)
            if n is not None and phonenumbers.is_valid_number(n):
                return _result(n, "national", True)
    return None


def _result(n, fmt: str, valid: bool) -> tuple[str, dict]:
    e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    extra = {"region": phonenumbers.region_code_for_number(n) or "", "format": fmt,
             "valid": bool(phonenumbers.is_valid_number(n))}
    if _is_fr_fiction(n):
        extra["fiction"] = True
    return e164, extra


def _phones(text: str, ft: str, out: list, claimed: list, budget: _Budget) -> None:
    pv = _O_FIX.sub("0", ft) if ("o" in ft or "O" in ft) else ft
    for k, m in enumerate(_PHONE_CAND.finditer(pv)):
        if k >= MAX_CANDIDATES or budget.left <= 0:
            break
        _phone_candidate(text, pv, m.start(), m.group(), out, claimed, budget)


def _phone_candidate(text: str, pv: str, base: int, chunk: str, out: list, claimed: list,
                     budget: _Budget) -> None:
    plus = chunk[0] == "+"
    pos: list[int] = []  # offset of each digit
    bounds: list[int] = [0]  # digit indices where a group starts
    prev = -2
    for i, ch in enumerate(chunk):
        if "0" <= ch <= "9":
            if pos and i != prev + 1:
                bounds.append(len(pos))
            pos.append(base + i)
            prev = i
    nd = len(pos)
    bounds.append(nd)
    digits = "".join(pv[p] for p in pos)
    gi = 0
    while gi < len(bounds) - 1:
        i = bounds[gi]
        first = gi == 0
        intl = first and plus
        options = []  # (group end index, length)
        for gj in range(gi + 1, len(bounds)):
            length = bounds[gj] - i
            if length > 17:
                break
            if length >= 8:
                options.append((gj, length))
        if not intl and digits[i] == "0" and not digits.startswith("00", i):
            options.sort(key=lambda o: _NATIONAL_PREF.get(o[1], 9))
        else:
            options.reverse()
        hit = fallback = None
        for gj, _length in options:
            j = bounds[gj]
            s, e = pos[i], pos[j - 1] + 1
            if intl:
                s -= 1
            if _overlaps(claimed, s, e):
                continue
            ctx = _phone_context(pv, s)
            r = _parse_phone(digits[i:j], intl, ctx, gj - gi, budget)
            if r and (r[1]["valid"] or r[1].get("fiction")):
                hit = (gj, s, e, r, ctx)
                break
            if r and fallback is None:
                fallback = (gj, s, e, r, ctx)  # only "possible": look for a valid one first
            if budget.left <= 0:
                break
        hit = hit or fallback
        if hit:
            gj, s, e, (value, extra), ctx = hit
            if ctx and ctx != "phone":
                extra["channel"] = ctx
            _add(out, claimed, "phone", value, text, s, e, extra, claim=True)
            gi = gj
        else:
            gi += 1


# Preferred lengths of a national number starting with a trunk 0: 10 digits
# (France, Maghreb, Belgium mobiles, Côte d'Ivoire), then 11 (Turkey, Iran, UK).
_NATIONAL_PREF = {10: 0, 11: 1, 9: 2, 12: 3, 13: 4, 8: 5}


# Spelled-out digits (French and English), possibly mixed with digit groups.
_UNITS = {"zero": 0, "zéro": 0, "un": 1, "une": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3,
          "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6, "sept": 7, "seven": 7, "huit": 8, "eight": 8,
          "neuf": 9, "nine": 9}
_TEENS = {"dix": 10, "ten": 10, "onze": 11, "eleven": 11, "douze": 12, "twelve": 12, "treize": 13,
          "thirteen": 13, "quatorze": 14, "fourteen": 14, "quinze": 15, "fifteen": 15, "seize": 16,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"vingt": 20, "vingts": 20, "twenty": 20, "trente": 30, "thirty": 30, "quarante": 40, "forty": 40,
         "cinquante": 50, "fifty": 50, "soixante": 60, "sixty": 60, "septante": 70, "seventy": 70,
         "octante": 80, "huitante": 80, "eighty": 80, "nonante": 90, "ninety": 90}
_NUMWORDS = {**_UNITS, **_TEENS, **_TENS}
_NW = "|".join(sorted(_NUMWORDS, key=len, reverse=True))
_SPELL_TOKEN = r"(?:(?<![^\W\d_])(?:" + _NW + r")(?![^\W\d_])|\d{1,4})"
_SPELL_RUN = re.compile(
    r"(?<![^\W\d_])(?:" + _NW + r")(?![^\W\d_])(?:(?:[\s,.\-/]{1,3}(?:(?:et|and)[\s\-]{1,2})?)" + _SPELL_TOKEN + r"){5,40}",
    re.IGNORECASE)
_SPELL_TOKENS = re.compile(_SPELL_TOKEN, re.IGNORECASE)


def _spelled_to_digits(run: str) -> str:
    toks = [t.lower() for t in _SPELL_TOKENS.findall(run)]
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.isdigit():
            out.append(t)
            i += 1
            continue
        v = _NUMWORDS[t]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if v == 4 and _NUMWORDS.get(nxt) == 20:  # quatre-vingt(s)
            v, i = 80, i + 1
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if v == 10 and _NUMWORDS.get(nxt, 0) in (7, 8, 9) and not nxt.isdigit():  # dix-sept …
            v, i = 10 + _NUMWORDS[nxt], i + 1
        elif v >= 20:
            nv = _NUMWORDS.get(nxt) if not nxt.isdigit() else None
            if nv is not None and v in (60, 80) and 10 <= nv <= 19:
                v, i = v + nv, i + 1
                nxt2 = toks[i + 1] if i + 1 < len(toks) else ""
                if nv == 10 and _NUMWORDS.get(nxt2, 0) in (7, 8, 9) and not nxt2.isdigit():
                    v, i = v + _NUMWORDS[nxt2], i + 1
            elif nv is not None and 1 <= nv <= 9:
                v, i = v + nv, i + 1
        out.append(str(v))
        i += 1
    return "".join(out)


def _spelled_phones(text: str, ft: str, out: list, claimed: list, budget: _Budget) -> None:
    for k, m in enumerate(_SPELL_RUN.finditer(ft)):
        if k >= 50:
            break
        s, e = m.start(), m.end()
        if _overlaps(claimed, s, e):
            continue
        d = _spelled_to_digits(m.group())
        if not (8 <= len(d) <= 15):
            continue
        ctx = _phone_context(ft, s)
        r = _parse_phone(d, False, ctx, 3, budget)
        if r:
            value, extra = r
            extra["spelled"] = True
            if ctx and ctx != "phone":
                extra["channel"] = ctx
            _add(out, claimed, "phone", value, text, s, e, extra, claim=True)


# --------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------

_CUR = _DATA["currencies"]
_CUR_AMBIG = _DATA.get("currencies_ambiguous", {})
_CUR_CODE = {}
for _code, _spellings in _CUR.items():
    for _sp in _spellings:
        _CUR_CODE.setdefault(_sp.lower(), _code)
    _CUR_CODE.setdefault(_code.lower(), _code)
_CUR_ALT = "|".join(re.escape(w) for w in sorted(_CUR_CODE, key=len, reverse=True))
_AMOUNT = r"(?:\d{1,3}(?:[ \u00a0\u202f.,']\d{3})+|\d{1,9})(?:[.,]\d{1,2})?"
_PRICE_RE = re.compile(
    r"(?<![\w.,])(?P<a1>" + _AMOUNT + r")(?!\d)\s{0,2}(?P<k1>[kK](?![^\W\d_]))?\s{0,2}(?P<c1>" + _CUR_ALT + r")(?![^\W\d_])"
    r"|(?<![^\W\d_])(?P<c2>" + _CUR_ALT + r")\s{0,2}(?P<a2>" + _AMOUNT + r")(?![\d.,]?\d)(?P<k2>[kK](?![^\W\d_]))?",
    re.IGNORECASE)


def _amount(s: str) -> float | None:
    s = s.replace("\u00a0", " ").replace("\u202f", " ")
    m = re.fullmatch(r"(\d{1,3}(?:([ .,'])\d{3})+|\d+)(?:([.,])(\d{1,2}))?", s)
    if not m:
        return None
    whole = re.sub(r"[ .,']", "", m.group(1))
    frac = m.group(4) or ""
    try:
        return float(whole + ("." + frac if frac else ""))
    except ValueError:
        return None


def _prices(text: str, ft: str, out: list, claimed: list) -> None:
    for k, m in enumerate(_PRICE_RE.finditer(ft)):
        if k >= MAX_CANDIDATES:
            break
        s, e = m.span()
        if _overlaps(claimed, s, e):
            # "… 12 34 500 €": the amount swallowed the end of a phone number;
            # retry just after the claimed span.
            cut = max((ce for cs, ce in claimed if cs < e and s < ce), default=e)
            while cut < e and ft[cut] in " \u00a0\u202f":
                cut += 1
            m = _PRICE_RE.match(ft, cut) if cut < e else None
            if m is None or _overlaps(claimed, *m.span()):
                continue
            s, e = m.span()
        a = m.group("a1") or m.group("a2")
        cur_raw = (m.group("c1") or m.group("c2")).lower()
        kilo = m.group("k1") or m.group("k2")
        amount = _amount(a)
        if amount is None:
            continue
        if kilo:
            amount *= 1000
        code = _CUR_CODE.get(cur_raw) or _CUR_CODE.get(cur_raw.upper().lower())
        if code is None:
            continue
        if amount == int(amount):
            amount = int(amount)
        extra = {"amount": amount, "currency": code}
        if cur_raw in _CUR_AMBIG:
            extra["ambiguous"] = True
            extra["currencies"] = list(_CUR_AMBIG[cur_raw])
        _add(out, claimed, "price", f"{amount} {code}", text, s, e, extra)


# --------------------------------------------------------------------------
# Wallets and IBANs
# --------------------------------------------------------------------------

_WALLET_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:0x[0-9a-fA-F]{40}|[13LMT][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc1|BC1|ltc1|LTC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87})(?![A-Za-z0-9])"
)
_IBAN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){8,34}(?![a-z0-9])", re.IGNORECASE)


def _wallets(text: str, ft: str, out: list, claimed: list) -> None:
    for k, m in enumerate(_WALLET_RE.finditer(ft)):
        if k >= MAX_CANDIDATES:
            break
        s, e = m.span()
        if _overlaps(claimed, s, e):
            continue
        info = wallet_kind(m.group())
        if info:
            value, extra = info
            _add(out, claimed, "wallet", value, text, s, e, extra, claim=True)


def _ibans(text: str, ft: str, out: list, claimed: list) -> None:
    for k, m in enumerate(_IBAN_RE.finditer(ft)):
        if k >= MAX_CANDIDATES:
            break
        r = valid_iban(m.group())
        if r:
            value, used = r  # ``used`` = characters of the match that form the IBAN
            s = m.start()
            e = s + used
            if _overlaps(claimed, s, e):
                continue
            _add(out, claimed, "iban", value, text, s, e, {"country": value[:2]}, claim=True)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def _run(name: str, fn, *args) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - one family's bug must not stop the others
        log.warning("extract: %s failed: %s: %s", name, type(exc).__name__, exc)


def extract(text: str) -> Entities:
    """Extract identifiers from ``text``; spans index ``text`` itself."""
    if not isinstance(text, str) or not text:
        return Entities()
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    ft = fold_digits(text)
    out: list[Entity] = []
    claimed: list[tuple[int, int]] = []
    has_at = "@" in ft
    has_dot = "." in ft
    if has_dot:
        _run("urls", _urls, text, ft, out, claimed)
    if has_at:
        _run("emails", _ats, text, ft, out, claimed)
    _run("obfuscated_emails", _obfuscated_emails, text, ft, out, claimed)
    _run("social", _social_labels, text, ft, out, claimed)
    _run("wallets", _wallets, text, ft, out, claimed)
    _run("ibans", _ibans, text, ft, out, claimed)
    budget = _Budget(MAX_PHONE_PARSES)
    _run("phones", _phones, text, ft, out, claimed, budget)
    _run("spelled_phones", _spelled_phones, text, ft, out, claimed, budget)
    _run("prices", _prices, text, ft, out, claimed)
    _run("places", find_places, text, ft, out)
    seen: set[tuple[str, str, int]] = set()
    result = Entities()
    for ent in sorted(out, key=lambda x: (x.start, -x.end, x.kind)):
        key = (ent.kind, ent.value, ent.start)
        if key in seen:
            continue
        seen.add(key)
        result.append(ent)
    return result
