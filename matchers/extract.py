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

import bisect
import logging
import re
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

import phonenumbers
import tldextract

from .crypto import valid_iban, wallet_kind
from .patterns import trie_pattern
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
#: Upper bound on phone-number checks (phonenumbers validations) per text.
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


_FOLD_BMP = re.compile(_char_class(c for c in _FOLD if c <= 0xFFFF))
# One wide range is much cheaper to scan for than the exact (holed) set.
_FOLD_ASTRAL = re.compile("[" + chr(min(c for c in _FOLD if c > 0xFFFF)) + "-" + chr(max(_FOLD)) + "]")
_FOLD_RUNS = re.compile("(?:" + _FOLD_BMP.pattern + "|" + _FOLD_ASTRAL.pattern + ")+")


def fold_digits(text: str) -> str:
    """Fold foreign digits and full-width/mathematical ASCII look-alikes to ASCII.

    The result has exactly the length of ``text`` (one character for one), so
    an offset in it is an offset in the original.
    """
    if text.isascii() or not (_FOLD_BMP.search(text) or (not _bmp_only(text) and _FOLD_ASTRAL.search(text))):
        return text
    # foreign digits come in short runs: translate those only (str.translate over a whole non-ASCII text
    # costs a dictionary look-up per character)
    return _FOLD_RUNS.sub(_fold_run, text)


# UTF-8 byte classes of a text (see _State; a lead byte is never a continuation byte, so a class is absent
# only when none of its characters occurs): "C" for the lead bytes of U+0400-U+04FF; "A", "B" and "P" for
# those of U+0600-U+06FF (0xD8 and 0xDA, 0xD9, 0xDB: see _has_arabic, and places._SCRIPT_BYTES); "X" for the
# other lead bytes of the characters of _FOLD; "q" and "r" for the continuation bytes 0xA0-0xAC and
# 0xB0-0xB9, so "Bq" and "Pr" occur whenever an Arabic-Indic (U+0660-U+066C) or a Persian (U+06F0-U+06F9)
# digit does, the only characters of _FOLD led by 0xD8-0xDB (checked below); "D" for "+" and the ASCII
# digits (as _NUM_START_BYTES)
_FOLD_LEADS = frozenset(chr(c).encode("utf-8", "surrogatepass")[0] for c in _FOLD)
_TEXT_BYTES = bytes(67 if 0xD0 <= b <= 0xD3 else 66 if b == 0xD9 else 80 if b == 0xDB else 65 if 0xD8 <= b <= 0xDB
                    else 88 if b in _FOLD_LEADS else 68 if b == 0x2B or 0x30 <= b <= 0x39
                    else 113 if 0xA0 <= b <= 0xAC else 114 if 0xB0 <= b <= 0xB9 else 46 for b in range(256))
assert all((m := chr(c).encode("utf-8", "surrogatepass").translate(_TEXT_BYTES))[0] == 88 or m in (b"Bq", b"Pr")
           for c in _FOLD)


def _may_fold(classes: bytes) -> bool:
    """Can a text with these _TEXT_BYTES classes hold a character of _FOLD? (False: certainly not.)"""
    return b"X" in classes or b"Bq" in classes or b"Pr" in classes


def _has_arabic(classes: bytes) -> bool:
    """May the text hold a character of U+0600-U+06FF? (False: certainly not.)"""
    return b"A" in classes or b"B" in classes or b"P" in classes


def _bmp_only(s: str) -> bool:
    """No code point beyond U+FFFF (one UTF-16 encoding in C; cheaper than a regex scan of the text)."""
    return len(s.encode("utf-16-le", "surrogatepass")) == 2 * len(s)


def _fold_run(m: re.Match) -> str:
    return m.group().translate(_FOLD)


def lower_same_length(ft: str) -> str:
    """``ft.lower()``, keeping one character for one (offsets stay valid)."""
    lt = ft.lower()
    if len(lt) == len(ft):
        return lt
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in ft)


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
    if not host or len(host) > 253 or ".." in host:
        return "", ""
    try:
        r = _TLD(host)
    except Exception:  # noqa: BLE001 - odd IDNA input
        return "", ""
    if not r.suffix or not r.domain:
        return "", r.suffix
    return f"{r.domain}.{r.suffix}", r.suffix


def _words_trie(words) -> str:
    """The lower-cased ``words`` as one trie-shaped regex (:func:`matchers.patterns.trie_pattern`):
    same matches as :func:`_words_alt` when the match must end at a word end."""
    return trie_pattern({w.lower() for w in words if w})


def _words_alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted({w.lower() for w in words if w}, key=len, reverse=True))


class _State:
    """What one call of :func:`extract` works on."""

    __slots__ = ("text", "ft", "lt", "out", "claimed", "claimed_starts", "parses", "post_platforms", "_tokens",
                 "classes")

    def __init__(self, text: str) -> None:
        self.text = text
        # a non-ASCII text's UTF-8 bytes mapped to _TEXT_BYTES (one encode, one translate in C): without an
        # "X", a "Bq" or a "Pr" it holds no character of _FOLD (fold_digits would give it back unchanged,
        # after a regex scan); its "D"s are those _numbers looks for; its "C" and _has_arabic tell the places
        # pass which scripts ``lt`` may hold (folding digits and lower-casing never make a Cyrillic or
        # Arabic-script character out of another one: tested)
        self.classes: bytes | None = None
        if text.isascii():
            self.ft = text
        else:
            self.classes = m = text.encode("utf-8", "surrogatepass").translate(_TEXT_BYTES)
            self.ft = fold_digits(text) if _may_fold(m) else text  # digits folded, same length
        self.lt = lower_same_length(self.ft)  # and lower-cased, same length
        self.out: list[Entity] = []
        self.claimed: list[tuple[int, int]] = []
        self.claimed_starts: list[int] = []
        self.parses = MAX_PHONE_PARSES
        self.post_platforms: frozenset | None = None  # platforms the post names (computed when needed)
        self._tokens: list | None = None

    @property
    def tokens(self) -> list:
        """The whitespace-separated words of ``lt``, split in C once: ``frozenset.isdisjoint`` over them is
        a cheap test for trigger words (their hashes are computed once and cached by the strings)."""
        if self._tokens is None:
            self._tokens = self.lt.split()
        return self._tokens

    def add(self, kind: str, value: str, start: int, end: int, extra: dict | None = None,
            claim: bool = False) -> None:
        self.out.append(Entity(kind, value, self.text[start:end], start, end, extra or {}))
        if claim:
            # Claimed spans stay disjoint and sorted: overlap tests are a bisection.
            self.claimed_add(start, end)

    def claimed_add(self, start: int, end: int) -> None:
        if not self.overlaps(start, end):
            i = bisect.bisect_left(self.claimed_starts, start)
            self.claimed_starts.insert(i, start)
            self.claimed.insert(i, (start, end))

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.claimed_starts, end) - 1
        return i >= 0 and self.claimed[i][1] > start

    def claimed_end(self, start: int, end: int) -> int:
        """End of the last claimed span overlapping [start, end), or ``start``."""
        i = bisect.bisect_left(self.claimed_starts, end) - 1
        if i >= 0 and self.claimed[i][1] > start:
            return max(start, self.claimed[i][1])
        return start


def _contains_any(s: str, needles) -> bool:
    """``any(n in s for n in needles)`` without a generator (called on every text: a plain loop is cheaper)."""
    for n in needles:
        if n in s:
            return True
    return False


def _prev_char(s: str, i: int) -> str:
    return s[i - 1] if i > 0 else ""


# --------------------------------------------------------------------------
# URLs, and the platforms behind them
# --------------------------------------------------------------------------

_URL_CHARS = r"""[^\s<>"'`\u200b-\u200f\u2060\ufeff«»“”‘’]"""
_SCHEME_URL = re.compile(r"(?:h(?:tt|xx)ps?://|www\.)" + _URL_CHARS + r"{1,2000}")
_URL_TAIL = re.compile(r"[/?#]" + _URL_CHARS + r"{0,2000}")
_DOT = re.compile(r"[.][a-z0-9]")
_HOST_REV = re.compile(r"[a-z0-9.\-]{1,253}")
_BARE_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.){1,10}[a-z]{2,24}(?![a-z0-9\-@_])")
_TRAIL = ".,;:!?)]}>'\"*…"


