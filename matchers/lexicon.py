"""Loading, validating and compiling the classifier's lexicons (TOML data files).

Lexicons live in ``matchers/lexicons/*.toml``, one file per language plus
``rules.toml`` (thresholds and weights). See ``docs/classifier.md`` for the
format. In short, a language file holds groups of terms::

    [meta]
    lang = "fr"
    match = "word"            # default for this file: word | prefix | infix

    [venue.prefecture]        # <kind>.<name>
    weight = 1.0
    terms = ["préfecture", "titre de séjour", "anef"]

Kinds: ``appointment`` (appointment nouns: rdv, cita, randevu …), ``venue``
(the group name is an appointment subtype: prefecture, visa_center,
other_admin), ``document`` (the name is a document subtype), ``forgery``
(fake, faux, поддельный …), ``offer`` (selling signals) and ``negative``
(hard-negative cues). Optional keys: ``weight``, ``match``, ``subtype`` (for a venue or document group not named after its subtype,
e.g. ``[venue.visa_center_arabizi]`` with ``subtype = "visa_center"``), ``near_document``
(an offer group whose terms count as a direct sale when close to a document
noun, e.g. "buy" in "buy passport"), ``implies`` (a list such as
``["appointment", "venue:prefecture", "document:driving_licence"]``: a phrase
that carries its topic, like "sacamos cita"), ``note``.

Term syntax: terms are normalised like texts (accents, case, leetspeak …), so
write them plainly. Spaces and punctuation in a term match any run of
separators or none ("rendez vous" matches "rendez-vous", "rendez - vous",
"rendezvous", "#rendezvousprefecture"; "carte d'identité" matches "carte
d’identité").
A trailing ``*`` makes a prefix term ("паспорт*" matches "паспорта"); in
``word`` mode a final s/es/x is allowed (plurals).

:func:`load_lexicon` validates and compiles everything once (cached); the
version is a SHA-256 over the files' bytes, recorded on each verdict.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from storage.errors import VeilleError

try:  # a C Aho-Corasick automaton for the main pass's candidate positions (see Lexicon.scan_starts)
    import ahocorasick
except ImportError:  # pragma: no cover - a declared dependency; without it the main pass runs finditer
    ahocorasick = None

from .normalize import _BYTE_CLASSES, NON_WORD_BMP, byte_classes, fold_term, term_key
from .types import APPOINTMENT_SUBTYPES, DOCUMENT_SUBTYPES

LEXICON_DIR = Path(__file__).with_name("lexicons")
KINDS = ("appointment", "venue", "document", "forgery", "offer", "negative")
MATCH_MODES = ("word", "prefix", "infix")
DEFAULT_WEIGHTS = {"appointment": 1.0, "venue": 1.0, "document": 1.0, "forgery": 1.0, "offer": 1.0,
                   "negative": 1.0}
_GROUP_KEYS = {"terms", "weight", "match", "near_document", "implies", "note", "subtype"}
MAX_TERM_LEN = 80


class LexiconError(VeilleError):
    """A lexicon file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Group:
    """One group of terms: ``kind.name`` in ``lang``."""

    lang: str
    kind: str
    name: str
    weight: float
    near_document: bool = False
    implies: tuple[str, ...] = ()
    subtype: str | None = None  # for venue and document groups
    rule: str = field(default="", compare=False)  # "<lang>.<kind>.<name>", set from the others

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", f"{self.lang}.{self.kind}.{self.name}")


@dataclass(frozen=True)
class TermInfo:
    term: str  # as written in the file
    group: Group


