"""Text normalisation for matching, with a map back to the original text.

Sellers dodge keyword filters with "pr3fecture", "p@ssport", "t!tre de s3jour",
"r.d.v", "p a s s p o r t", Cyrillic or Greek look-alike letters, zero-width
characters, full-width or mathematical letters, emoji between letters and
hashtags. :func:`normalize` undoes all of that and returns a
:class:`Normalized`: the folded ``text`` to match lexicon terms against, and
:meth:`Normalized.to_original` to turn a span of the folded text back into a
span of the *original* text (what a reason shows to an investigator).

Steps, in order (each is linear in the length of the text):

1. **Per-character folding** with one ``str.translate`` table: NFKD
   compatibility decomposition (full-width, mathematical and circled letters,
   ligatures), removal of combining marks (accents, Arabic harakat), case
   folding, removal of zero-width and format characters (ZWSP, ZWJ, ZWNJ,
   BOM, soft hyphen, bidi marks, variation selectors, tatweel), Arabic/Persian
   letter unification (ی→ي, ک→ك, ة→ه, ى→ي), Arabic-Indic and Persian digits to
   ASCII, non-ASCII punctuation, symbols and emoji to a space, "_" to a space.
   ASCII punctuation and currency signs are kept: they separate words for the
   matchers, whose multi-word terms accept any run of separators.
2. **Homoglyph folding**: inside a word that mixes Latin letters with
   Cyrillic or Greek ones ("раssроrt"), the look-alikes become Latin; if the
   word is mostly Cyrillic ("пaспорт" with a Latin "a"), the Latin look-alikes
   become Cyrillic instead. Words written in one script are left alone
   (Russian stays Russian).
3. **Leetspeak folding**: ``0 1 3 4 5 7 8 @ $ ! |`` become ``o i e a s t b a s i l``
   when they sit *between letters* ("pr3fecture", "p@ssport", "t!tre"), so prices,
   phone numbers, "24h" or "3eme" are untouched.
4. **Dotted and spaced letters**: three or more single letters separated by
   dots, or by spaces, dashes, stars or slashes (after step 1 emoji are spaces
   too), are joined: "r.d.v", "p a s s p o r t", "v🔥i🔥s🔥a", "p-a-s-s" →
   "rdv", "passport", "visa", "pass". Joined runs are listed in
   :attr:`Normalized.joined` (words may have run together there).

Hashtags keep their ``#``; the classifier also matches terms inside hashtag
bodies ("#rdvprefecture").

Public API: :func:`normalize`, :class:`Normalized`, :func:`fold_term`
(normalise a lexicon term the same way), :func:`term_key`, :func:`fold_char`.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = ["Normalized", "normalize", "fold_term", "term_key", "fold_char", "MAX_CHARS"]

#: Texts longer than this are truncated before matching (the original is kept
#: by the caller; spans stay valid because truncation only removes the tail).
MAX_CHARS = 200_000

_KEEP = set("#@$!+%|.")
_ARABIC_UNIFY = {
    "\u06cc": "\u064a",  # Persian yeh -> Arabic yeh
    "\u0649": "\u064a",  # alef maksura -> yeh
    "\u06a9": "\u0643",  # keheh -> kaf
    "\u0629": "\u0647",  # teh marbuta -> heh
    "\u06c0": "\u0647",
    "\u0671": "\u0627",  # alef wasla
}
# Letters with no compatibility decomposition that sellers use as Latin look-alikes.
_EXTRA = {
    "\u0131": "i",  # dotless i (Turkish): folded so "ı" and "i" spellings meet
    "\u0130": "i",
    "\u00df": "ss",
    "\u00f8": "o", "\u00d8": "o", "\u0142": "l", "\u0141": "l", "\u0111": "d", "\u0110": "d",
    "\u00e6": "ae", "\u00c6": "ae", "\u0153": "oe", "\u0152": "oe", "\u00fe": "th",
    # small capitals
    "\u1d00": "a", "\u0299": "b", "\u1d04": "c", "\u1d05": "d", "\u1d07": "e", "\ua730": "f", "\u0262": "g",
    "\u029c": "h", "\u026a": "i", "\u1d0a": "j", "\u1d0b": "k", "\u029f": "l", "\u1d0d": "m", "\u0274": "n",
    "\u1d0f": "o", "\u1d18": "p", "\u0280": "r", "\ua731": "s", "\u1d1b": "t", "\u1d1c": "u", "\u1d20": "v",
    "\u1d21": "w", "\u028f": "y", "\u1d22": "z",
}
# Cyrillic and Greek letters that look like Latin ones (lower case after folding).
HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u", "ς": "s", "σ": "o", "ϲ": "c", "ζ": "z",
}
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i",
        "|": "l"}

_RANGES = [(0x80, 0x3040), (0xD800, 0xE000), (0xFB00, 0x10000), (0x1D400, 0x1D800), (0x1F000, 0x1FB00),
           (0xE0000, 0xE0080)]


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """Fold one character: the value it gets in the translate table (may be '' or several chars).

    Idempotent: the result folds to itself ("Ʀ" -> "ʀ" -> "r" gives "r").
    """
    s = _fold_once(ch)
    for _ in range(3):
        nxt = "".join(c if c == ch else _fold_once(c) for c in s)
        if nxt == s:
            break
        s = nxt
    return s


def _fold_once(ch: str) -> str:
    if ch in _KEEP:
        return ch
    cp = ord(ch)
    if ch in _EXTRA:
        return _EXTRA[ch]
    if ch.isascii():
        # ASCII punctuation is kept (it is a word separator for the matchers anyway), except "_",
        # which regexes count as a word character: "permis_de_conduire" -> "permis de conduire"
        return " " if ch == "_" else ch.lower()
    if 0x1F170 <= cp <= 0x1F189:  # negative squared latin letters
        return chr(ord("a") + cp - 0x1F170)
    if 0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp <= 0xE007F:  # variation selectors, tags
        return ""
    if cp == 0x0640:  # Arabic tatweel
        return ""
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Mn", "Me"):
        return ""
    if cat == "Nd":
        return str(unicodedata.digit(ch))
    if cat in ("Cs", "Co", "Cn", "Cc", "Zs", "Zl", "Zp"):
        return " "
    if cat == "Sc":
        return ch
    d = unicodedata.normalize("NFKD", ch)
    out = []
    for c in d:
        if unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        out.append(c)
    s = "".join(out).casefold()
    s = "".join(_ARABIC_UNIFY.get(c, c) for c in s)
    if not s:
        return ""
    if all(not c.isalnum() for c in s) and s not in _KEEP and not all(unicodedata.category(c) == "Sc" for c in s):
        return " "
    # a decomposition may bring punctuation (e.g. "⑴" -> "(1)"): keep only alphanumerics
    if len(s) > 1:
        s = "".join(c for c in s if c.isalnum() or c in _KEEP) or " "
    return s


def _char_class(cps: list[int]) -> str:
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        a, b = cps[i], cps[j]
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _build_table() -> tuple[dict[int, str], re.Pattern]:
    """The folding table, and runs of the code points that need it: the length-changing ones and
    those that ``str.lower()`` does not fold completely (accents, full-width, punctuation …)."""
    table: dict[int, str] = {}
    changing: list[int] = []
    after_lower: list[int] = []
    for cp in list(range(0x80)) + [cp for lo, hi in _RANGES for cp in range(lo, hi)]:
        ch = chr(cp)
        f = fold_char(ch)
        if f != ch:
            table[cp] = f
        if len(f) != 1 or len(ch.lower()) != 1:
            changing.append(cp)
        elif f != ch.lower():
            after_lower.append(cp)
    # lower() turns some code points into others that need folding too (e.g. full-width capitals)
    extra = {ord(c) for cp in after_lower for c in chr(cp).lower()}
    lowered = sorted(set(after_lower) | {c for c in extra if chr(c).translate(table) != chr(c)})
    return table, re.compile(_char_class(sorted(set(changing) | set(lowered))) + "+")


_TABLE, _ALL_RUNS = _build_table()
_CHANGING_SET = frozenset(chr(cp) for cp, v in _TABLE.items() if len(v) != 1) | frozenset(
    chr(cp) for lo, hi in _RANGES for cp in range(lo, hi) if len(chr(cp).lower()) != 1)


def _arabic_charmap() -> str:
    """A single-byte character map (like a Windows code page) for Arabic-script texts: ASCII, the
    Arabic and Persian letters, harakat, digits and punctuation, the zero-width and bidi marks Persian
    writing uses, and the French accents and quotes that Maghreb posts mix in. (cp1256 has no Persian
    yeh or Persian digits, so Persian texts would never take a fast path with it.)"""
    chars = [chr(c) for c in range(0x0621, 0x063B)] + [chr(c) for c in range(0x0640, 0x0653)]
    chars += [chr(c) for c in range(0x0660, 0x066E)] + [chr(c) for c in range(0x06F0, 0x06FA)]
    chars += list("\u0670\u0671\u067e\u0686\u0698\u06a9\u06af\u06cc\u06c0\u06d2\u0679\u0688\u0691\u06ba\u06be\u06c1")
    chars += list("\u060c\u061b\u061f\u00a0\u200b\u200c\u200d\u200e\u200f\u2026\u2013\u2014\u00ab\u00bb\u2018\u2019\u201c\u201d")
    chars += list("\u20ac\u00e9\u00e8\u00ea\u00e0\u00e2\u00e7\u00f4\u00ee\u00f9\u00fb\u00eb\u00ef\u00b0\u00c9")
    assert len(chars) == len(set(chars)) <= 128, len(chars)
    return "".join(chr(c) for c in range(128)) + "".join(chars) + "\ufffe" * (128 - len(chars))


@dataclass(frozen=True)
class _Page:
    """A single-byte character map in which folding is one ``bytes.translate`` (with deletions)."""

    name: str
    decoding: str  # 256 characters, "\ufffe" where undefined (the codecs module's convention)
    encoding: object  # codecs.charmap_build(decoding)
    table: bytes  # byte -> folded byte
    delete: bytes  # bytes whose character folds to nothing (zero-width marks, harakat, tatweel …)
    delete_re: re.Pattern | None
    slow: re.Pattern | None  # bytes that fold to several characters, or to one outside the map
    homoglyphs: bool  # Latin and Cyrillic/Greek letters can both occur: fold look-alikes afterwards
    # byte -> "s" (a slow byte), "d" (a deleted byte) or ".": one bytes.translate and two byte searches
    # tell whether a text has any (cheaper than a regex scan, which tests each byte)
    kinds: bytes
    chars: frozenset = frozenset()  # the characters of the map


def _build_page(name: str, decoding: str) -> _Page:
    enc = codecs.charmap_build(decoding)
    table = bytearray(range(256))
    slow: list[int] = []
    delete: list[int] = []
    for v in range(256):
        ch = decoding[v]
        if ch == "\ufffe":
            continue
        f = ch.translate(_TABLE).lower()
        if not f:
            delete.append(v)
            continue
        try:
            fb = codecs.charmap_encode(f, "strict", enc)[0]
        except UnicodeEncodeError:
            fb = b""
        if len(f) != 1 or len(fb) != 1:
            slow.append(v)
        else:
            table[v] = fb[0]

    def byte_class(vs: list[int]) -> re.Pattern | None:
        return re.compile(b"[" + b"".join(re.escape(bytes([v])) for v in vs) + b"]") if vs else None

    cg = any(_CYR_GREEK.match(c) for c in decoding) and any("a" <= c <= "z" for c in decoding)
    kinds = bytes(115 if v in slow else 100 if v in delete else 46 for v in range(256))
    return _Page(name, decoding, enc, bytes(table), bytes(delete), byte_class(delete), byte_class(slow), cg, kinds,
                 frozenset(decoding) - {"\ufffe"})


def _codec_map(name: str) -> str:
    return "".join(bytes([v]).decode(name, errors="replace").replace("\ufffd", "\ufffe") for v in range(256))


_PAGES: dict[str, _Page] = {}  # filled below, once _CYR_GREEK exists
_FAST_WESTERN = True  # tests turn it off to check the fast paths agree with the general path
_CYR_GREEK = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u0561-\u0585\u0261\u04cf]")
_WORD = re.compile(r"[^\W\d_]+")
_HOMO_TABLE = str.maketrans(HOMOGLYPHS)
# Latin letters that look like Cyrillic ones, for Russian words with a Latin intruder.
_TO_CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к", "m": "м", "t": "т"}
_TO_CYRILLIC_TABLE = str.maketrans(_TO_CYRILLIC)
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
# The cheap tests of the homoglyph and leetspeak passes, on the UTF-8 bytes of a folded text mapped to
# classes by one bytes.translate (in C, much faster than a regex scan that tests each character): "L" for
# a-z, "D" for the leetspeak digits and "Y" for the leetspeak symbols, "G" for the lead byte of a Cyrillic
# or Greek letter of _CYR_GREEK (all two bytes long), "c" for a continuation byte. An ASCII byte is a
# character of its own in UTF-8 (never part of a longer one), so "DL" or "YL" occurs exactly when
# _LEET_HINT matches; "LG" or "GcL"
# occurs whenever a Latin letter touches a Cyrillic or Greek one (a mixed word, what
# _fold_homoglyph_words folds; tested). The classifier reads the same string (Normalized.classes): "A"
# for the lead bytes of Arabic script (U+0600-U+077F), "E" for 0xEF (U+F000-U+FFFF, the presentation
# forms), "9" for the ASCII digits that are not leetspeak, "N" for the other lead bytes of the BMP's
# decimal digits (with "D", "9", "A" and "E": every decimal digit of the BMP leaves one of them), "F" for
# the lead bytes of code points beyond U+FFFF. A lead byte is never a continuation byte, so a class is
# absent only when no character of it occurs.
_CG_LEADS = frozenset(chr(cp).encode("utf-8")[0] for cp in range(0x80, 0x800) if _CYR_GREEK.match(chr(cp)))
_DIGIT_LEADS = frozenset(chr(cp).encode("utf-8")[0] for cp in range(0x80, 0x10000) if chr(cp).isdecimal())


def _byte_class(b: int) -> int:
    if 0x61 <= b <= 0x7A:
        return ord("L")
    if b < 0x80:
        return ord("D") if chr(b) in "0134578" else ord("Y") if chr(b) in "@$!|" else ord("9") if chr(b) in "269" \
            else ord(".")
    if b in _CG_LEADS:
        return ord("G")
    if 0xD8 <= b <= 0xDD:
        return ord("A")
    if b == 0xEF:
        return ord("E")
    if b in _DIGIT_LEADS:
        return ord("N")
    if 0xF0 <= b <= 0xF4:
        return ord("F")
    return ord("c") if 0x80 <= b <= 0xBF else ord(".")


_BYTE_CLASSES = bytes(_byte_class(b) for b in range(256))
assert all(_BYTE_CLASSES[b] in b"AEN" for b in _DIGIT_LEADS) and not _CG_LEADS & set(range(0xD8, 0xDE))


def byte_classes(t: str) -> bytes:
    """The UTF-8 bytes of ``t`` mapped to the classes of _BYTE_CLASSES (one encode, one translate)."""
    return t.encode("utf-8", "surrogatepass").translate(_BYTE_CLASSES)


_byte_classes = byte_classes


def _may_mix_scripts(classes: bytes) -> bool:
    """Necessary condition for a word mixing Latin and Cyrillic/Greek letters (see _BYTE_CLASSES). (A byte
    search for a needle ending in a common byte walks the text byte by byte: a rare byte is looked for
    first, with memchr.)"""
    return b"G" in classes and (b"LG" in classes or b"GcL" in classes)


# "DL" found by the regex engine's literal-prefix search, which skips to each "D" (rare) in C
_LEET_CLASSES = re.compile(rb"DL")
_LEET_SYMBOL_CLASSES = re.compile(rb"YL")


def _leet_hint(classes: bytes) -> bool:
    """``_LEET_HINT.search(t)`` read from the byte classes of ``t`` (see _BYTE_CLASSES): "DL" or "YL"."""
    return ((b"D" in classes and _LEET_CLASSES.search(classes) is not None)
            or (b"Y" in classes and _LEET_SYMBOL_CLASSES.search(classes) is not None))
_PAGES.update((n, _build_page(n, d)) for n, d in (
    ("cp1252", _codec_map("cp1252")), ("cp1254", _codec_map("cp1254")), ("cp1251", _codec_map("cp1251")),
    ("arabic", _arabic_charmap())))
# the first non-ASCII character of a text picks the map to try first (then Western European)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_TURKISH = frozenset("\u011e\u011f\u0130\u0131\u015e\u015f")


def _page_order(text: str) -> tuple[_Page, ...]:
    m = _NON_ASCII.search(text)
    c = m.group() if m else "a"
    if "\u0400" <= c <= "\u04ff":
        return (_PAGES["cp1251"],)
    if "\u0600" <= c <= "\u06ff" or "\u200b" <= c <= "\u200f":
        return (_PAGES["arabic"],)
    if c in _TURKISH:
        return (_PAGES["cp1254"],)
    return (_PAGES["cp1252"], _PAGES["cp1254"])


# Any other text (scripts mixed in one post, emoji, Greek …): one table look-up per code point with
# numpy over the UTF-32 code units, for the code points below _LUT_SIZE. The table holds what the
# general path gives each character, its final lower() included: the folded character for those in
# _ALL_RUNS, the character itself otherwise, then lower-cased (str.lower() is one character for one
# apart from the final-sigma rule of "Σ" and the characters whose lower case is longer, which are marked
# 2); _LUT_KIND marks those that fold to nothing (1) or to several characters (2: the general path handles
# those texts). The last entry is marked 2 too: code points beyond the table are clipped to it.
_LUT_SIZE = 0x20000


def _build_lut():
    lut = np.arange(_LUT_SIZE, dtype="<u4")
    kind = np.zeros(_LUT_SIZE, dtype=np.uint8)
    for lo, hi in [(0, 0x80)] + _RANGES:
        for cp in range(lo, min(hi, _LUT_SIZE)):
            ch = chr(cp)
            if not _ALL_RUNS.fullmatch(ch):
                continue
            f = ch.translate(_TABLE)
            if not f:
                kind[cp] = 1
            elif len(f) != 1 or ch in _CHANGING_SET:
                kind[cp] = 2
            else:
                lut[cp] = ord(f)
    for cp in np.flatnonzero(kind == 0).tolist():
        c = chr(lut[cp])
        low = c.lower()
        if len(low) != 1 or c == "\u03a3":
            kind[cp] = 2
        elif low != c:
            lut[cp] = ord(low)
    kind[_LUT_SIZE - 1] = 2
    # lone surrogates cannot be encoded: those texts never reach the table
    return lut, kind


_LUT, _LUT_KIND = _build_lut()
# the same table with 0x110000 (not a code point) wherever _LUT_KIND is not 0: a text without such characters
# (most) folds with one take, the UTF-32 decoder refusing the others, instead of a take and a max of the kinds
_LUT_OR_INVALID = np.where(_LUT_KIND == 0, _LUT, np.uint32(0x110000)).astype("<u4")
_FAST_NUMPY = True  # tests turn it off to check this path agrees with the general one


def _fold_numpy(text: str) -> tuple[str, _Pass | None] | None:
    """Fold ``text`` with the code-point table, or None (lone surrogates, code points beyond the table,
    characters that fold to several): then the general path does it."""
    try:
        cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    except UnicodeEncodeError:
        return None
    try:
        return _LUT_OR_INVALID.take(cps, mode="clip").tobytes().decode("utf-32-le"), None
    except UnicodeDecodeError:
        pass  # a character to delete, or one the general path folds
    kind = _LUT_KIND.take(cps, mode="clip")  # beyond the table: the last entry, marked 2
    p = None
    km = int(kind.max())
    if km:
        if km > 1:
            return None
        dels = np.flatnonzero(kind).tolist()
        edits = tuple((d - k, d - k, d, d + 1) for k, d in enumerate(dels))
        p = _Pass(edits, tuple(e[0] for e in edits))
        cps = cps[kind == 0]
    return _LUT.take(cps).tobytes().decode("utf-32-le"), p


def _fold_fast(text: str) -> tuple[str, _Pass | None, bool] | None:
    """Fold a non-ASCII text through a single-byte map (one ``bytes.translate`` in C), or None when no
    map holds every character 1:1. Deleted characters (zero-width marks …) give the same edits as the
    general path (a byte index is a character index in a single-byte map)."""
    missing = None  # a character the previous map could not encode: a map without it is not tried
    for page in _page_order(text):
        if missing is not None and missing not in page.chars:
            continue
        try:
            b = codecs.charmap_encode(text, "strict", page.encoding)[0]
        except UnicodeEncodeError as exc:
            missing = text[exc.start]
            continue
        k = b.translate(page.kinds)
        if b"s" in k:  # page.slow.search(b)
            continue
        p = None
        if b"d" in k:  # page.delete_re.search(b)
            edits = []
            for k, m in enumerate(page.delete_re.finditer(b)):
                ns = m.start() - k
                edits.append((ns, ns, m.start(), m.start() + 1))
            p = _Pass(tuple(edits), tuple(e[0] for e in edits))
        t = codecs.charmap_decode(b.translate(page.table, page.delete), "strict", page.decoding)[0]
        return t, p, page.homoglyphs
    return None


_CG = "\u0370-\u03ff\u0400-\u052f\u0561-\u0585\u0261\u04cf"
# starts with one character class, so the engine skips in C to Cyrillic/Greek letters
_MIXED_PAIR = re.compile(f"[{_CG}](?:(?<=[a-z][{_CG}])|(?=[a-z]))")
_LEET_HINT = re.compile(r"[0134578@$!|][a-z]")  # cheap test before the real leetspeak pass
# Cheap necessary condition for _JOINABLE, run on " " + text + " ": a single letter after an ASCII
# non-letter or a currency sign (the only non-letters left after step 1), then a separator, a single
# letter and a separator. It starts with a plain character set, which the regex engine scans fast.
_SC = "".join(re.escape(chr(c)) for c in range(0x80, 0x10000) if unicodedata.category(chr(c)) == "Sc")
_JOIN_HINT = re.compile(rf"[\x00-\x40\x5b-\x60\x7b-\x7f{_SC}][^\W\d_][ .*~/-]{{1,3}}[^\W\d_][ .*~/-]")
# A cheaper necessary condition for _JOIN_HINT: the text's UTF-8 bytes with the continuation bytes deleted
# (one byte per character) and mapped by one bytes.translate: "S" for the separators " .*~/-" and the other
# ASCII non-letters, "L" for the ASCII letters and the lead bytes of characters that are letters or never
# one of _JOIN_HINT's non-letters (an ASCII non-letter or a currency sign of _SC), "V" for the other lead
# bytes, those a currency sign of _SC may have, except 0xD8 (Arabic letters; its only currency sign, "؋",
# is looked for in the text itself). A text without "V" (and without "؋") can match _JOIN_HINT only where
# two one-letter words follow each other, "SLS{1,3}LS" (with " " + text + " " read as b"S" + bytes + b"S"):
# one search for the literal "SLS" (the regex engine's prefix search) and a few bytes after each, instead of
# a regex scan that tries a Unicode bitmap class at every character (tested).
_SC_LEADS = frozenset(chr(c).encode("utf-8")[0] for c in range(0x80, 0x10000)
                      if unicodedata.category(chr(c)) == "Sc") - {0xD8}
_JOIN_BYTES = bytes(76 if 0x61 <= b <= 0x7A or 0x41 <= b <= 0x5A else 83 if b < 0x80 else 46 if b < 0xC0
                    else 86 if b in _SC_LEADS else 76 for b in range(256))
_CONTINUATION = bytes(range(0x80, 0xC0))
_TWO_ONE_LETTER_WORDS = re.compile(rb"SLS{1,3}LS")


def _may_join(t: str, utf8: bytes | None = None) -> bool:
    """False when _JOIN_HINT certainly does not match " " + t + " " (see _JOIN_BYTES). ``utf8``: the UTF-8
    bytes of ``t``, or of ``t`` before the leetspeak pass (which turns ASCII non-letters into letters between
    letters only: never a character of a match of the hint, which the check finds the same way)."""
    if utf8 is None:
        utf8 = t.encode("utf-8", "surrogatepass")
    if t.isascii():
        j = b"S" + utf8.translate(_JOIN_BYTES) + b"S"
    else:
        j = b"S" + utf8.translate(_JOIN_BYTES, _CONTINUATION) + b"S"
        if b"V" in j or "\u060b" in t:
            return True
    return _TWO_ONE_LETTER_WORDS.search(j) is not None


# leetspeak characters between letters: led by their class, the letter before looked behind for from the
# first of them (a pattern led by a look-behind is tried at every position; this one only at a leetspeak
# character, with the same matches as (?<=[a-z])[0134578@$!|]+(?=[a-z]))
_LEET_RE = re.compile(r"[0134578@$!|](?<=[a-z][0134578@$!|])[0134578@$!|]*(?=[a-z])")
_LEET_TABLE = str.maketrans(LEET)
# three or more single letters separated by dots ("r.d.v"), or by 1-3 spaces (after step 1 dashes,
# underscores and emoji are spaces): "p a s s p o r t", "v🔥i🔥s🔥a". Letter and separator classes are
# disjoint, so matching is linear.
_JOINABLE = re.compile(
    r"(?<![^\W\d_])(?:[^\W\d_](?:\. ?[^\W\d_]){2,}|[^\W\d_](?:[ *~/-]{1,3}[^\W\d_]){2,})(?![^\W\d_])"
)
_JOIN_SEPARATORS = str.maketrans("", "", " .*~/-")


@dataclass(frozen=True)
class _Pass:
    """Edits made by one length-changing pass: (new_start, new_end, old_start, old_end), sorted."""

    edits: tuple[tuple[int, int, int, int], ...]
    starts: tuple[int, ...]

    def back_start(self, p: int) -> int:
        i = bisect_right(self.starts, p) - 1
        if i < 0:
            return p
        ns, ne, os_, oe = self.edits[i]
        if ns <= p < ne:
            return os_
        # walk back over edits that all start at the same place (deletion then expansion)
        return p - ne + oe

    def back_end(self, q: int) -> int:
        i = bisect_left(self.starts, q) - 1
        if i < 0:
            return q
        ns, ne, os_, oe = self.edits[i]
        if ns < q <= ne:
            return oe
        return q - ne + oe


@dataclass(frozen=True)
class Normalized:
    """A folded text and the way back to the original.

    ``text`` is what lexicons are matched against; ``original`` is the input.
    ``to_original(start, end)`` maps a span of ``text`` to a span of
    ``original`` (so ``original[a:b]`` is what was actually written).
    """

    original: str
    text: str
    passes: tuple[_Pass, ...] = field(default=())
    #: spans of ``text`` made by joining dotted/spaced letters ("r d v p r e f" -> "rdvpref"): words may
    #: run together there, so the classifier also looks for terms inside them, like inside hashtags
    joined: tuple[tuple[int, int], ...] = field(default=())
    #: :func:`byte_classes` of the text before the leetspeak and joining passes (which change ASCII
    #: characters only): which scripts, digits and code points beyond U+FFFF ``text`` may hold
    classes: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def identity(self) -> bool:
        """True when every folded character sits at the same index as in the original."""
        return not self.passes

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        a, b = start, end
        for p in reversed(self.passes):
            a, b = p.back_start(a), p.back_end(b)
        n = len(self.original)
        a = max(0, min(a, n))
        b = max(a, min(b, n))
        return a, b

    def original_span_text(self, start: int, end: int) -> str:
        a, b = self.to_original(start, end)
        return self.original[a:b]


def _apply(text: str, matches, repl) -> tuple[str, _Pass | None]:
    """Replace each match by ``repl(match)`` and record the edits (only length changes need a pass)."""
    out: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    last = 0
    pos = 0  # position in the new text
    for m in matches:
        s, e = m.start(), m.end()
        r = repl(m)
        out.append(text[last:s])
        pos += s - last
        out.append(r)
        if len(r) != e - s:
            edits.append((pos, pos + len(r), s, e))
        pos += len(r)
        last = e
    if not out:
        return text, None
    out.append(text[last:])
    new = "".join(out)
    if not edits:
        return new, None
    return new, _Pass(tuple(edits), tuple(x[0] for x in edits))


def _fold_homoglyph_words(text: str) -> str:
    """Fold look-alikes inside words that mix Latin and Cyrillic/Greek letters (1:1, offsets kept).

    A mixed word has a Latin letter next to a Cyrillic/Greek one, so only the words around
    such pairs are looked at; each word once (linear time even on adversarial input).
    """
    parts: list[str] = []
    last = 0
    for m in _MIXED_PAIR.finditer(text):
        if m.start() < last:
            continue  # inside a word already folded
        a = m.start()
        while a > last and _is_letter(text[a - 1]):
            a -= 1
        wm = _WORD.match(text, a)
        if wm is None:
            continue
        w = wm.group()
        parts.append(text[last:a])
        # which script does the word really belong to? count the letters that have no look-alike
        latin_only = sum(1 for c in w if "a" <= c <= "z" and c not in _TO_CYRILLIC)
        cyr_only = sum(1 for c in w if c not in HOMOGLYPHS and not c.isascii() and _CYR_GREEK.match(c))
        if cyr_only > latin_only and _CYRILLIC.search(w):
            parts.append(w.translate(_TO_CYRILLIC_TABLE))  # "пaспорт" with a Latin a -> Russian
        else:
            parts.append(w.translate(_HOMO_TABLE))  # "раssроrt" with Cyrillic р/а/о -> Latin
        last = wm.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _is_letter(c: str) -> bool:
    return c.isalpha()


def normalize(text: str) -> Normalized:
    """Fold ``text`` for matching; see the module docstring for the steps.

    Never raises on str input (any code point, lone surrogates included).
    Texts longer than :data:`MAX_CHARS` are cut to that length.
    """
    if not isinstance(text, str):
        raise TypeError("normalize() takes a str")
    original = text
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    passes: list[_Pass] = []
    fast = None
    classes = None  # _byte_classes(t), once t is folded (None: not computed yet, or t changed since)
    utf8 = b""  # the UTF-8 bytes of t that classes were made from
    if text.isascii():
        t = text.translate(_TABLE)  # CPython's fast path for ASCII
    elif _FAST_WESTERN and (fast := _fold_fast(text)) is not None:
        # Western European, Turkish, Cyrillic or Arabic-script text whose characters all fold 1:1
        # (or to nothing) inside one single-byte map: one bytes.translate, in C
        t, p, homoglyphs = fast
        if p is not None:
            passes.append(p)
        if homoglyphs and _may_mix_scripts(classes := (utf8 := t.encode("utf-8", "surrogatepass")).translate(_BYTE_CLASSES)):
            t = _fold_homoglyph_words(t)
            classes = None
    elif _FAST_NUMPY and (fast := _fold_numpy(text)) is not None:
        t, p = fast
        if p is not None:
            passes.append(p)
        if _may_mix_scripts(classes := (utf8 := t.encode("utf-8", "surrogatepass")).translate(_BYTE_CLASSES)):
            t = _fold_homoglyph_words(t)
            classes = None
    else:
        # One pass over the runs of characters that need the table (accents, zero-width, ligatures,
        # non-ASCII punctuation …; much faster than str.translate over a whole non-ASCII text),
        # recording the runs whose length changes; then lower() in C for everything else (1:1).
        edits: list[tuple[int, int, int, int]] = []
        delta = 0

        def fold_run(m: re.Match) -> str:
            nonlocal delta
            g = m.group()
            r = g.translate(_TABLE)
            if len(r) != len(g) or not _CHANGING_SET.isdisjoint(g):
                # rare: record the edit of each character that changes length
                pos = m.start()
                for c in g:
                    f = c.translate(_TABLE)
                    if len(f) != 1:
                        ns = pos + delta
                        edits.append((ns, ns + len(f), pos, pos + 1))
                        delta += len(f) - 1
                    pos += 1
            return r

        t = _ALL_RUNS.sub(fold_run, text).lower()
        if edits:
            passes.append(_Pass(tuple(edits), tuple(e[0] for e in edits)))
        if _may_mix_scripts(classes := (utf8 := t.encode("utf-8", "surrogatepass")).translate(_BYTE_CLASSES)):
            t = _fold_homoglyph_words(t)
            classes = None
    if classes is None:
        utf8 = t.encode("utf-8", "surrogatepass")
        classes = utf8.translate(_BYTE_CLASSES)
    if _leet_hint(classes):
        t = _LEET_RE.sub(lambda m: m.group().translate(_LEET_TABLE), t)
    joined: tuple[tuple[int, int], ...] = ()
    hint, joinable = (_JOIN_HINT_BMP, _JOINABLE_BMP) if b"F" not in classes else (_JOIN_HINT, _JOINABLE)
    if _may_join(t, utf8) and hint.search(" " + t + " ") and (first := joinable.search(t)) is not None:
        # (the look-behind sees the text before the start position: the same matches from the first on)
        t, p = _apply(t, joinable.finditer(t, first.start()), lambda m: m.group().translate(_JOIN_SEPARATORS))
        if p is not None:
            passes.append(p)
            joined = tuple((e[0], e[1]) for e in p.edits)
    return Normalized(original, t, tuple(passes), joined, classes)


def bmp_class(pred) -> str:
    r"""The inside of a regex character class holding the code points of the Basic Multilingual Plane
    (up to U+FFFF) for which ``pred(char)`` is true, as ranges.

    The regex engine tests ``\w``, ``\W`` or ``\d`` with one or more Unicode-database look-ups per
    character; a class spelled out as ranges of the BMP compiles to a 64K bitmap, one look-up. A
    pattern that starts with such a class skips through a text several times faster, and it is the
    same class for any text without code points beyond U+FFFF (see :func:`bmp_only`)."""
    runs: list[tuple[int, int]] = []
    start = None
    for cp in range(0x10000):
        if pred(chr(cp)):
            if start is None:
                start = cp
        elif start is not None:
            runs.append((start, cp - 1))
            start = None
    if start is not None:
        runs.append((start, 0xFFFF))
    esc = re.escape
    return "".join(esc(chr(a)) if a == b else f"{esc(chr(a))}-{esc(chr(b))}" for a, b in runs)


def bmp_only(s: str) -> bool:
    """True when ``s`` has no code point beyond U+FFFF (checked in C: one UTF-16 encoding)."""
    return s.isascii() or len(s.encode("utf-16-le", "surrogatepass")) == 2 * len(s)


#: ``[^\w]`` and ``\d`` over the BMP: exact for texts where :func:`bmp_only` holds (tested)
NON_WORD_BMP = bmp_class(lambda c: not (c.isalnum() or c == "_"))
DIGIT_BMP = bmp_class(str.isdecimal)
LETTER_BMP = bmp_class(lambda c: c.isalnum() and not c.isdecimal())  # [^\W\d_]

# The joined-letters passes for texts without code points beyond U+FFFF: letters as a bitmap class, and
# _JOINABLE led by its first letter (so the engine skips to letters in C instead of trying every
# position) with the look-behind after it: the same matches.
_JOIN_HINT_BMP = re.compile(_JOIN_HINT.pattern.replace(r"[^\W\d_]", f"[{LETTER_BMP}]"))
_JOINABLE_BMP = re.compile(
    r"{L}(?<!{L}{L})(?:(?:\. ?{L}){{2,}}|(?:[ *~/-]{{1,3}}{L}){{2,}})(?!{L})".format(L=f"[{LETTER_BMP}]")
)

_TERM_SEP = re.compile(r"[^\w%€$#@+]+|_+")
_KEY_SEP = re.compile(r"[^\w%€$#@+]|_")


def fold_term(term: str) -> str:
    """Normalise a lexicon term like a text; punctuation and spaces become single spaces
    ("Carte d'identité" -> "carte d identite"), which the matcher lets match any separator."""
    return _TERM_SEP.sub(" ", normalize(term).text).strip()


def term_key(s: str) -> str:
    """A folded term or matched text without its separators: the lookup key of a match."""
    if s.isalnum():  # the common case: one word, nothing to strip
        return s
    return _KEY_SEP.sub("", s)