def _trim_url(s: str) -> str:
    while s and s[-1] in _TRAIL:
        if s[-1] == ")" and s.count("(") >= s.count(")"):
            break
        s = s[:-1]
    return s


_HANDLE_TG = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}\Z")
_HANDLE_IG = re.compile(r"[A-Za-z0-9._]{1,30}\Z")
_HANDLE_SC = re.compile(r"[A-Za-z][A-Za-z0-9._\-]{1,14}\Z")
_HANDLE_TT = re.compile(r"[A-Za-z0-9._]{2,24}\Z")
_INVITE = re.compile(r"[A-Za-z0-9_\-]{6,64}\Z")
_PHONE_QS = re.compile(r"(?:^|&)phone=(?:%2[bB]|\+)?([0-9]{6,16})")
_TG_RESERVED = frozenset({"share", "addstickers", "addemoji", "proxy", "socks", "iv", "login", "setlanguage",
                          "addtheme", "bg", "confirmphone", "c", "addlist", "boost", "k", "a", "z", "dl", "web"})
_IG_RESERVED = frozenset({"p", "reel", "reels", "explore", "accounts", "tv", "direct", "about", "developer",
                          "legal", "privacy", "web", "s"})


def _phone_from_digits(digits: str) -> tuple[str, dict] | None:
    """A number written in international format without '+' (wa.me, t.me/+)."""
    if not (7 <= len(digits) <= 15) or not digits.isdigit():
        return None
    r = _classify_digits(digits, True, True, False)
    if r is None:
        return None
    e164, region, _fmt, valid, fiction = r
    extra = {"region": region, "valid": valid}
    if fiction:
        extra["fiction"] = True
    return e164, extra


def _platform_entities(st: _State, start: int, end: int, host: str, path: str, query: str) -> None:
    """Entities for a URL on a messaging or social platform."""
    segs = [s for s in path.split("/") if s]
    first = segs[0] if segs else ""
    if host in ("wa.me", "api.whatsapp.com", "whatsapp.com", "web.whatsapp.com", "chat.whatsapp.com"):
        if host == "chat.whatsapp.com":
            code = segs[-1] if segs else ""
            if _INVITE.match(code):
                st.add("whatsapp", code, start, end, {"invite": True})
            return
        num = first if host == "wa.me" else ""
        if not num:
            m = _PHONE_QS.search(query)
            num = m.group(1) if m else ""
        num = num.lstrip("+")
        p = _phone_from_digits(num) if num.isdigit() else None
        if p:
            st.add("whatsapp", p[0], start, end, dict(p[1]))
            st.add("phone", p[0], start, end, {**p[1], "channel": "whatsapp"})
        return
    if host in ("t.me", "telegram.me", "telegram.dog"):
        if first == "s" and len(segs) > 1:
            first = segs[1]
        if first.startswith("+"):
            code = first[1:]
            p = _phone_from_digits(code) if code.isdigit() else None
            if p:
                st.add("telegram", p[0], start, end, {**p[1], "phone": True})
                st.add("phone", p[0], start, end, {**p[1], "channel": "telegram"})
            elif _INVITE.match(code):
                st.add("telegram", code, start, end, {"invite": True})
            return
        if first.lower() == "joinchat" and len(segs) > 1:
            if _INVITE.match(segs[1]):
                st.add("telegram", segs[1], start, end, {"invite": True})
            return
        if first.lower() not in _TG_RESERVED and _HANDLE_TG.match(first):
            st.add("telegram", first.lower(), start, end, {"link": True})
        return
    if host in ("instagram.com", "instagr.am"):
        if first == "stories" and len(segs) > 1:
            first = segs[1]
        if first and first.lower() not in _IG_RESERVED and _HANDLE_IG.match(first):
            st.add("instagram", first.lower(), start, end, {"link": True})
        return
    if host in ("snapchat.com", "story.snapchat.com"):
        h = ""
        if first == "add" and len(segs) > 1:
            h = segs[1]
        elif first.startswith("@"):
            h = first[1:]
        if h and _HANDLE_SC.match(h):
            st.add("snapchat", h.lower(), start, end, {"link": True})
        return
    if host in ("tiktok.com", "vm.tiktok.com"):
        if first.startswith("@") and _HANDLE_TT.match(first[1:]):
            st.add("tiktok", first[1:].lower(), start, end, {"link": True})


def _emit_url(st: _State, s: int, raw: str, bare: bool) -> int:
    """Record the URL ``raw`` found at ``s``; returns its end (or ``s`` when rejected)."""
    raw = _trim_url(raw)
    if not raw:
        return s
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
        return s
    reg, suffix = registered_domain(host)
    if not reg:
        return s
    if bare and not tail and suffix.rsplit(".", 1)[-1] not in _BARE_TLDS:
        return s
    path, _, query = tail.partition("?")
    query = query.split("#", 1)[0]
    norm_host = host[4:] if host.startswith("www.") else host
    value = norm_host + tail.rstrip("/") if tail.strip("/") else norm_host
    extra = {"domain": reg, "host": host}
    if scheme:
        extra["scheme"] = scheme
    if not host.isascii():
        # Internationalised (or look-alike: Cyrillic "е" in "rdv-prеf.fr") host name.
        extra["idn"] = True
        try:
            extra["ascii_host"] = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    st.add("url", value, s, e, extra, claim=True)
    plat_host = norm_host[2:] if norm_host.startswith("m.") else norm_host
    _platform_entities(st, s, e, plat_host, path, query)
    if reg not in _SHARED_DOMAINS:
        hs = s + (len(raw) - len(rest))
        k = hostport.lower().find(host)
        if k >= 0:
            hs += k
        st.add("domain", reg, hs, hs + len(host), {"host": host})
    return e


# "t . me/x", "t[.]me/x", "wa(.)me/336…": messaging links broken to dodge filters.
_OBF_MSG_LINK = re.compile(r"(?<![a-z0-9])(t|wa)(?: ?[\[({] ?\. ?[\])}] ?| \. ?|\. )me ?/ ?([+a-z0-9_\-]{3,64})")


def _obfuscated_links(st: _State) -> None:
    lt = st.lt
    if "/" not in lt or ("me/" not in lt and "me /" not in lt):  # a character search first (memchr)
        return
    for n, m in enumerate(_OBF_MSG_LINK.finditer(lt)):
        if n >= MAX_CANDIDATES:
            break
        s, e = m.span()
        if st.overlaps(s, e):
            continue
        host = "wa.me" if m.group(1) == "wa" else "t.me"
        path = st.ft[m.start(2):e]
        before = len(st.out)
        _platform_entities(st, s, e, host, "/" + path, "")
        for i in range(before, len(st.out)):
            st.out[i].extra["obfuscated"] = True
        if len(st.out) > before:
            st.claimed_add(s, e)


_DOTTED_HANDLE_LABEL = re.compile(
    r"(?:(?<![^\W_])(?:" + _words_alt(w for ws in (
        ["snapchat", "snap", "sc", "سناب", "سناب شات", "اسنپ"],
        ["instagram", "insta", "ig", "انستا", "انستغرام", "انستقرام", "اینستا", "اینستاگرام", "инстаграм", "инста"],
        ["tiktok", "tik tok", "تيك توك", "تیک تاک"]) for w in ws)
    + r")(?![^\W_])[ \t]{0,3}[:=：➡→>\-]{1,3}|👻[ \t]{0,3}[:=\-]?"
    # "snapchat docs.pro.fr": a platform's name right before, no separator
    + r"|(?<![^\W_])(?:snapchat|snap|instagram|insta|tiktok)[ \t])[ \t]{0,3}@?\Z")