@dataclass
class Lexicon:
    """Compiled lexicons: one regex for all terms, a lookup from match to groups, the rules."""

    version: str
    files: list[str]
    rules: dict
    groups: list[Group]
    # mode -> folded term without spaces -> infos
    lookup: dict[str, dict[str, list[TermInfo]]]
    pattern: re.Pattern  # group 1: word terms, group 2: prefix terms
    # the same terms, each match led by the separator before it: run on " " + text (see compile_lexicon)
    scan_pattern: re.Pattern
    scan_kinds: tuple[str, ...]  # group index -> "word" or "prefix" (see _scan_regex)
    # scan_pattern led by the BMP's non-word characters as a bitmap (faster), for texts without code
    # points beyond U+FFFF (normalize.bmp_only): the same matches there
    scan_pattern_bmp: re.Pattern
    infix_pattern: re.Pattern  # group 1: infix terms
    hashtag_pattern: re.Pattern
    fuzzy_terms: dict[str, list[TermInfo]] = field(default_factory=dict)
    fuzzy_keys: list[str] = field(default_factory=list)  # the keys of fuzzy_terms, for rapidfuzz
    warnings: list[str] = field(default_factory=list)
    n_terms: int = 0
    # the folded word and prefix terms of the scan patterns, for the narrower ones of scan_for
    scan_terms: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    _scan_variants: dict = field(default_factory=dict, repr=False, compare=False)
    # candidate filter of the main pass (see scan_starts); None: no filter (finditer over every separator)
    scan_automaton: object = field(default=None, repr=False, compare=False)
    # the same with the infix terms' keys too, for texts that get the infix pass (None: no infix filter)
    scan_infix_automaton: object = field(default=None, repr=False, compare=False)
    infix_terms: tuple[str, ...] = ()  # the folded infix terms (of infix_pattern), with their spaces

    def scan_starts(self, st: str, infix: bool = False) -> tuple[list[int], list[int] | None] | None:
        """Candidate positions of the main pass and, with ``infix``, of the infix pass on ``st``
        (``" " + t``, without code points beyond U+FFFF), each sorted: ``(starts, infix_starts)``, where
        ``starts`` is a superset of the positions of ``st`` where ``scan.match(st, pos)`` succeeds for any
        scan pattern of :meth:`scan_for`, and ``infix_starts`` a superset of the positions of ``t`` where
        ``infix_pattern.match(t, pos)`` does (None without ``infix`` or without an infix automaton). None:
        no automaton at all.

        The text is mapped, length for length, to one where every separator (``[\\W_]``) is a space
        (:func:`separators_to_spaces`), then an Aho-Corasick automaton of the terms' keys (see
        :func:`scan_keys`) reports, in C, where a key begins. In the infix automaton an infix key's start
        comes back shifted below zero (its value is offset by ``_INFIX_SHIFT``), so one sort puts the
        infix candidates first. (The infix keys make the automaton slower on every text, so texts without
        Arabic script get the one without them.)"""
        a = self.scan_automaton
        if a is None:
            return None
        if infix and self.scan_infix_automaton is not None:
            a = self.scan_infix_automaton
        else:
            infix = False
        starts = [end - back for end, back in a.iter(separators_to_spaces(st))]
        starts.sort()
        if not infix:
            return starts, None
        if not starts or starts[0] >= 0:
            return starts, []
        i = bisect_left(starts, 0)
        shift = _INFIX_SHIFT - 1  # back to the key's start, then from st to t
        return starts[i:], [s + shift for s in starts[:i]]

    def scan_term(self, m: re.Match) -> tuple[str, str]:
        """(mode, matched term) of a ``scan_pattern`` match: the term runs from after the leading
        separator to the empty group that closed (a word term's plural ending is not part of it)."""
        i = m.lastindex
        return self.scan_kinds[i], m.string[m.start() + 1:m.start(i)]

    def scan_for(self, t: str, classes: bytes | None = None) -> tuple[re.Pattern, list]:
        """The main pass's pattern for the folded text ``t`` (without code points beyond U+FFFF, see
        :func:`matchers.normalize.bmp_only`), and the lookup table of each of its groups.

        Every attempt of the scan pattern (one per separator in the text) walks the whole list of
        the terms' first characters, and most attempts fail. A term whose first character is not in
        ``t`` cannot match there, so for a text without Cyrillic or Greek letters, or without Arabic
        letters, the pattern built without those first characters finds the same matches with about
        half the walk. The test is exact and cheap: in UTF-8 each of those scripts has its own lead
        bytes (never a continuation byte), so one ``encode`` and one ``bytes.translate`` tell which
        occur. (Narrowing further, e.g. without the digit-led terms when a text has no digit, made more
        patterns share the CPU caches with the extractor and cost more time than it saved, measured on
        the benchmark.) ``classes``: :func:`matchers.normalize.byte_classes` of ``t`` (or of ``t`` before its
        leetspeak and joining passes, :attr:`Normalized.classes`), if known."""
        m = byte_classes(t) if classes is None else classes
        key = (1 if b"G" in m else 0) | (2 if b"A" in m else 0)
        v = self._scan_variants.get(key)
        if v is None:
            v = self._scan_variants[key] = self._scan_variant(key)
        return v

    def compile_scan_variants(self) -> None:
        """Compile every narrower pattern of :meth:`scan_for` now (about half a second) rather than on
        the first text that needs each: for long runs that time their steady state (benchmarks)."""
        for key in range(4):
            if key not in self._scan_variants:
                self._scan_variants[key] = self._scan_variant(key)

    def _scan_variant(self, key: int) -> tuple[re.Pattern, list]:
        words, prefixes = self.scan_terms
        firsts = {t[0] for t in words} | {t[0] for t in prefixes}
        keep = frozenset(c for c in firsts if _lead_bucket(c) & key == _lead_bucket(c))
        if keep == firsts or not (words or prefixes):
            pattern, kinds = self.scan_pattern_bmp, self.scan_kinds
        else:
            body, kinds = _scan_regex(list(words), list(prefixes), keep)
            pattern = re.compile("[" + NON_WORD_BMP + "]" + body[len(r"[^\w]"):])
        return pattern, [self.lookup[k] if k else None for k in kinds]

    def infos(self, mode: str, matched: str) -> list[TermInfo]:
        return self.lookup[mode].get(term_key(matched), [])


