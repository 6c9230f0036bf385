"""The offer classifier: ``classify(text, lang_hint=None) -> Verdict``.

A pure function over the text. Steps:

1. :func:`matchers.normalize.normalize` folds the text (obfuscation undone)
   and keeps the way back to the original spans.
2. One pass of the lexicon's combined regex (all languages, a trie-factored
   alternation) finds topic terms (appointment nouns, venues, document nouns,
   forgery markers), offer signals and hard-negative cues; hashtag bodies get a
   second pass without word boundaries; a price regex finds amounts with a
   currency.
3. If a text has an offer signal but no topic word, rapidfuzz (ratio, with
   the ``fuzzy_cutoff`` of ``rules.toml``) looks for misspelled topic words
   among its longer words ("assport", "pasport").
4. The rules decide (see ``docs/classifier.md``):

   - an *offer* needs ``offer >= offer_min`` and ``offer > negatives``;
   - ``forged_documents`` needs a document noun and either a forgery marker
     ("fake", "faux", "поддельный") or a sale word close to the noun ("buy
     passport", "купить паспорт");
   - ``appointment_resale`` needs an appointment noun (rdv, cita, slot,
     randevu, موعد …) or a phrase that implies one ("sacamos cita");
   - when both could apply, a forgery marker makes it ``forged_documents``,
     otherwise ``appointment_resale``.

Every reason carries the span of the *original* text that matched.
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_right
from dataclasses import MISSING, dataclass, fields
from operator import attrgetter

from .lexicon import Lexicon, TermInfo, load_lexicon
from .normalize import DIGIT_BMP, bmp_only, byte_classes, normalize, term_key
from .types import DOCUMENT_SUBTYPES, Reason, Verdict

__all__ = ["classify", "get_lexicon", "reload_lexicon", "MAX_REASONS"]

MAX_REASONS = 60  # a verdict keeps at most this many reasons ...
MAX_PER_TERM = 3  # ... and at most this many occurrences of one term

_CURRENCY = (
    r"€|eur|euro|euros|e|dh|dhs|mad|dirham|dirhams|da|dzd|dinar|dinars|tnd|dt|usd|dollar|dollars|tl|try|lira|"
    r"liras|₺|toman|tomans|tomanes|rial|rials|irr|rub|руб|рублей|рубля|₽|£|gbp|cfa|fcfa|xof|₹|inr|rs|rupees|"
    r"درهم|دراهم|دينار|يورو|اورو|دولار|ليره|ليرة|تومان|تومن|ريال|\$"
)
# Amount then currency ("180 €", "1 500 dh", "40 euros"), or currency then amount ("€50", "₹30000").
# Two patterns, each starting with a character class so the regex engine skips ahead in C; the
# look-behind after the first digit keeps amounts from starting inside a word or a number.
# Bounded repetitions only: linear time on any input.
PRICE_RE = re.compile(rf"\d(?<![\w.,]\d)[\d .,]{{0,12}}(?:{_CURRENCY})(?!\w)")
PRICE_BEFORE_RE = re.compile(r"[€$£₹₺₽] ?\d{1,9}(?!\w)")
# the same led by the BMP's digits as a bitmap (a quicker skip through the text) for texts without
# code points beyond U+FFFF
_PRICE_RE_BMP = re.compile("[" + DIGIT_BMP + "]" + PRICE_RE.pattern[len(r"\d"):])


_CURRENCY_FIRST = "€$£₹₺₽"


def _contains_any(s: str, chars: str) -> bool:
    """``any(c in s for c in chars)`` without a generator."""
    for c in chars:
        if c in s:
            return True
    return False


def find_prices(t: str, bmp: bool | None = None, classes: bytes | None = None,
                folded: bool = False) -> list[tuple[int, int]]:
    """Spans of amounts with a currency in a normalised text (``bmp``: :func:`bmp_only` of ``t``;
    ``classes``: :func:`matchers.normalize.byte_classes` of ``t``, or ``Normalized.classes``, if known;
    ``folded``: ``t`` is the text of a :class:`Normalized`, whose decimal digits led by the bytes of the
    classes "A" and "E" (Arabic-Indic, Persian, full-width) were folded to ASCII: tested)."""
    if bmp is None:
        bmp = bmp_only(t)
    if bmp:
        # a price holds a digit: a text of the BMP without any (one translate in C) has none
        m = byte_classes(t) if classes is None else classes
        if b"D" not in m and b"9" not in m and b"N" not in m and (folded or (b"A" not in m and b"E" not in m)):
            return []
    out = [(m.start(), m.end()) for m in (_PRICE_RE_BMP if bmp else PRICE_RE).finditer(t)]
    if _contains_any(t, _CURRENCY_FIRST):
        out.extend((m.start(), m.end()) for m in PRICE_BEFORE_RE.finditer(t))
        out.sort()
    return out


_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_HASHTAG_RE = re.compile(r"#(\w{3,80})")
_ONE_LETTER_WORDS = frozenset("aoyeiu")  # à/a (fr, es), y, o, e, u (es), i (en) after folding
_FUZZY_TOKEN = re.compile(r"[^\W\d_]+")  # letter runs; those of 6-24 letters are fuzzy candidates
_FUZZY_MAX_TOKENS = 1000  # words looked at (bounded work on huge texts)

_LEX: Lexicon | None = None
_LEX_LOCK = threading.Lock()  # one compilation per process, even when threads ask at once
_fuzzy_cache: dict[str, str | None] = {}  # word -> best fuzzy key (or None), for the current lexicon
# whitespace token -> its near misses ((word, best key), …), for the current lexicon; and the tokens that
# have some: a text's tokens are then looked up with set operations in C (posts repeat their words)
_fuzzy_tokens: dict[str, tuple] = {}
_fuzzy_near: set[str] = set()


def get_lexicon() -> Lexicon:
    """The compiled shipped lexicon (compiled once per process)."""
    global _LEX
    if _LEX is None:
        with _LEX_LOCK:  # (a crawl's writer warms the lexicon up in a thread while the first ads arrive)
            if _LEX is None:
                _LEX = load_lexicon()
    return _LEX


def reload_lexicon(directory=None) -> Lexicon:
    """Recompile (after editing the files, or to use another lexicon folder)."""
    global _LEX
    _LEX = load_lexicon(directory)
    _fuzzy_cache.clear()
    _fuzzy_tokens.clear()
    _fuzzy_near.clear()
    return _LEX


@dataclass(slots=True)
class _Hit:
    info: TermInfo | None  # None for a price
    start: int  # in the normalised text
    end: int
    fuzzy: bool = False


_NON_WORD = re.compile(r"[^\w]")


def _inner_matches(pattern: re.Pattern, t: str, pos: int, endpos: int):
    r"""``pattern.finditer(t, pos, endpos)`` for ``Lexicon.pattern``, whose matches start where ``(?<!\w)``
    holds: it is only tried after each non-word character of the span (the regex engine cannot skip ahead
    for a pattern that starts with a look-behind, and tries every position), from the end of the last
    match on, as finditer does."""
    last = pos
    for sm in _NON_WORD.finditer(t, pos - 1, endpos - 1):
        p = sm.end()
        if p < last:
            continue
        m = pattern.match(t, p, endpos)
        if m is not None:
            yield m
            last = m.end()


def _matches_at(pattern: re.Pattern, s: str, starts) -> list:
    """The matches of ``pattern.finditer(s)`` when ``starts`` (sorted) holds every position where
    ``pattern.match(s, pos)`` succeeds, and maybe others: the same leftmost, non-overlapping matches in the
    same order (a candidate inside the previous match is skipped, as finditer resumes at its end; the
    patterns' matches are never empty)."""
    out = []
    last = 0
    match = pattern.match
    for p in starts:
        if p >= last:
            m = match(s, p)
            if m is not None:
                out.append(m)
                last = m.end()
    return out


def _scan_matches(lex: Lexicon, scan: re.Pattern, st: str, cands=...):
    """The main pass: the matches of ``scan.finditer(st)`` (:func:`_scan_matches_reference`), found by
    trying ``scan`` only where :meth:`Lexicon.scan_starts` says a term may begin instead of after every
    separator. ``st`` holds no code point beyond U+FFFF. ``cands``: ``lex.scan_starts(st, …)`` if already
    known (None: no automaton, finditer)."""
    if cands is ...:
        cands = lex.scan_starts(st)
    return scan.finditer(st) if cands is None else _matches_at(scan, st, cands[0])


def _scan_matches_reference(scan: re.Pattern, st: str) -> list:
    """The main pass as it was: ``scan.finditer`` after every separator (kept as the reference of
    :func:`_scan_matches`, for the tests)."""
    return list(scan.finditer(st))


def _infix_matches(lex: Lexicon, t: str, cands=...):
    """The infix pass: the matches of ``lex.infix_pattern.finditer(t)``, found by trying the pattern only
    at the automaton's infix candidates (``cands``: :meth:`Lexicon.scan_starts` of ``" " + t`` with
    ``infix=True``, if already known; None: no filter), when ``t`` holds no code point beyond U+FFFF and
    the automaton has the infix keys."""
    if cands is ...:
        cands = lex.scan_starts(" " + t, infix=True) if bmp_only(t) else None
    if cands is None or cands[1] is None:
        return lex.infix_pattern.finditer(t)
    return _matches_at(lex.infix_pattern, t, cands[1])


def _collect(lex: Lexicon, t: str, joined=(), bmp: bool | None = None, classes: bytes | None = None) -> list[_Hit]:
    hits: list[_Hit] = []
    lookup_word = lex.lookup["word"]
    # " " + t: each match starts with the separator before its term (one character), and an empty
    # group closes the term (see Lexicon.scan_pattern)
    st = " " + t
    if bmp is None:
        bmp = bmp_only(t)
    if classes is None:
        classes = byte_classes(t)
    if bmp:
        scan, lookups = lex.scan_for(t, classes)  # narrowed to the first characters that may occur in t
        # tried only where a term may begin (Lexicon.scan_starts): the same matches as finditer; with the
        # infix pass's candidates too when it may run (Arabic script, tested below)
        cands = lex.scan_starts(st, b"A" in classes or b"E" in classes)
        matches = _scan_matches(lex, scan, st, cands)
    else:
        scan, lookups = lex.scan_pattern, [lex.lookup[k] if k else None for k in lex.scan_kinds]
        matches = scan.finditer(st)
        cands = None
    for m in matches:
        s, e = m.span()
        i = m.lastindex
        infos = lookups[i].get(term_key(st[s + 1:m.start(i)]), ())
        for info in infos:
            hits.append(_Hit(info, s, e - 1))
    # Arabic script: its lead bytes (or those of U+F000-U+FFFF, the presentation forms) first, then the regex
    if (b"A" in classes or b"E" in classes) and _ARABIC_SCRIPT.search(t):
        lookup_infix = lex.lookup["infix"]
        for m in _infix_matches(lex, t, cands):
            for info in lookup_infix.get(term_key(m.group(1)), ()):
                hits.append(_Hit(info, m.start(), m.end()))
    # topic words inside longer offer or negative phrases count too ("hızlı vize randevusu",
    # "mon rendez-vous" …): the longest match would otherwise hide them
    inner: list[_Hit] = []
    for h in hits:
        kind = h.info.group.kind
        if (kind == "offer" or kind == "negative") and h.end - h.start > 6 and not t[h.start:h.end].isalnum():
            for m in _inner_matches(lex.pattern, t, h.start + 1, h.end):
                mode, g = ("word", 1) if m.group(1) is not None else ("prefix", 2)
                for info in lex.infos(mode, m.group(g)):
                    if info.group.kind in ("appointment", "venue", "document", "forgery"):
                        inner.append(_Hit(info, m.start(), m.end()))
    hits.extend(inner)
    # spaced letters glued to a following one-letter word ("p a s s p o r t à vendre" -> "passporta vendre",
    # "r d v a 50 €" -> "rdva 50 €"): the run without its last letter is looked up as a word, and that
    # letter may start a term ("a vendre")
    for js, je in joined:
        if je - js >= 4 and t[je - 1] in _ONE_LETTER_WORDS:
            for info in lookup_word.get(t[js:je - 1], ()):
                hits.append(_Hit(info, js, je - 1))
            for m in lex.scan_pattern.finditer(" " + t[je - 1:je - 1 + 120]):
                if m.start() > 0:
                    break
                mode, term = lex.scan_term(m)
                for info in lex.lookup[mode].get(term_key(term), ()):
                    hits.append(_Hit(info, je - 1, je - 2 + m.end()))
    # hashtag bodies and joined letters ("#rdvprefecture", "r d v p r e f e c t u r e"): no word boundaries
    glued = [(hm.start(1), hm.end(1)) for hm in _HASHTAG_RE.finditer(t)] if "#" in t else []
    glued.extend(j for j in joined if j[1] - j[0] >= 5)
    if glued:
        # what the main pass already matched is not counted twice
        covered = sorted((h.start, h.end) for h in hits)
        starts = [c[0] for c in covered]
        max_end: list[int] = []
        for _, e in covered:
            max_end.append(max(e, max_end[-1]) if max_end else e)
        for gs, ge in glued[:200]:
            for m in lex.hashtag_pattern.finditer(t, gs, ge):
                mode = "word" if m.group(1) is not None else "prefix" if m.group(2) is not None else "infix"
                s, e = m.start(), m.end()
                i = bisect_right(starts, s) - 1
                if i >= 0 and max_end[i] >= e:
                    continue
                whole = s == gs and e == ge
                for info in lex.infos(mode, m.group()):
                    # a hard-negative cue glued inside another word is too weak a signal ("#x" is kept whole)
                    if info.group.kind == "negative" and not whole:
                        continue
                    hits.append(_Hit(info, s, e))
    return hits


def _near_misses(tok: str, keys: list[str], cutoff: float, process, fuzz) -> tuple:
    """((word, best fuzzy key), …) for the candidate words of one whitespace token (a plain word of 6-24
    letters, or the letter runs of 6-24 letters of a longer token) whose best key is another word."""
    if tok.isalpha():
        words = (tok,) if 6 <= len(tok) <= 24 else ()
    elif len(tok) >= 6:
        words = [w for w in _FUZZY_TOKEN.findall(tok) if 6 <= len(w) <= 24]
    else:
        return ()
    out = []
    for w in words:
        if w in _fuzzy_cache:
            best = _fuzzy_cache[w]
        else:
            r = process.extractOne(w, keys, scorer=fuzz.ratio, score_cutoff=cutoff)
            best = r[0] if r else None
            if len(_fuzzy_cache) > 50_000:
                _fuzzy_cache.clear()
            _fuzzy_cache[w] = best
        if best is not None and best != w:
            out.append((w, best))
    return tuple(out)


def _fuzzy(lex: Lexicon, t: str, taken: set[int]) -> list[_Hit]:
    """Misspelled topic words, with rapidfuzz and an explicit score_cutoff (cheap: candidate words only)."""
    from rapidfuzz import fuzz, process

    keys = lex.fuzzy_keys
    cutoff = float(lex.rules["fuzzy_cutoff"])
    # the distinct whitespace tokens (split in C); those never seen get their near misses computed
    # (_near_misses), then the text's near misses are the known ones of its tokens (set operations in C)
    toks = set(t.split(None, _FUZZY_MAX_TOKENS)[:_FUZZY_MAX_TOKENS])
    new = toks.difference(_fuzzy_tokens)
    if new:
        if len(_fuzzy_tokens) + len(new) > 200_000:
            _fuzzy_tokens.clear()
            _fuzzy_near.clear()
            new = toks
        for tok in new:
            near = _near_misses(tok, keys, cutoff, process, fuzz)
            _fuzzy_tokens[tok] = near
            if near:
                _fuzzy_near.add(tok)
    found: dict[str, str] = {}
    for tok in toks.intersection(_fuzzy_near):
        for w, best in _fuzzy_tokens[tok]:
            found[w] = best
    out: list[_Hit] = []
    if not found:
        return out
    for n, m in enumerate(_FUZZY_TOKEN.finditer(t)):
        if n >= _FUZZY_MAX_TOKENS:
            break
        best = found.get(m.group())
        if best is None or m.start() in taken:  # not a near miss, or already matched exactly
            continue
        for info in lex.fuzzy_terms.get(best, ()):
            out.append(_Hit(info, m.start(), m.end(), fuzzy=True))
    return out


_REASON_DEFAULTS = {f.name: f.default for f in fields(Reason) if f.default is not MISSING}
_REASON_OTHER_DEFAULTS = {k: v for k, v in _REASON_DEFAULTS.items()
                          if k not in ("rule", "term", "start", "end", "kind", "weight")}


def _reason(rule: str, term: str, start: int, end: int, kind: str, weight: float) -> Reason:
    """``Reason(...)`` without the frozen-dataclass ``__init__`` (one ``object.__setattr__`` per field,
    ≈ 2 µs per reason); fields added to :class:`Reason` later get their defaults. Tested to give an
    object equal to the constructor's."""
    r = object.__new__(Reason)
    d = r.__dict__
    if _REASON_OTHER_DEFAULTS:
        d.update(_REASON_OTHER_DEFAULTS)
    d["rule"] = rule
    d["term"] = term
    d["start"] = start
    d["end"] = end
    d["kind"] = kind
    d["weight"] = weight
    return r


_BY_START = attrgetter("start")
_BY_SPAN = attrgetter("start", "end")
_KIND_OF = {"appointment": "topic", "venue": "topic", "document": "topic", "forgery": "topic", "offer": "offer",
            "negative": "negative"}
_VENUE_ORDER = ("prefecture", "visa_center", "other_admin")


@dataclass
class _Tally:
    """What the hits add up to."""

    appt: bool = False
    venues: dict = None  # subtype -> weight
    docs: dict = None  # subtype -> weight
    doc_spans: list = None
    forgery: bool = False
    offer_terms: dict = None  # distinct (kind, matched text) -> weight
    neg_terms: dict = None
    near_spans: list = None
    price_words: bool = False  # an offer.price term ("comptez", "tarif", "prix" …)
    offer: float = 0.0
    negative: float = 0.0
    first: dict = None  # subtype -> first position (ties go to the first mentioned)
    appt_spans: list = None  # appointment nouns and phrases that imply one
    offer_spans: list = None


def _tally(hits: list[_Hit], t: str, has_price: bool, rules: dict, asked: frozenset = frozenset()) -> _Tally:
    r = _Tally(venues={}, docs={}, doc_spans=[], offer_terms={}, neg_terms={}, near_spans=[], first={},
               appt_spans=[], offer_spans=[])
    counted: set = set()  # a (subtype, span) counts once even when several languages list the term
    venues, docs, offer_terms, neg_terms = r.venues, r.docs, r.offer_terms, r.neg_terms
    for h in hits:
        g = h.info.group
        kind, s, e = g.kind, h.start, h.end
        if kind == "venue" or kind == "document":
            k = (kind, g.subtype, s, e)
            if k in counted:
                continue
            counted.add(k)
            r.first.setdefault(g.subtype, s)
        if kind == "appointment":
            r.appt = True
            r.appt_spans.append((s, e))
        elif kind == "venue":
            venues[g.subtype] = venues.get(g.subtype, 0.0) + g.weight
        elif kind == "document":
            docs[g.subtype] = docs.get(g.subtype, 0.0) + g.weight
            r.doc_spans.append((s, e, g.subtype))
        elif kind == "forgery":
            r.forgery = True
        elif kind == "offer" and (s, e) in asked:
            # a sale verb in a buyer's question ("anyone here selling slots?"): a request, not an offer
            neg_terms[("buyer_question", term_key(t[s:e]))] = float(rules.get("question_sale_weight", 2.0))
        elif kind == "offer":
            # a term counts once, whatever the number of occurrences or of languages listing it
            key = (g.name, term_key(t[s:e]))
            offer_terms[key] = max(offer_terms.get(key, 0.0), g.weight)
            r.offer_spans.append((s, e))
            if g.near_document:
                r.near_spans.append((s, e, h))
            if g.name.startswith("price"):
                r.price_words = True
        elif kind == "negative":
            key = (g.name, term_key(t[s:e]))
            neg_terms[key] = max(neg_terms.get(key, 0.0), g.weight)
        if not g.implies:
            continue
        for imp in g.implies:
            kind, _, sub = imp.partition(":")
            if kind == "appointment":
                r.appt = True
                r.appt_spans.append((h.start, h.end))
            elif kind == "venue":
                r.venues[sub] = r.venues.get(sub, 0.0) + g.weight
            elif kind == "document":
                r.docs[sub] = r.docs.get(sub, 0.0) + g.weight
                r.doc_spans.append((h.start, h.end, sub))
            elif kind == "forgery":
                r.forgery = True
    r.offer = sum(r.offer_terms.values()) + (float(rules["price_weight"]) if has_price else 0.0)
    r.negative = sum(r.neg_terms.values())
    return r


_CLAUSE_BREAK = re.compile(r"[,;.:!?|()\[\]\n]")
_GAP_WORD = re.compile(r"\w+")


def _direct_sale(r: _Tally, t: str, near: int, max_words: int, purpose: frozenset):
    """A sale word close to a document noun, in the same clause ("buy passport", "passeport à
    vendre"; not "car for sale, licence needed", not "lessons for the licence"): (hit, span) or None."""
    for s, e, h in r.near_spans:
        for ds, de, sub in r.doc_spans:
            if sub == "other":
                continue  # "papers", "documents": selling them is ordinary (car papers); needs a forgery marker
            if ds == s and de == e:
                continue
            if ds >= e:
                gap = (e, ds)
            elif s >= de:
                gap = (de, s)
            elif ds < e and s < de:  # overlapping
                return h, (min(s, ds), max(e, de))
            else:
                continue
            if gap[1] - gap[0] <= near and not _CLAUSE_BREAK.search(t, gap[0], gap[1]):
                words = _GAP_WORD.findall(t, gap[0], gap[1])
                if len(words) <= max_words and not purpose.intersection(words):
                    return h, (min(s, ds), max(e, de))
    return None


# a full stop ends a sentence only after a word of two letters or more and before a space: not the
# dots of "f.a.k.e" or "r.d.v."
_SENTENCE_END = re.compile(r"[!?\n\u061f]|\.(?<=\w\w\.)(?=\s|$)")  # led by a character class: fast scan
_WORD = re.compile(r"\w+(?:'\w+)*")


def _asked(hits: list[_Hit], text: str, t: str, norm, rules: dict) -> frozenset:
    """Sale verbs a buyer asks about ("anyone here selling slots?", "où on achète des créneaux ?"): in a
    question (the sentence ends with ? or ؟, or holds ¿) with a question word before the verb and no word
    of wanting between them ("qui veut acheter un rdv ?" is a seller's). Spans in the folded text."""
    if "?" not in text and "\u061f" not in text and "\u00bf" not in text:
        return frozenset()
    qwords, wants = _word_list(rules, "question_words"), _word_list(rules, "question_want_words")
    out = set()
    for h in hits[:500]:
        g = h.info.group
        if g.kind != "offer" or not g.name.startswith("sell"):
            continue
        a, b = norm.to_original(h.start, h.end)
        end = _SENTENCE_END.search(text, b, b + 300)
        if not ((end is not None and end.group() in "?\u061f") or "\u00bf" in text[max(0, a - 200):a]):
            continue
        # the words before the verb in its sentence, read in the folded text (where ؟ and ¿ are spaces)
        start = max(0, h.start - 200)
        for m in _SENTENCE_END.finditer(t, start, h.start):
            start = m.end()
        before = _WORD.findall(t, start, h.start)
        for i, w in enumerate(before):
            if w in qwords:
                if not wants.intersection(before[i:]):
                    out.add((h.start, h.end))
                break
    return frozenset(out)


_PURPOSE_CACHE: dict[int, frozenset] = {}
_WORDS_CACHE: dict[tuple, frozenset] = {}


def _word_list(rules: dict, key: str) -> frozenset:
    """A list of words from rules.toml, folded like texts."""
    k = (id(rules), key)
    if k not in _WORDS_CACHE:
        if len(_WORDS_CACHE) > 16:
            _WORDS_CACHE.clear()
        _WORDS_CACHE[k] = frozenset(normalize(w).text.strip() for w in rules.get(key, []))  # single words
    return _WORDS_CACHE[k]


def _purpose_words(rules: dict) -> frozenset:
    key = id(rules)
    if key not in _PURPOSE_CACHE:
        words = set()
        for w in rules.get("purpose_words", []):
            words.update(normalize(w).text.split())
        _PURPOSE_CACHE.clear()
        _PURPOSE_CACHE[key] = frozenset(words)
    return _PURPOSE_CACHE[key]


def _near_any(spans: list, others: list, near: int) -> bool:
    """Is any span of ``others`` within ``near`` characters of a span of ``spans``?"""
    for s, e in spans[:200]:
        for os_, oe in others[:200]:
            if os_ - e <= near and s - oe <= near:
                return True
    return False


def _decide(r: _Tally, t: str, has_price: bool, rules: dict, prices: list = ()):
    """(category, subtype, rule) from a tally; rule names the decisive rule for the reasons."""
    is_offer = r.offer >= float(rules["offer_min"]) and r.offer > r.negative
    if not is_offer:
        return "none", None, None, None
    direct = _direct_sale(r, t, int(rules["near_chars"]), int(rules.get("near_max_words", 2)),
                              _purpose_words(rules)) if r.docs and not r.forgery else None
    specific_docs = [k for k in r.docs if k != "other"]
    catalogue = len(specific_docs) >= int(rules.get("catalogue_min_types", 3))
    doc_rule = ("rules.forgery_marker" if r.forgery else "rules.direct_sale" if direct
                else "rules.document_catalogue" if catalogue else None)
    # a procedure at an office sold for a price ("pour la préfecture de Bobigny, comptez 15 euros pour une
    # demande de renouvellement"): a price word, a price and at least two venue/procedure words
    procedure = has_price and r.price_words and sum(r.venues.values()) >= 2
    category, rule = "none", None
    if r.docs and doc_rule and (r.forgery or not r.appt):
        category, rule = "forged_documents", doc_rule
    elif r.appt and _near_any(r.appt_spans, r.offer_spans + list(prices),
                              int(rules.get("appointment_near_chars", 80))):
        # the offer must be about the appointment: a signal close to an appointment word,
        # not "sofa for sale … my visa appointment next week"
        category, rule = "appointment_resale", "rules.appointment_offer"
    elif r.docs and doc_rule:
        category, rule = "forged_documents", doc_rule
    elif procedure:
        category, rule = "appointment_resale", "rules.procedure_for_a_price"
    subtype = None
    if category == "forged_documents":
        pool = {k: v for k, v in r.docs.items() if k != "other"} or r.docs
        subtype = max(pool, key=lambda k: (pool[k], -r.first.get(k, 0), -DOCUMENT_SUBTYPES.index(k)))
    elif category == "appointment_resale" and r.venues:
        subtype = max(r.venues, key=lambda k: (r.venues[k], -r.first.get(k, 0), -_VENUE_ORDER.index(k)))
    return category, subtype, rule, direct


def classify(text, lang_hint: str | None = None) -> Verdict:
    """Classify one post text; never raises on any str (or bytes) input.

    ``lang_hint`` is accepted for the pipeline's sake; every language's lexicon
    is applied anyway (posts mix languages and scripts).
    """
    lex = get_lexicon()
    if text is None:
        text = ""
    elif isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    verdict = Verdict(lexicon_version=lex.version)
    if not text.strip():
        return verdict
    rules = lex.rules
    norm = normalize(text)
    t = norm.text
    classes = norm.classes if norm.classes is not None else byte_classes(t)
    bmp = b"F" not in classes  # bmp_only(t): no lead byte of a code point beyond U+FFFF
    hits = _collect(lex, t, norm.joined, bmp, classes)
    prices = find_prices(t, bmp, classes, folded=True)
    has_price = bool(prices)
    asked = _asked(hits, text, t, norm, rules)
    r = _tally(hits, t, has_price, rules, asked)
    category, subtype, rule, direct = _decide(r, t, has_price, rules, prices)
    if category == "none" and r.offer >= float(rules["offer_min"]) and r.offer > r.negative:
        # an offer with no (or not enough) topic: look for misspelled topic words
        extra = _fuzzy(lex, t, {h.start for h in hits})
        if extra:
            hits.extend(extra)
            r = _tally(hits, t, has_price, rules, asked)
            category, subtype, rule, direct = _decide(r, t, has_price, rules, prices)

    topic = (1.0 if r.appt or r.docs else 0.0) + (0.5 if r.venues else 0.0) + (1.0 if r.forgery else 0.0)
    margin = topic + r.offer - r.negative
    strength = 1.0 - math.exp(-max(margin, 0.0) / float(rules["score_scale"]))
    if category != "none":
        score = 0.5 + 0.5 * strength
    else:
        score = 0.49 * strength if (r.appt or r.docs) else 0.0

    # reasons, with spans in the original text
    reasons: list[Reason] = []
    per_term: dict[tuple, int] = {}
    seen: set = set()
    # no length-changing pass: a span of the folded text is the same span of the original
    identity, n_orig = not norm.passes, len(text)
    for h in sorted(hits, key=_BY_START):
        if len(reasons) >= MAX_REASONS:
            break
        g = h.info.group
        dedupe = (g.kind, g.subtype or g.name, h.start, h.end)
        if dedupe in seen:
            continue
        seen.add(dedupe)
        key = (g.rule, h.info.term)
        c = per_term[key] = per_term.get(key, 0) + 1
        if c > MAX_PER_TERM:
            continue
        a, b = h.start, h.end
        if not (identity and 0 <= a <= b <= n_orig):
            a, b = norm.to_original(a, b)
        kind = _KIND_OF[g.kind]
        w = g.weight if kind != "negative" else -g.weight
        if g.kind == "offer" and (h.start, h.end) in asked:
            reasons.append(_reason(rule="rules.buyer_question", term=h.info.term, start=a, end=b, kind="negative",
                                   weight=-float(rules.get("question_sale_weight", 2.0))))
            continue
        reasons.append(_reason(rule=g.rule + (".fuzzy" if h.fuzzy else ""), term=h.info.term, start=a, end=b,
                              kind=kind, weight=w))
    if prices:
        a, b = norm.to_original(*prices[0])
        reasons.append(_reason(rule="rules.price", term=text[a:b], start=a, end=b, kind="offer",
                               weight=float(rules["price_weight"])))
    if rule == "rules.direct_sale" and direct is not None:
        a, b = norm.to_original(*direct[1])
        reasons.append(_reason(rule=rule, term=text[a:b], start=a, end=b, kind="context",
                               weight=_REASON_DEFAULTS["weight"]))
    elif rule is not None:
        reasons.append(_reason(rule=rule, term="", start=0, end=0, kind="context", weight=_REASON_DEFAULTS["weight"]))
    reasons.sort(key=_BY_SPAN)
    verdict.category = category
    verdict.subtype = subtype
    verdict.score = round(score, 4)
    verdict.reasons = reasons
    return verdict