def _urls(st: _State) -> None:
    lt, ft = st.lt, st.ft
    # a scheme URL holds "://" or "www." (character searches first: memchr; a longer needle is a slower search)
    if (":" in lt and "://" in lt) or ("w" in lt and "www." in lt):
        for n, m in enumerate(_SCHEME_URL.finditer(lt)):
            if n >= MAX_CANDIDATES:
                break
            s = m.start()
            p = _prev_char(lt, s)
            if p and (p.isalnum() or p in "@_"):
                continue
            _emit_url(st, s, ft[s:m.end()], bare=False)
    done = -1
    for n, m in enumerate(_DOT.finditer(lt)):
        if n >= MAX_CANDIDATES:
            break
        p = m.start()
        if p < done or st.overlaps(p, p + 1):
            continue
        hm = _HOST_REV.match(lt[max(0, p - 253):p][::-1])
        if not hm:
            continue
        hs = p - len(hm.group())
        before = _prev_char(lt, hs)
        if before and (before.isalnum() or before in "@/:+_") or lt[max(0, hs - 2):hs] == "@ ":
            done = p + 1
            continue
        dm = _BARE_HOST.match(lt, hs)
        if not dm or dm.end() <= p:
            continue
        e = dm.end()
        if e < len(lt) and lt[e] in "/?#":
            tm = _URL_TAIL.match(ft, e)
            if tm:
                e = tm.end()
        elif _DOTTED_HANDLE_LABEL.search(lt, max(0, hs - 24), hs):
            # "snap : rdv93.example": a Snapchat/Instagram/TikTok username (they may
            # hold dots), not a web site; the social pass takes it.
            done = dm.end()
            continue
        end = _emit_url(st, hs, ft[hs:e], bare=True)
        done = max(end, dm.end())


# --------------------------------------------------------------------------
# Emails and @handles (anchored on "@", never scanning blindly)
# --------------------------------------------------------------------------

_LOCAL_REV = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_DOMAIN_FWD = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
# "name@gmail" (no top-level domain): the provider's domain is inferred.
_MAIL_PROVIDERS = {"gmail": "gmail.com", "googlemail": "googlemail.com", "outlook": "outlook.com",
                   "icloud": "icloud.com", "protonmail": "protonmail.com", "proton": "proton.me"}
_BARE_PROVIDER = re.compile(r"(" + "|".join(_MAIL_PROVIDERS) + r")(?![a-z0-9.\-])")
_ZW = "\u200b-\u200f\u2060\ufeff\u00ad"
_ZW_RE = re.compile("[" + _ZW + "]")
_AT_HANDLE = re.compile(r"[A-Za-z][A-Za-z0-9_." + _ZW + r"]{2,40}")
_OBF_AT = re.compile(r"[\[({<][ ]{0,2}(?:at|@|arobase|arrobase|chez)[ ]{0,2}[\])}>]")
_OBF_AT_WORD = re.compile(r" (?:arobase|arrobase) ")
_OBF_DOMAIN = re.compile(
    r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
    r"(?:(?:[ ]{0,2}[\[({<][ ]{0,2}(?:dot|point|punto|\.)[ ]{0,2}[\])}>][ ]{0,2}| (?:dot|point) |\.)"
    r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?){1,6}(?![a-z0-9\-])")
_OBF_DOT = re.compile(r"[ ]{0,2}[\[({<][ ]{0,2}(?:dot|point|punto|\.)[ ]{0,2}[\])}>][ ]{0,2}| (?:dot|point) |\.")

_SOCIAL_LABELS = {
    "telegram": ["telegram", "télégram", "telegramme", "tg", "tlg", "تلغرام", "تيليجرام", "تليجرام", "تلگرام",
                 "телеграм", "телеграмм"],
    "snapchat": ["snapchat", "snap", "sc", "سناب", "سناب شات", "اسنپ"],
    "instagram": ["instagram", "insta", "ig", "انستا", "انستغرام", "انستقرام", "اینستا", "اینستاگرام", "инстаграм",
                  "инста"],
    "tiktok": ["tiktok", "tik tok", "تيك توك", "تیک تاک"],
}
_LABEL_KIND = {w.lower(): k for k, ws in _SOCIAL_LABELS.items() for w in ws}
_LABELS_ALT = _words_alt(_LABEL_KIND)
_SOCIAL_ANCHOR_CHARS = ":=：➡→>👻"
_SOCIAL_ANCHOR = re.compile(f"[{_SOCIAL_ANCHOR_CHARS}]")
_LABEL_END = re.compile(r"(?<![^\W_])(?:" + _LABELS_ALT + r")[ \t]{0,3}\Z")
_AFTER_SEP = re.compile(r"[:=：➡→>]{0,2}[ \t]{0,3}[:=\-]?[ \t]{0,3}@?(?P<h>[a-z][a-z0-9_.\-" + _ZW + r"]{1,40})")
_HANDLE_STOP = frozenset({"me", "moi", "only", "uniquement", "dm", "pv", "mp", "inbox", "prive", "privé", "priv",
                          "direct", "contact", "contacter", "disponible", "dispo", "ou", "or", "et", "and", "the",
                          "le", "la", "les", "pour", "for", "https", "http", "www"})
_HANDLE_RE = {"telegram": _HANDLE_TG, "snapchat": _HANDLE_SC, "instagram": _HANDLE_IG, "tiktok": _HANDLE_TT}
_CTX_LABEL_RE = re.compile(r"(?<![^\W_])(" + _LABELS_ALT + r")(?![^\W_])")


def _social_labels(st: _State) -> None:
    """ "snap: x", "insta : x", "tg: x", "👻 x": a label, a separator, a handle."""
    ft, lt = st.ft, st.lt
    # substring tests (memchr) before the regex scan (a class test per character)
    if not _contains_any(lt, _SOCIAL_ANCHOR_CHARS):
        return
    skip = -1
    for n, m in enumerate(_SOCIAL_ANCHOR.finditer(lt)):
        if n >= MAX_CANDIDATES:
            break
        a = m.start()
        if a < skip:
            continue
        if m.group() == "👻":
            kind, label = "snapchat", "👻"
        else:
            lm = _LABEL_END.search(lt, max(0, a - 16), a)
            if lm is None:
                continue
            label = lm.group().rstrip(" \t")
            kind = _LABEL_KIND[label]
        hm = _AFTER_SEP.match(lt, m.end())
        if hm is None:
            continue
        skip = hm.end()
        hs = hm.start("h")
        raw_h = ft[hs:hm.end("h")].rstrip(".-_" + "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad")
        he = hs + len(raw_h)
        h = _ZW_RE.sub("", raw_h)  # "rdv\u200bpref": zero-width characters inside a handle
        if st.overlaps(hs, he) or h.lower() in _HANDLE_STOP or not _HANDLE_RE[kind].match(h):
            continue
        s = hs - 1 if hs > 0 and ft[hs - 1] == "@" else hs
        st.add(kind, h.lower(), s, he, {"label": label}, claim=True)


# Without a separator only the platforms' names count ("snap", "insta" …; "sc", "ig", "tg" are too short)
_NO_SEP_LABELS = [w for w in _LABEL_KIND if len(w) >= 4 and w not in ("tlg",)]
_NO_SEP_LABEL_SCAN = re.compile(r"[\W_](" + _words_trie(_NO_SEP_LABELS) + r")(?![^\W_])")
_NO_SEP_TOKENS = frozenset(w for w in _NO_SEP_LABELS if " " not in w)


_NO_SEP_ASCII = tuple(w for w in _NO_SEP_LABELS if w.isascii())


def _may_name_a_platform(st: _State) -> bool:
    """Cheap test: may a platform's name stand alone ("snap malik.officiel")? Substring tests on an ASCII
    text (fast there), the whitespace-separated words otherwise."""
    if st.lt.isascii():
        return _contains_any(st.lt, _NO_SEP_ASCII)
    return not _NO_SEP_TOKENS.isdisjoint(st.tokens)
_NO_SEP_HANDLE = re.compile(r"[ \t]{1,3}@?(?P<h>[a-z][a-z0-9_.\-" + _ZW + r"]{1,40})")
_HANDLE_MARK = re.compile(r"[._0-9]")