# ------------------------------------------------------------------ compile
def lead_classes(t: str) -> bytes:
    """:func:`matchers.normalize.byte_classes` of ``t``: ``b"G" in`` it tells whether ``t`` may hold a Greek
    or Cyrillic letter, ``b"A" in`` it an Arabic-script one of U+0600-U+077F; when absent, certainly not."""
    return byte_classes(t)


def _lead_bucket(c: str) -> int:
    """1 for a character whose UTF-8 lead byte is a "G" one of the byte classes, 2 for an "A" one, else 0
    (other characters: in every narrower pattern)."""
    b = _BYTE_CLASSES[c.encode("utf-8", "surrogatepass")[0]]
    return 1 if b == ord("G") else 2 if b == ord("A") else 0


def _trie(terms: list[str]) -> dict:
    trie: dict = {}
    for t in terms:
        node = trie
        for ch in t:
            node = node.setdefault(ch, {})
        node[""] = {}
    return trie


def _esc(ch: str) -> str:
    return r"[\W_]*" if ch == " " else re.escape(ch)


def _trie_node(node: dict) -> str:
    end = "" in node
    # the space branch (" *", which may match nothing) goes last: alternation is ordered, and a
    # zero-width branch first would shadow longer terms ("pass port" before "passport photos")
    keys = sorted((ch for ch in node if ch != ""), key=lambda c: (c == " ", c))
    branches = [_esc(ch) + _trie_node(node[ch]) for ch in keys]
    if not branches:
        return ""
    if len(branches) == 1 and not end:
        return branches[0]
    # a term ending here: an empty last branch, the same matches as a greedy "(?:…)?" (tried after the
    # longer terms, before backtracking further), which the regex engine runs as a repeat (a context
    # allocated per attempt) where an alternation costs nothing more
    return "(?:" + "|".join(branches) + ("|)" if end else ")")


def _trie_regex(terms: list[str]) -> str:
    """A regex matching exactly ``terms`` (folded), factored as a trie so the
    alternation costs O(term length) per position, not O(number of terms).
    A space in a term matches any run of separators, or none."""
    trie = _trie(terms)
    return _trie_node(trie) if trie else "(?!)"