def _social_labels_no_separator(st: _State) -> None:
    """ "snap malik.officiel", "insta rdv_pref75": a label, spaces, and a word that looks like a user name
    (a dot, an underscore or a digit inside: a plain word after "snap" is more often prose)."""
    ft, lt = st.ft, st.lt
    if not _may_name_a_platform(st):
        return
    for n, m in enumerate(_NO_SEP_LABEL_SCAN.finditer(" " + lt)):
        if n >= MAX_CANDIDATES:
            break
        hm = _NO_SEP_HANDLE.match(lt, m.end() - 1)
        if hm is None:
            continue
        hs = hm.start("h")
        raw_h = ft[hs:hm.end("h")].rstrip(".-_" + "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad")
        he = hs + len(raw_h)
        if he < len(ft) and (ft[he].isalnum() or ft[he] in "@/"):
            continue  # an e-mail address or a link, not a handle
        h = _ZW_RE.sub("", raw_h)
        label = m.group(1)
        kind = _LABEL_KIND[label]
        if (st.overlaps(hs, he) or h.lower() in _HANDLE_STOP or not _HANDLE_MARK.search(h)
                or not _HANDLE_RE[kind].match(h)):
            continue
        s = hs - 1 if hs > 0 and ft[hs - 1] == "@" else hs
        st.add(kind, h.lower(), s, he, {"label": label, "no_separator": True}, claim=True)


def _handle_context(st: _State, pos: int) -> tuple[str, str]:
    lt = st.lt
    last = None
    for m in _CTX_LABEL_RE.finditer(lt, max(0, pos - 30), pos):
        last = m
    if last is None:
        # no label just before: if the whole post names one platform only ("suivez-nous sur insta …
        # @rdv_pref"), the handle is that platform's; otherwise a bare @handle is read as Telegram's
        if st.post_platforms is None:  # once per text (linear time with many handles)
            kinds = set()
            # the platforms' names only ("sc", "ig", "tg" anywhere in a post say too little)
            scan = _NO_SEP_LABEL_SCAN.finditer(" " + lt) if _may_name_a_platform(st) else ()
            for k, x in enumerate(scan):
                if k >= MAX_CANDIDATES or len(kinds) > 1:
                    break
                kinds.add(_LABEL_KIND[x.group(1)])
            st.post_platforms = frozenset(kinds)
        if len(st.post_platforms) == 1:
            kind = next(iter(st.post_platforms))
            return kind, "post_mentions_" + kind
        return "telegram", ""
    return _LABEL_KIND[last.group(1)], last.group(1)


def _ats(st: _State) -> None:
    ft, lt = st.ft, st.lt
    pos = ft.find("@")
    n = 0
    while pos != -1 and n < MAX_CANDIDATES:
        n += 1
        nxt = ft.find("@", pos + 1)
        if st.overlaps(pos, pos + 1):
            pos = nxt
            continue
        lm = _LOCAL_REV.match(ft[max(0, pos - 64):pos][::-1])
        local = lm.group()[::-1].lstrip(".") if lm else ""
        spaced = False
        if not local and pos >= 2 and ft[pos - 1] == " " and pos + 1 < len(ft) and ft[pos + 1] == " ":
            # "rdv.pref @ seller.example": an email only if a real domain follows.
            lm = _LOCAL_REV.match(ft[max(0, pos - 65):pos - 1][::-1])
            local = lm.group()[::-1].lstrip(".") if lm else ""
            spaced = bool(local)
        if local:
            d0 = pos + (2 if spaced else 1)
            dm = _DOMAIN_FWD.match(ft, d0)
            if dm:
                dom = dm.group().lower()
                reg, _ = registered_domain(dom)
                if reg:
                    s0 = pos - len(local) - (1 if spaced else 0)
                    extra = {"domain": reg, "obfuscated": True} if spaced else {"domain": reg}
                    st.add("email", f"{local.lower()}@{dom}", s0, dm.end(), extra, claim=True)
            elif not spaced:
                gm = _BARE_PROVIDER.match(lt, d0)
                if gm:
                    dom = _MAIL_PROVIDERS[gm.group(1)]
                    st.add("email", f"{local.lower()}@{dom}", pos - len(local), gm.end(1),
                           {"domain": dom, "inferred_domain": True}, claim=True)
            if local:
                pos = nxt
                continue
        hm = _AT_HANDLE.match(ft, pos + 1)
        if hm:
            raw_h = hm.group().rstrip("." + "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad")
            he = pos + 1 + len(raw_h)
            h = _ZW_RE.sub("", raw_h)
            after = ft[he:he + 1]
            if after and (after.isalnum() or after == "@"):
                pass
            elif "." not in h and _HANDLE_TG.match(h):
                kind, ctx = _handle_context(st, pos)
                st.add(kind, h.lower(), pos, he, {"context": ctx or "bare_at"}, claim=True)
            elif "." in h:
                # "@name.surname" is an Instagram/TikTok/Snapchat handle only with a label before.
                kind, ctx = _handle_context(st, pos)
                if ctx and kind != "telegram" and _HANDLE_RE[kind].match(h):
                    st.add(kind, h.lower(), pos, he, {"context": ctx}, claim=True)
        pos = nxt


def _obfuscated_emails(st: _State) -> None:
    ft, lt = st.ft, st.lt
    matches = []
    if "[" in ft or "(" in ft or "{" in ft or "<" in ft:
        matches = list(_OBF_AT.finditer(lt))
    if "obase" in lt and ("arobase" in lt or "arrobase" in lt):  # one search when the text has neither
        matches += list(_OBF_AT_WORD.finditer(lt))
    for n, m in enumerate(matches):
        if n >= MAX_CANDIDATES:
            break
        a, b = m.start(), m.end()
        while a > 0 and ft[a - 1] == " ":
            a -= 1
        while b < len(ft) and ft[b] == " " and b - m.end() < 2:
            b += 1
        if st.overlaps(a, b):
            continue
        lm = _LOCAL_REV.match(ft[max(0, a - 64):a][::-1])
        if not lm:
            continue
        local = lm.group()[::-1].lstrip(".")
        dm = _OBF_DOMAIN.match(lt, b)
        if not local or not dm:
            continue
        dom = _OBF_DOT.sub(".", dm.group())
        reg, _ = registered_domain(dom)
        if not reg:
            continue
        st.add("email", f"{local.lower()}@{dom}", a - len(local), dm.end(), {"domain": reg, "obfuscated": True},
               claim=True)


# --------------------------------------------------------------------------
# Numbers: phones, prices, and the tokens of wallets and IBANs
# --------------------------------------------------------------------------

_EMOJI = "\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u25A0-\u25FF\u2300-\u23FF"
_SEP = r"[ \t\r\n\u00a0\u202f\u2009.,\-_/\\()\[\]|*~•·'\u00ad\u0640\u200b-\u200f\u2060\ufeff\ufe0f\u20e3" + _EMOJI + "]"
#: A run of digits joined by short separators (and "O" used for zero inside it).
_NUM_RE = re.compile(r"[+0-9](?:" + _SEP + r"{0,4}(?:[0-9]|[oO](?![A-Za-z])))*")
_PH = _DATA["phones"]
_TRUNK_REGIONS = tuple(_PH["trunk_regions"])
_NO_TRUNK_REGIONS = tuple(_PH["no_trunk_regions"])
_BARE_CC = tuple(sorted(_PH["bare_country_codes"], key=len, reverse=True))
_FR_FICTION = tuple(p.replace(" ", "") for p in _PH["fr_fiction_prefixes"])
_CTX_CHANNEL = {w.lower(): ch for ch, ws in _PH["context"].items() for w in ws}
_CTX_RE = re.compile(r"(?<![^\W_])(?:" + _words_alt(_CTX_CHANNEL) + r")(?![^\W_])")
_NOT_PHONE_RE = re.compile(r"(?<![^\W_])(?:" + _words_alt(_PH.get("not_phone", {}).get("words", ()))
                           + r")(?![^\W_])[^0-9\n]{0,12}\Z")
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
_WEAK_SEPS = frozenset("-._'·•*~\\()[]\u00ad")
_DATE_LIKE = re.compile(r"(?:0?[1-9]|[12][0-9]|3[01])([/.\-])(?:0?[1-9]|1[0-2])\1(?:19|20)[0-9]{2}(?![0-9])")