def _scan_regex(word_terms: list[str], prefix_terms: list[str],
                firsts: frozenset | None = None) -> tuple[str, tuple[str, ...]]:
    r"""The main pass's regex: ``[^\w](?:(W)(?:s|es|x)?(?!\w)|(P)\w*)`` with W and P the word and
    prefix tries, but with both tries' first characters in one alternation. The regex engine tries
    the branches of an alternation one after the other, and almost every attempt fails (a few
    matches per hundred words), so each failure walked both tries' first letters; now it walks
    one list. Each first character ``c`` gets ``c(?:W_c()S?(?!\w)|P_c()\w*)``: the same order of
    attempts as before (word terms, then prefix terms), hence the same matches. An empty group
    marks where the term ends; ``kinds[i]`` says whether group ``i`` closes a word or a prefix
    term (see :meth:`Lexicon.scan_term`). With ``firsts``, only the terms whose first character is
    in it (a narrower alternation, see :meth:`Lexicon.scan_for`)."""
    tw, tp = _trie(word_terms), _trie(prefix_terms)
    parts: list[str] = []
    kinds: list[str] = ["", ]  # group 0 is the whole match
    for c in sorted(set(tw) | set(tp)):
        if firsts is not None and c not in firsts:
            continue
        alts = []
        if c in tw:
            alts.append(_trie_node(tw[c]) + r"()(?:s|es|x|)(?!\w)")
            kinds.append("word")
        if c in tp:
            alts.append(_trie_node(tp[c]) + r"()\w*")
            kinds.append("prefix")
        parts.append(_esc(c) + (alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"))
    body = "|".join(parts) or "(?!)"
    return r"[^\w](?:" + body + ")", tuple(kinds)


# ------------------------------------------------------------------ the main pass's candidate filter
# A separator is what ``[\W_]`` matches: a character that is not alphanumeric (``re``'s ``\w`` on str is
# ``str.isalnum()`` or "_"; tests compare the tables with the regex on every BMP code point).
_SEP_LATIN1 = bytes(32 if not chr(i).isalnum() else i for i in range(256))
_sep_bmp: list = []  # [uint16 table over the BMP: the code unit, or 32 for a separator], built on first use


def _sep_bmp_table() -> np.ndarray:
    if not _sep_bmp:
        codes = np.arange(0x10000, dtype=np.uint32)
        sep = np.frombuffer(bytes(0 if chr(i).isalnum() else 1 for i in range(0x10000)), dtype=np.uint8)
        _sep_bmp.append(np.where(sep.astype(bool), 32, codes).astype(np.uint16))
    return _sep_bmp[0]


def separators_to_spaces(s: str) -> str:
    """``s`` with every separator (``[\\W_]``) replaced by a space, length for length; ``s`` must hold no
    code point beyond U+FFFF. ASCII with one ``bytes.translate``, otherwise one numpy look-up over the
    UTF-16 code units (lone surrogates are separators)."""
    if s.isascii():
        return s.encode("ascii").translate(_SEP_LATIN1).decode("ascii")
    units = np.frombuffer(s.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    return _sep_bmp_table().take(units).tobytes().decode("utf-16-le")


def _spaced(s: str) -> str:
    return "".join(c if c.isalnum() else " " for c in s)


def scan_keys(terms, length: int = 12, runs: int = 2, lead: str = " ") -> list[str]:
    """The keys of the main pass's candidate filter: for every folded term, the strings that
    :func:`separators_to_spaces` of a match of the term, with the separator before it, must start with.

    A match of the scan pattern at ``p`` is a separator (a space after the mapping), the term's first
    word (its characters, separators among them mapped to spaces), then for each space of the term a run
    of separators of any length (that many spaces) and the next word. So each key is a space, the first
    word, then for each run its length 0 … ``runs`` spelled out with the next word, or ``runs + 1`` spaces
    and nothing after (a prefix of any longer run), all cut to ``length`` characters. Every match's mapped
    text starts with one of them: the positions where a key begins are a superset of the positions
    where the pattern can match. Keys that start with another key are dropped (that one is found at the
    same position), so at most one key begins at a position. With ``lead=""``, the keys of a pattern
    without the separator before its terms (the infix pass)."""
    out: set[str] = set()

    def grow(key: str, words: list[str], i: int) -> None:
        if len(key) >= length or i == len(words):
            out.add(key[:length])
            return
        for r in range(runs + 1):
            grow(key + " " * r + words[i], words, i + 1)
        out.add((key + " " * (runs + 1))[:length])

    for term in terms:
        words = [_spaced(w) for w in term.split(" ")]
        grow(lead + words[0], words, 1)
    keys: list[str] = []
    for k in sorted(out):  # a key's extensions follow it in sorted order
        if not (keys and k.startswith(keys[-1])):
            keys.append(k)
    return keys


# an infix key's value: its length - 1 plus this, so that end - value is below zero (Lexicon.scan_starts)
_INFIX_SHIFT = 1 << 40


def build_scan_automaton(terms, infix_terms=()):
    """The Aho-Corasick automaton of :func:`scan_keys` of ``terms`` (value: the key's length - 1) and, if
    ``infix_terms`` is given, of their keys without a leading space (value: the length - 1 +
    ``_INFIX_SHIFT``); None without pyahocorasick, or if an infix key starts with a space (it could be a
    key of ``terms`` too)."""
    if ahocorasick is None:
        return None
    infix = scan_keys(infix_terms, lead="") if infix_terms else []
    if any(k.startswith(" ") for k in infix):
        return None
    a = ahocorasick.Automaton()
    for k in scan_keys(terms):
        a.add_word(k, len(k) - 1)
    for k in infix:
        a.add_word(k, len(k) - 1 + _INFIX_SHIFT)
    a.make_automaton()
    return a


def _source_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise LexiconError(f"lexicon folder not found: {directory}")
    return sorted(directory.glob("*.toml"))


def _version(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return "lex-" + h.hexdigest()[:16]


def _check_implies(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{where}: 'implies' must be a list of strings")
    for v in value:
        kind, _, sub = v.partition(":")
        if kind == "appointment" and not sub:
            continue
        if kind == "venue" and sub in APPOINTMENT_SUBTYPES:
            continue
        if kind == "document" and sub in DOCUMENT_SUBTYPES:
            continue
        if kind == "forgery" and not sub:
            continue
        raise LexiconError(f"{where}: bad 'implies' entry {v!r} (appointment, forgery, venue:<subtype>, "
                           f"document:<subtype>)")
    return tuple(value)


def _load_rules(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LexiconError(f"{path.name}: {exc}") from None
    rules = data.get("rules")
    if not isinstance(rules, dict):
        raise LexiconError(f"{path.name}: missing [rules] table")
    for key in ("offer_min", "price_weight", "near_chars", "fuzzy_cutoff", "fuzzy_min_len", "score_scale"):
        if not isinstance(rules.get(key), (int, float)) or isinstance(rules.get(key), bool):
            raise LexiconError(f"{path.name}: [rules] {key} must be a number")
    for key in ("near_max_words", "catalogue_min_types"):
        if key in rules and (not isinstance(rules[key], int) or isinstance(rules[key], bool) or rules[key] < 0):
            raise LexiconError(f"{path.name}: [rules] {key} must be a whole number")
    qw = rules.get("question_sale_weight", 2.0)
    if not isinstance(qw, (int, float)) or isinstance(qw, bool) or not 0 < qw <= 10:
        raise LexiconError(f"{path.name}: [rules] question_sale_weight must be a number in (0, 10]")
    for key in ("purpose_words", "question_words", "question_want_words"):
        pw = rules.get(key, [])
        if not isinstance(pw, list) or not all(isinstance(w, str) and w.strip() for w in pw):
            raise LexiconError(f"{path.name}: [rules] {key} must be a list of words")
    return rules


def compile_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    """Read, validate and compile every lexicon file in ``directory``.

    Raises :class:`LexiconError` with the file and group named on any problem.
    """
    files = _source_files(directory)
    rules_path = directory / "rules.toml"
    if rules_path not in files:
        raise LexiconError(f"{directory}: rules.toml is missing")
    rules = _load_rules(rules_path)
    groups: list[Group] = []
    by_mode: dict[str, dict[str, list[TermInfo]]] = {m: {} for m in MATCH_MODES}
    warnings: list[str] = []
    n_terms = 0
    langs_seen: dict[str, str] = {}
    spaced: dict[str, set[str]] = {m: set() for m in MATCH_MODES}
    for f in files:
        if f.name == "rules.toml":
            continue
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise LexiconError(f"{f.name}: {exc}") from None
        meta = data.get("meta")
        if not isinstance(meta, dict) or not isinstance(meta.get("lang"), str) or not meta["lang"]:
            raise LexiconError(f"{f.name}: needs [meta] with lang = \"..\"")
        lang = meta["lang"]
        if lang in langs_seen:
            raise LexiconError(f"{f.name}: lang {lang!r} already defined in {langs_seen[lang]}")
        langs_seen[lang] = f.name
        default_mode = meta.get("match", "word")
        if default_mode not in MATCH_MODES:
            raise LexiconError(f"{f.name}: [meta] match must be one of {', '.join(MATCH_MODES)}")
        for kind, sub in data.items():
            if kind == "meta":
                continue
            if kind not in KINDS:
                raise LexiconError(f"{f.name}: unknown table [{kind}] (expected one of {', '.join(KINDS)})")
            if not isinstance(sub, dict):
                raise LexiconError(f"{f.name}: [{kind}] must contain groups like [{kind}.name]")
            for name, g in sub.items():
                where = f"{f.name} [{kind}.{name}]"
                if not isinstance(g, dict):
                    raise LexiconError(f"{where}: must be a table")
                extra = set(g) - _GROUP_KEYS
                if extra:
                    raise LexiconError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
                subtype = g.get("subtype", name)
                if kind == "venue" and subtype not in APPOINTMENT_SUBTYPES:
                    raise LexiconError(f"{where}: a venue group is named after its subtype (or sets subtype =), "
                                       f"one of {', '.join(APPOINTMENT_SUBTYPES)}")
                if kind == "document" and subtype not in DOCUMENT_SUBTYPES:
                    raise LexiconError(f"{where}: a document group is named after its subtype (or sets subtype =), "
                                       f"one of {', '.join(DOCUMENT_SUBTYPES)}")
                terms = g.get("terms")
                if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
                    raise LexiconError(f"{where}: 'terms' must be a non-empty list of strings")
                weight = g.get("weight", DEFAULT_WEIGHTS[kind])
                if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 < weight <= 10:
                    raise LexiconError(f"{where}: weight must be a number in (0, 10]")
                mode = g.get("match", default_mode)
                if mode not in MATCH_MODES:
                    raise LexiconError(f"{where}: match must be one of {', '.join(MATCH_MODES)}")
                near = g.get("near_document", False)
                if not isinstance(near, bool):
                    raise LexiconError(f"{where}: near_document must be true or false")
                group = Group(lang, kind, name, float(weight), near, _check_implies(g.get("implies"), where),
                              subtype if kind in ("venue", "document") else None)
                groups.append(group)
                seen_in_group: set[tuple[str, str]] = set()
                seen_spellings: set[str] = set()
                for raw in terms:
                    t = raw.strip()
                    term_mode = mode
                    if t.endswith("*"):
                        term_mode, t = "prefix", t[:-1].strip()
                    folded = fold_term(t)
                    if not folded or len(term_key(folded)) < 2:
                        raise LexiconError(f"{where}: term {raw!r} is empty or too short after normalisation")
                    if len(folded) > MAX_TERM_LEN:
                        raise LexiconError(f"{where}: term {raw!r} is longer than {MAX_TERM_LEN} characters")
                    if "#" in folded:
                        raise LexiconError(f"{where}: term {raw!r} must not contain '#'")
                    key = term_key(folded)
                    spaced[term_mode].add(folded)
                    if (term_mode, key) in seen_in_group:
                        if folded in seen_spellings:
                            warnings.append(f"{where}: duplicate term {raw!r}")
                        seen_spellings.add(folded)
                        continue
                    seen_spellings.add(folded)
                    seen_in_group.add((term_mode, key))
                    by_mode[term_mode].setdefault(key, []).append(TermInfo(raw, group))
                    n_terms += 1
    if not groups:
        raise LexiconError(f"{directory}: no lexicon groups found")
    # Each trie regex is built from the folded terms with their spaces (a space matches " *").
    word_re = _trie_regex(sorted(spaced["word"]))
    prefix_re = _trie_regex(sorted(spaced["prefix"]))
    infix_re = _trie_regex(sorted(spaced["infix"]))
    # One pass over the text. Group 1: word terms (plural s/es/x allowed), group 2: prefix terms.
    pattern = re.compile(rf"(?<!\w)(?:({word_re})(?:s|es|x|)(?!\w)|({prefix_re})\w*)")
    # For the main pass over a whole text: the separator before a term is matched instead of looked
    # behind for. A pattern that starts with a character class lets the regex engine skip in C to the
    # next separator instead of trying every position (about a quarter faster). Run on " " + text so a
    # term can start the text; matches are the same as ``pattern``'s except after a match that ends
    # with a non-word character ("100%"), which cannot lead the next term (tested on the corpus).
    scan_re, scan_kinds = _scan_regex(sorted(spaced["word"]), sorted(spaced["prefix"]))
    scan_pattern = re.compile(scan_re)
    scan_pattern_bmp = re.compile("[" + NON_WORD_BMP + "]" + scan_re[len(r"[^\w]"):])
    # Infix terms get their own pass (only over texts that contain Arabic script): one combined
    # alternation would try the infix branch at every position and cost twice as much.
    infix_pattern = re.compile(rf"({infix_re})")
    # Inside hashtag bodies terms are glued together: no boundaries there.
    hashtag_pattern = re.compile(rf"({word_re})|({prefix_re})|({infix_re})")
    scan_terms = sorted(spaced["word"] | spaced["prefix"])
    automaton = build_scan_automaton(scan_terms)
    infix_automaton = build_scan_automaton(scan_terms, sorted(spaced["infix"])) if spaced["infix"] else None
    fuzzy: dict[str, list[TermInfo]] = {}
    min_len = int(rules["fuzzy_min_len"])
    for mode in ("word", "prefix"):
        for key, infos in by_mode[mode].items():
            if len(key) >= min_len and key.isalpha() and any(i.group.kind in ("document", "venue", "appointment")
                                                             for i in infos):
                fuzzy.setdefault(key, []).extend(i for i in infos if i.group.kind in
                                                 ("document", "venue", "appointment"))
    return Lexicon(version=_version(files), files=[f.name for f in files], rules=rules, groups=groups,
                   lookup=by_mode, pattern=pattern, scan_pattern=scan_pattern, scan_kinds=scan_kinds,
                   scan_pattern_bmp=scan_pattern_bmp,
                   infix_pattern=infix_pattern,
                   hashtag_pattern=hashtag_pattern, fuzzy_terms=fuzzy, fuzzy_keys=list(fuzzy),
                   warnings=warnings, n_terms=n_terms,
                   scan_terms=(tuple(sorted(spaced["word"])), tuple(sorted(spaced["prefix"]))),
                   scan_automaton=automaton, scan_infix_automaton=infix_automaton, infix_terms=tuple(sorted(spaced["infix"])))


@lru_cache(maxsize=4)
def _cached(directory: str, stamp: tuple) -> Lexicon:
    return compile_lexicon(Path(directory))


def load_lexicon(directory: Path | str | None = None) -> Lexicon:
    """The compiled lexicon for ``directory`` (default: the shipped one), cached.

    The cache key includes the files' names, sizes and modification times, so an
    edited lexicon is recompiled on the next call.
    """
    d = Path(directory) if directory else LEXICON_DIR
    files = _source_files(d)
    stamp = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _cached(str(d.resolve()), stamp)


def check_lexicon(directory: Path | str | None = None) -> dict:
    """Validate the lexicons and summarise them (for ``veille lexicon check``)."""
    lex = compile_lexicon(Path(directory) if directory else LEXICON_DIR)
    langs: dict[str, int] = {}
    for mode in lex.lookup.values():
        for infos in mode.values():
            for i in infos:
                langs[i.group.lang] = langs.get(i.group.lang, 0) + 1
    return {"version": lex.version, "files": lex.files, "terms": lex.n_terms, "groups": len(lex.groups),
            "terms_by_lang": dict(sorted(langs.items())), "warnings": lex.warnings}