def _is_fr_fiction(n) -> bool:
    if n.country_code != 33 or n.italian_leading_zero:
        return False
    nsn = str(n.national_number)
    return len(nsn) == 9 and ("0" + nsn).startswith(_FR_FICTION)


def _phone_context(lt: str, start: int) -> str:
    last = None
    for m in _CTX_RE.finditer(lt, max(0, start - 40), start):
        last = m
    if last is None:
        return ""
    return _CTX_CHANNEL.get(last.group(), "phone")


_CC_REGIONS = phonenumbers.COUNTRY_CODE_TO_REGION_CODE


def _trunk_info(r: str) -> tuple[int, str]:
    md = phonenumbers.PhoneMetadata.metadata_for_region(r)
    return phonenumbers.country_code_for_region(r), (md.national_prefix or "") if md else ""


_TRUNK_INFO = {r: _trunk_info(r) for r in set(_TRUNK_REGIONS) | set(_NO_TRUNK_REGIONS)}


def _number(cc: int, nsn: str) -> phonenumbers.PhoneNumber | None:
    """A PhoneNumber built directly (no string parsing: much cheaper)."""
    if not nsn or len(nsn) > 17 or not nsn.isdigit():
        return None
    n = phonenumbers.PhoneNumber(country_code=cc, national_number=int(nsn))
    zeros = len(nsn) - len(nsn.lstrip("0"))
    if zeros:
        n.italian_leading_zero = True
        if zeros > 1:
            n.number_of_leading_zeros = zeros
    return n


def _ok(n) -> tuple[bool, bool]:
    """(valid, fiction) for a PhoneNumber."""
    return phonenumbers.is_valid_number(n), _is_fr_fiction(n)


def _split_cc(d: str) -> tuple[int, str] | None:
    for k in (1, 2, 3):
        if len(d) > k and d[0] != "0" and int(d[:k]) in _CC_REGIONS:
            return int(d[:k]), d[k:]
    return None


@lru_cache(maxsize=16384)
def _classify_digits(d: str, intl: bool, ctx: bool, grouped: bool) -> tuple | None:
    """Is the digit string ``d`` a phone number?  ``(e164, region, format, valid, fiction)`` or None.

    Pure (hence cached): ``intl`` says it was written with "+"/"00", ``ctx``
    that a phone-context word precedes it, ``grouped`` that it is written in
    4+ groups.
    """
    if intl or d.startswith("00"):
        body = d if intl else d[2:]
        sp = _split_cc(body)
        if sp is None:
            return None
        cc, nsn = sp
        n = _number(cc, nsn)
        if n is None:
            return None
        valid, fiction = _ok(n)
        if not (valid or fiction) and nsn.startswith("0"):  # "+33 (0)6 …"
            n2 = _number(cc, nsn[1:])
            if n2 is not None:
                v2, f2 = _ok(n2)
                if v2 or f2:
                    n, valid, fiction = n2, v2, f2
        if not (valid or fiction) and not phonenumbers.is_possible_number(n):
            return None
        return _pack(n, "international", valid, fiction)
    if len(d) > 13:
        return None
    if d[0] == "0":
        if not 9 <= len(d) <= 11:
            return None
        for r in _TRUNK_REGIONS:
            cc, prefix = _TRUNK_INFO[r]
            nsn = d[len(prefix):] if prefix and d.startswith(prefix) else d
            n = _number(cc, nsn)
            if n is None:
                continue
            valid, fiction = _ok(n)
            if valid or (fiction and r == "FR"):
                return _pack(n, "national", valid, fiction)
        return None
    for code in _BARE_CC:
        if d.startswith(code):
            if 11 <= len(d) <= 13:
                n = _number(int(code), d[len(code):])
                if n is not None:
                    valid, fiction = _ok(n)
                    if (valid or fiction) and (ctx or phonenumbers.number_type(n) in _MOBILE_TYPES or fiction):
                        return _pack(n, "international_no_plus", valid, fiction)
            break
    if (ctx or grouped) and 8 <= len(d) <= 10:
        for r in _NO_TRUNK_REGIONS:
            cc, prefix = _TRUNK_INFO[r]
            if prefix:
                continue
            n = _number(cc, d)
            if n is not None and phonenumbers.is_valid_number(n):
                return _pack(n, "national", True, False)
    return None


def _pack(n, fmt: str, valid: bool, fiction: bool) -> tuple:
    e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.region_code_for_number(n) or "", fmt, valid, fiction


def _parse_phone(st: _State, d: str, plus: bool, ctx: str, grouped: bool) -> tuple[str, dict] | None:
    """Decide whether digit string ``d`` is a phone number; ``(e164, extra)`` or None."""
    st.parses -= 1
    if st.parses < 0:
        return None
    r = _classify_digits(d, plus, bool(ctx), grouped)
    if r is None:
        return None
    e164, region, fmt, valid, fiction = r
    extra = {"region": region, "format": fmt, "valid": valid}
    if fiction:
        extra["fiction"] = True
    return e164, extra


# Preferred lengths of a national number starting with 0: 10 digits (France,
# Maghreb, Belgian mobiles, Côte d'Ivoire), then 11 (Turkey, Iran, UK) …
_NATIONAL_PREF = {10: 0, 11: 1, 9: 2}


def _phone_chunk(st: _State, base: int, chunk: str) -> None:
    """Find the phone numbers in one run of digits and separators."""
    ft = st.ft
    plus = chunk[0] == "+"
    pos: list[int] = []  # offset of each digit
    digits: list[str] = []
    bounds: list[int] = [0]  # digit indices where a group starts
    # "O6 39 98 …": a letter O just before the run, standing alone, is a zero.
    if not plus and base > 0 and ft[base - 1] in "oO" and not _prev_char(ft, base - 1).isalpha():
        pos.append(base - 1)
        digits.append("0")
    prev = -2
    for i, ch in enumerate(chunk):
        if "0" <= ch <= "9" or ch in "oO":
            if i != prev + 1 and pos:
                bounds.append(len(pos))
            pos.append(base + i)
            digits.append("0" if ch in "oO" else ch)
            prev = i
    nd = len(pos)
    if nd < 8:
        return
    bounds.append(nd)
    dstr = "".join(digits)
    # A number may start or end inside the run only where the separator is a
    # real break (space, slash, emoji …), not inside "978-2-07-036822-8".
    cuttable = [True] * len(bounds)
    for g in range(1, len(bounds) - 1):
        sep = ft[pos[bounds[g] - 1] + 1:pos[bounds[g]]]
        cuttable[g] = not all(c in _WEAK_SEPS for c in sep)
    gi = 0
    while gi < len(bounds) - 1 and st.parses > 0:
        if not cuttable[gi]:
            gi += 1
            continue
        i = bounds[gi]
        intl = gi == 0 and plus
        options = []  # (group end index, length)
        for gj in range(gi + 1, len(bounds)):
            length = bounds[gj] - i
            if length > 17:
                break
            if length >= 8 and cuttable[gj]:
                options.append(gj)
        if not intl and dstr[i] == "0" and not dstr.startswith("00", i):
            options.sort(key=lambda g: _NATIONAL_PREF.get(bounds[g] - i, 9))
        else:
            options.reverse()
        hit = fallback = None
        if not options:
            gi += 1
            continue
        s = pos[i] - 1 if intl else pos[i]
        if not intl and _DATE_LIKE.match(ft, s):
            gi += 1  # "06/12/2025 …": a date, not the start of a number
            continue
        if not intl and not dstr.startswith("00", i) and _NOT_PHONE_RE.search(st.lt, max(0, s - 30), s):
            gi += 1  # "commande n° 0639981234": an order number, not a phone
            continue
        ctx = _phone_context(st.lt, s)
        for gj in options:
            j = bounds[gj]
            e = pos[j - 1] + 1
            if st.overlaps(s, e):
                continue
            grouped = False
            if gj - gi >= 4 and dstr[i] != "0" and not intl:
                grouped = min(bounds[g + 1] - bounds[g] for g in range(gi, gj)) >= 2
            r = _parse_phone(st, dstr[i:j], intl, ctx, grouped)
            if r and (r[1]["valid"] or r[1].get("fiction")):
                hit = (gj, s, e, r, ctx)
                break
            if r and fallback is None:
                fallback = (gj, s, e, r, ctx)  # only "possible": look for a valid one first
            if st.parses <= 0:
                break
        hit = hit or fallback
        if hit:
            gj, s, e, (value, extra), ctx = hit
            if ctx and ctx != "phone":
                extra["channel"] = ctx
            st.add("phone", value, s, e, extra, claim=True)
            gi = gj
        else:
            gi += 1


# Spelled-out digits (French and English), possibly mixed with digit groups.
_UNITS = {"zero": 0, "zéro": 0, "zèro": 0, "un": 1, "une": 1, "one": 1, "deux": 2, "two": 2, "trois": 3,
          "three": 3, "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6, "sept": 7, "seven": 7, "huit": 8,
          "eight": 8, "neuf": 9, "nine": 9}
_TEENS = {"dix": 10, "ten": 10, "onze": 11, "eleven": 11, "douze": 12, "twelve": 12, "treize": 13,
          "thirteen": 13, "quatorze": 14, "fourteen": 14, "quinze": 15, "fifteen": 15, "seize": 16,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"vingt": 20, "vingts": 20, "twenty": 20, "trente": 30, "thirty": 30, "quarante": 40, "forty": 40,
         "cinquante": 50, "fifty": 50, "soixante": 60, "sixty": 60, "septante": 70, "seventy": 70,
         "octante": 80, "huitante": 80, "eighty": 80, "nonante": 90, "ninety": 90}
# Arabic and Persian digit names, read digit by digit ("صفر ستة ثلاثة …").
_UNITS_AR_FA = {"صفر": 0, "واحد": 1, "اثنين": 2, "اثنان": 2, "إثنين": 2, "ثلاثة": 3, "ثلاثه": 3, "اربعة": 4,
                "أربعة": 4, "اربعه": 4, "خمسة": 5, "خمسه": 5, "ستة": 6, "سته": 6, "سبعة": 7, "سبعه": 7,
                "ثمانية": 8, "ثمانيه": 8, "تسعة": 9, "تسعه": 9,
                "یک": 1, "دو": 2, "سه": 3, "چهار": 4, "پنج": 5, "شش": 6, "هفت": 7, "هشت": 8, "نه": 9}
_UNITS.update(_UNITS_AR_FA)
_ZERO_WORDS = ("zero", "zéro", "zèro", "صفر")
_NUMWORDS = {**_UNITS, **_TEENS, **_TENS}
_NW = "|".join(sorted(_NUMWORDS, key=len, reverse=True))
_SPELL_TOKEN = r"(?:(?<![^\W\d_])(?:" + _NW + r")(?![^\W\d_])|[0-9]{1,4})"
_SPELL_RUN = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(_ZERO_WORDS) + r")(?![^\W\d_])"
    r"(?:(?:[ \t,.\-/،]{1,3}(?:(?:et|and|و)[ \t\-]{0,2})?)" + _SPELL_TOKEN + r"){4,40}")
_SPELL_TOKENS = re.compile(_SPELL_TOKEN)
# A run that starts with another number word ("six trente-neuf …", "plus trente-trois six …") is read
# only after a phone word ("tel", "whatsapp", "appelez" …) or a "plus": prose has number words too.
# (led by the character before the run, so the engine skips in C between candidates: run on " " + text)
_SPELL_RUN_ANY = re.compile(
    r"[^\w+](?P<run>(?P<plus>(?:plus|\+)[ \t]{0,2})?(?:" + _words_trie(_NUMWORDS) + r")(?![^\W\d_])"
    r"(?:(?:[ \t,.\-/،]{1,3}(?:(?:et|and|و)[ \t\-]{0,2})?)" + _SPELL_TOKEN + r"){4,40})")
# Cheap test before that regex: two distinct number words (other than "un"/"une"/"one") standing alone
# between spaces or hyphens (in "six trente-neuf quatre-vingt-dix-huit douze …": "six", "douze", "trente" …)
_NUMWORD_TOKENS = frozenset(_NUMWORDS) - {"un", "une", "one"}
# a number read in pairs ("six trente-neuf …", "trente-trois six …") has a tens or teens word
_PAIR_WORDS = ("vingt", "trente", "quarante", "cinquante", "soixante", "septante", "octante", "huitante",
               "nonante", "onze", "douze", "treize", "quatorze", "quinze", "seize", "twenty", "thirty", "forty",
               "fifty", "sixty", "seventy", "eighty", "ninety", "teen", "eleven", "twelve")
# cheap test before that regex: at least two distinct number words other than "un"/"one"/"une"


def _spelled_to_digits(run: str) -> str:
    toks = _SPELL_TOKENS.findall(run)
    out: list[str] = []
    i = 0

    def word(k: int) -> int | None:
        t = toks[k] if k < len(toks) else ""
        return _NUMWORDS.get(t)

    while i < len(toks):
        t = toks[i]
        if t.isdigit():
            out.append(t)
            i += 1
            continue
        v = _NUMWORDS[t]
        if v == 4 and word(i + 1) == 20:  # quatre-vingt(s)
            v, i = 80, i + 1
        nv = word(i + 1)
        if v == 10 and nv in (7, 8, 9):  # dix-sept …
            v, i = 10 + nv, i + 1
        elif v >= 20 and nv is not None:
            if v in (60, 80) and 10 <= nv <= 19:
                v, i = v + nv, i + 1
                nv2 = word(i + 1)
                if nv == 10 and nv2 in (7, 8, 9):
                    v, i = v + nv2, i + 1
            elif 1 <= nv <= 9:
                v, i = v + nv, i + 1
        out.append(str(v))
        i += 1
    return "".join(out)


_ZERO_Z = tuple(w for w in _ZERO_WORDS if "z" in w)
_ZERO_ARABIC = tuple(w for w in _ZERO_WORDS if "z" not in w)
assert all("\u0600" <= c <= "\u06ff" for w in _ZERO_ARABIC for c in w)


def _has_zero_word(st: _State) -> bool:
    """``_contains_any(st.lt, _ZERO_WORDS)``, with cheaper tests first: the Latin spellings all hold a "z"
    (one character search), the others are Arabic script, which needs Arabic script in the text (its byte
    classes; lower-casing and folding digits never make one)."""
    lt = st.lt
    if "z" in lt and _contains_any(lt, _ZERO_Z):
        return True
    return st.classes is not None and _has_arabic(st.classes) and _contains_any(lt, _ZERO_ARABIC)


def _hyphen_words(lt: str) -> list[str]:
    """The words of ``lt`` next to a hyphen ("trente" and "neuf" of "trente-neuf"): with the whitespace
    tokens of ``lt``, the same set as the tokens of ``lt.replace("-", " ")`` (each of those is a token of
    ``lt`` without a hyphen, or a part of one with hyphens, which is the first or last word of a piece of
    ``lt.split("-")``), without splitting and hashing every word of the text again."""
    pieces = lt.split("-")
    out: list[str] = []
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if i > 0:
            w = piece.split(None, 1)
            if w:
                out.append(w[0])
        if i < last:
            w = piece.rsplit(None, 1)
            if w:
                out.append(w[-1])
    return out


def _spelled_phones(st: _State) -> None:
    lt = st.lt
    runs = []
    if _has_zero_word(st):
        runs = [(m, False) for m in _SPELL_RUN.finditer(lt)]
    if lt.isascii() and not _contains_any(lt, _PAIR_WORDS):
        found: set = set()  # no tens or teens word: no number read in pairs (substring tests, fast on ASCII)
    else:
        found = set(_NUMWORD_TOKENS.intersection(st.tokens))
        if len(found) == 1 and "-" in lt:  # "six trente-neuf quatre-vingt-dix-huit …": hyphenated pairs
            found.update(_NUMWORD_TOKENS.intersection(_hyphen_words(lt)))
    if len(found) >= 2:
        taken = [m.span() for m, _ in runs]
        for k, m in enumerate(_SPELL_RUN_ANY.finditer(" " + lt)):
            if k >= 50:
                break
            s, e = m.start("run") - 1, m.end("run") - 1
            if not any(a < e and s < b for a, b in taken):
                runs.append((m, True))
    for k, (m, needs_context) in enumerate(runs):
        if k >= 50 or st.parses <= 0:
            break
        if needs_context:
            s, e = m.start("run") - 1, m.end("run") - 1
            run = m.group("run")
        else:
            s, e = m.start(), m.end()
            run = m.group()
        if st.overlaps(s, e):
            continue
        plus = needs_context and m.group("plus") is not None
        d = _spelled_to_digits(run)
        if not (8 <= len(d) <= 15):
            continue
        ctx = _phone_context(lt, s)
        if needs_context and not (ctx or plus):
            continue
        r = _parse_phone(st, d, plus, ctx, False)
        if r:
            value, extra = r
            extra["spelled"] = True
            if ctx and ctx != "phone":
                extra["channel"] = ctx
            st.add("phone", value, s, e, extra, claim=True)


_CUR = _DATA["currencies"]
_CUR_AMBIG = {k.lower(): v for k, v in _DATA.get("currencies_ambiguous", {}).items()}
_CUR_CODE: dict[str, str] = {}
for _code, _spellings in _CUR.items():
    for _sp in _spellings:
        _CUR_CODE.setdefault(_sp.lower(), _code)
    _CUR_CODE.setdefault(_code.lower(), _code)
_CUR_ALT = _words_alt(_CUR_CODE)
_MULT = {w.lower(): int(v) for v, ws in _DATA.get("multipliers", {}).items() for w in ws}
_MULT_ALT = _words_alt(_MULT)
_CUR_FIRST_CHARS = frozenset(w[0] for w in _CUR_CODE) | frozenset(w[0] for w in _MULT)
# Only the currencies written before the amount need this: symbols and codes.
_CUR_LAST_CHARS = frozenset(w[-1] for w in _CUR_CODE if not w[-1].isalpha() or len(w) <= 4)
_SP = r"[ \t\u00a0\u202f\u2009]"
_CUR_AFTER = re.compile(_SP + r"{0,2}(?:(?P<k>" + _MULT_ALT + r")(?![^\W\d_])" + _SP + r"{0,2}(?:d['’ ]|de )?)?(?P<c>"
                        + _CUR_ALT + r")(?![^\W\d_])")
_CUR_BEFORE = re.compile(r"(?<![^\W\d_])(?P<c>" + _CUR_ALT + r")" + _SP + r"{0,2}\Z")
_AMOUNT = r"(?:[0-9]{1,3}(?:[ \u00a0\u202f\u2009.,'][0-9]{3})+|[0-9]{1,9})(?:[.,][0-9]{1,2})?"
_AMOUNT_TAIL = re.compile(_AMOUNT + r"\Z")
_AMOUNT_HEAD = re.compile(_AMOUNT + r"(?![0-9])")
_AMOUNT_PARTS = re.compile(r"([0-9]{1,3}(?:[ \u00a0\u202f\u2009.,'][0-9]{3})+|[0-9]+)(?:[.,]([0-9]{1,2}))?")
_DIGIT = re.compile(r"[0-9]")
_RANGE_WORDS = r"(?:-|–|—|~|/|à|a|et|and|to|y|o|ou|or|al|hasta|bis|ila|إلى|الى|و|до|ile)"
_RANGE_LOW = re.compile(r"(" + _AMOUNT + r")" + _SP + r"{0,2}" + _RANGE_WORDS + _SP + r"{0,2}\Z")
_RANGE_HIGH = re.compile(_SP + r"{0,2}" + _RANGE_WORDS + _SP + r"{0,2}(" + _AMOUNT + r")(?![0-9])")
_KILO_AFTER = re.compile(_SP + r"{0,2}(" + _MULT_ALT + r")(?![^\W\d_])")


def _amount(s: str) -> float | int | None:
    m = _AMOUNT_PARTS.fullmatch(s)
    if not m:
        return None
    whole = "".join(c for c in m.group(1) if "0" <= c <= "9")
    frac = m.group(2)
    v = float(f"{whole}.{frac}") if frac else int(whole)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v


def _price_in_chunk(st: _State, s0: int, e0: int) -> tuple | None:
    """A price whose amount is (the end or the start of) the digit run [s0, e0)."""
    ft, lt = st.ft, st.lt
    am = None
    j = e0
    n = len(lt)
    while j < n and j - e0 < 2 and lt[j] in " \t\u00a0\u202f\u2009":
        j += 1
    cm = _CUR_AFTER.match(lt, e0) if j < n and lt[j] in _CUR_FIRST_CHARS else None
    if cm:
        lo = max(s0, e0 - 24, st.claimed_end(s0, e0))
        am = _AMOUNT_TAIL.search(ft, lo, e0)
        if am is None:
            return None
        a_s, a_e = am.span()
        if a_s > s0 and "0" <= ft[a_s - 1] <= "9":
            return None
        s, e = a_s, cm.end()
        mult = _MULT[cm.group("k")] if cm.group("k") else 1
        before = False
    else:
        j = s0
        while j > 0 and s0 - j < 2 and lt[j - 1] in " \t\u00a0\u202f\u2009":
            j -= 1
        if j == 0 or lt[j - 1] not in _CUR_LAST_CHARS:
            return None
        bm = _CUR_BEFORE.search(lt, max(0, j - 14), s0)
        if bm is None:
            return None
        am = _AMOUNT_HEAD.match(ft, s0, e0)
        if am is None:
            return None
        a_s, a_e = am.span()
        km = _KILO_AFTER.match(lt, a_e)
        mult = _MULT[km.group(1)] if km else 1
        s, e = bm.start(), (km.end() if km else a_e)
        cm = bm
        before = True
    if st.overlaps(s, e):
        return None
    amount = _amount(ft[a_s:a_e])
    if amount is None:
        return None
    if mult != 1:
        amount = round(amount * mult, 2)
        if isinstance(amount, float) and amount.is_integer():
            amount = int(amount)
    cur_raw = cm.group("c")
    code = _CUR_CODE[cur_raw]
    extra = {"amount": amount, "currency": code}
    if cur_raw in _CUR_AMBIG:
        extra["ambiguous"] = True
        extra["currencies"] = list(_CUR_AMBIG[cur_raw])
    st.add("price", f"{amount} {code}", s, e, extra)
    return a_s, a_e, code, extra, before


def _range_price(st: _State, s: int, e: int, code: str, extra_hi: dict, side: str) -> None:
    """The other bound of "100 à 150 €" / "€100-150": the bare amount [s, e)."""
    if st.overlaps(s, e):
        return
    amount = _amount(st.ft[s:e])
    if amount is None:
        return
    extra = {"amount": amount, "currency": code, "range": side}
    for k in ("ambiguous", "currencies"):
        if k in extra_hi:
            extra[k] = extra_hi[k]
    extra_hi["range"] = "high" if side == "low" else "low"
    st.add("price", f"{amount} {code}", s, e, extra)


_ALNUM_REV = re.compile(r"[A-Za-z0-9]{1,100}")
_WALLET_RE = re.compile(
    r"(?:0[xX][0-9a-fA-F]{40}|[13LMT][1-9A-HJ-NP-Za-km-z]{25,34}"
    r"|(?:bc1|BC1|ltc1|LTC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87})(?![A-Za-z0-9])")
_IBAN_RE = re.compile(r"[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){8,34}(?![A-Za-z0-9])")


def _token_ids(st: _State, starts: list[int]) -> None:
    """Wallets and IBANs, tried at the start of each alphanumeric token holding digits."""
    ft = st.ft
    for ts in starts:
        if st.overlaps(ts, ts + 1):
            continue
        wm = _WALLET_RE.match(ft, ts)
        if wm:
            info = wallet_kind(wm.group())
            if info:
                st.add("wallet", info[0], ts, wm.end(), info[1], claim=True)
                continue
        im = _IBAN_RE.match(ft, ts)
        if im:
            r = valid_iban(im.group())
            if r:
                value, used = r
                st.add("iban", value, ts, ts + used, {"country": value[:2]}, claim=True)


# "+" and the ASCII digits ("D"), the characters every match of _NUM_RE starts with: one encode and one
# translate in C tell a text that has none (most posts), where the regex scan would test every character
_NUM_START_BYTES = bytes(68 if b == 0x2B or 0x30 <= b <= 0x39 else 46 for b in range(256))


def _numbers(st: _State) -> None:
    ft = st.ft
    m = st.classes if ft is st.text and st.classes is not None else \
        ft.encode("utf-8", "surrogatepass").translate(_NUM_START_BYTES)
    if b"D" not in m:
        return
    chunks = []
    token_starts: list[int] = []
    seen_tok = -1
    n = len(ft)
    for k, m in enumerate(_NUM_RE.finditer(ft)):
        if k >= MAX_CANDIDATES:
            break
        s, e = m.span()
        if e - s == 1 and ft[s] == "+":
            continue
        chunks.append((s, e))
        p = ft[s - 1] if s else ""
        q = ft[e] if e < n else ""
        if (p.isascii() and p.isalpha()) or (q.isascii() and q.isalpha()):
            rm = _ALNUM_REV.match(ft[max(0, s - 100):s][::-1]) if p else None
            ts = s - (len(rm.group()) if rm else 0)
            if ts > seen_tok:
                token_starts.append(ts)
                seen_tok = ts
    if token_starts:
        _token_ids(st, token_starts)
    for s, e in chunks:
        if e - s >= 8 and st.parses > 0:
            ch = ft[s:e]
            if ch[0] == "+" and not ("0" <= ch[1:2] <= "9"):
                s += 1
                ch = ch[1:]
            _phone_chunk(st, s, ch)
        r = _price_in_chunk(st, s if ft[s] != "+" else s + 1, e)
        if r is None:
            continue
        # The other bound of a range: "100 à 150 €", "entre 4 500 et 20 000 DA", "€100-150".
        a_s, a_e, code, extra, before = r
        if before:
            m = _RANGE_HIGH.match(st.lt, a_e)
            if m:
                _range_price(st, m.start(1), m.end(1), code, extra, "high")
        else:
            m = _RANGE_LOW.search(st.lt, max(0, a_s - 40), a_s) if _DIGIT.search(st.lt, max(0, a_s - 12), a_s) else None
            if m and not (m.start(1) > 0 and "0" <= st.lt[m.start(1) - 1] <= "9"):
                _range_price(st, m.start(1), m.end(1), code, extra, "low")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def check_data() -> list[str]:
    """Problems found in ``extract.toml`` and ``gazetteer.toml`` (empty when sound).

    Meant for ``veille lexicon check``: NGO staff edit these files by hand.
    """
    problems: list[str] = []
    ph = _DATA.get("phones", {})
    for key in ("trunk_regions", "no_trunk_regions"):
        for r in ph.get(key, []):
            if r not in phonenumbers.SUPPORTED_REGIONS:
                problems.append(f"extract.toml: phones.{key}: unknown region {r!r}")
    for cc in ph.get("bare_country_codes", []):
        if not cc.isdigit() or int(cc) not in _CC_REGIONS:
            problems.append(f"extract.toml: phones.bare_country_codes: unknown calling code {cc!r}")
    for p in ph.get("fr_fiction_prefixes", []):
        if not p.replace(" ", "").isdigit():
            problems.append(f"extract.toml: phones.fr_fiction_prefixes: not digits: {p!r}")
    seen: dict[str, str] = {}
    for code, spellings in _DATA.get("currencies", {}).items():
        if not re.fullmatch(r"[A-Z]{3}", code):
            problems.append(f"extract.toml: currencies: code {code!r} is not three capital letters")
        for sp in spellings:
            if not sp.strip():
                problems.append(f"extract.toml: currencies.{code}: empty spelling")
            other = seen.setdefault(sp.lower(), code)
            if other != code and sp.lower() not in _CUR_AMBIG:
                problems.append(f"extract.toml: {sp!r} is listed for {other} and {code}: "
                                "add it to [currencies_ambiguous]")
    for v, words in _DATA.get("multipliers", {}).items():
        if not str(v).isdigit() or not words or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(f"extract.toml: multipliers.{v}: needs a whole number and non-empty words")
    for d in _DATA.get("domains", {}).get("shared", []):
        if registered_domain(d)[0] != d:
            problems.append(f"extract.toml: domains.shared: {d!r} is not a registered domain")
    try:
        from .places import GAZETTEER_PATH, Gazetteer

        g_data = tomllib.loads(GAZETTEER_PATH.read_text(encoding="utf-8"))
        Gazetteer(g_data)
        codes = [str(d.get("code", "")) for d in g_data.get("departement", [])]
        if len(codes) != len(set(codes)):
            problems.append("gazetteer.toml: duplicate département codes")
        for d in g_data.get("departement", []):
            for key in ("code", "name", "prefecture"):
                if not d.get(key):
                    problems.append(f"gazetteer.toml: a département lacks {key!r}: {d}")
        trig = g_data.get("triggers", {})
        for group in ("police", "sub_prefecture", "prefecture", "consulate", "stems"):
            if not trig.get(group):
                problems.append(f"gazetteer.toml: [triggers] {group} is missing or empty")
            for pat in trig.get(group, []):
                try:
                    re.compile(pat)
                except re.error as exc:
                    problems.append(f"gazetteer.toml: triggers.{group}: bad pattern {pat!r}: {exc}")
        providers = set(g_data.get("providers", {}))
        for v in g_data.get("visa_center", []):
            if v.get("provider") not in providers:
                problems.append(f"gazetteer.toml: visa centre {v} names an unknown provider")
        for block in ("visa_center", "consulate"):
            for v in g_data.get(block, []):
                if not re.fullmatch(r"[A-Z]{2}", str(v.get("country", ""))) or not v.get("city"):
                    problems.append(f"gazetteer.toml: {block} {v}: needs a 2-letter country and a city")
    except Exception as exc:  # noqa: BLE001 - report, do not crash the checker
        problems.append(f"gazetteer.toml: {type(exc).__name__}: {exc}")
    return problems


def _emails(st: _State) -> None:
    if "@" in st.ft:
        _ats(st)


def _places(st: _State) -> None:
    find_places(st.text, st.lt, st.out, st.classes)


_FAMILIES = (
    ("urls", _urls),
    ("obfuscated_links", _obfuscated_links),
    ("emails", _emails),
    ("obfuscated_emails", _obfuscated_emails),
    ("social", _social_labels),
    ("social_no_separator", _social_labels_no_separator),
    ("numbers", _numbers),
    ("spelled_phones", _spelled_phones),
    ("places", _places),
)


def extract(text: str) -> Entities:
    """Extract identifiers from ``text``; spans index ``text`` itself.

    Never raises on any ``str`` (a non-``str`` gives an empty result).
    """
    if not isinstance(text, str) or not text:
        return Entities()
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    try:
        st = _State(text)
    except Exception as exc:  # noqa: BLE001
        log.warning("extract: preparing the text failed: %s: %s", type(exc).__name__, exc)
        return Entities()
    for name, fn in _FAMILIES:
        try:
            fn(st)
        except Exception as exc:  # noqa: BLE001 - one family's bug must not stop the others
            log.warning("extract: %s failed: %s: %s", name, type(exc).__name__, exc)
    seen: set[tuple[str, str, int]] = set()
    result = Entities()
    for ent in sorted(st.out, key=lambda x: (x.start, -x.end, x.kind)):
        key = (ent.kind, ent.value, ent.start)
        if key in seen:
            continue
        seen.add(key)
        result.append(ent)
    return result
