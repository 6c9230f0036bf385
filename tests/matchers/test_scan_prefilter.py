"""The main term pass and the infix pass tried only at the automaton's candidate positions
(``classify._scan_matches``, ``classify._infix_matches``) find exactly what ``finditer`` finds
(``classify._scan_matches_reference``, ``infix_pattern.finditer``)."""

import json
import random
import re
import time
from pathlib import Path

import pytest

from matchers import lexicon as lexmod
from matchers.classify import _collect, _infix_matches, _scan_matches, _scan_matches_reference, get_lexicon
from matchers.lexicon import scan_keys, separators_to_spaces
from matchers.normalize import bmp_only, byte_classes, normalize

CORPUS = Path(__file__).resolve().parents[2] / "matchers" / "corpus" / "veille-corpus.jsonl"
_SEP = re.compile(r"[\W_]")


def _spans(ms) -> list:
    return [(m.span(), m.lastindex, m.group()) for m in ms]


def _patterns(lex, t: str) -> list:
    """The pattern the pass uses on ``t`` and the widest BMP one (every first character)."""
    return [lex.scan_for(t)[0], lex.scan_pattern_bmp]


def _check(lex, t: str) -> None:
    st = " " + t
    for scan in _patterns(lex, t):
        assert _spans(_scan_matches(lex, scan, st)) == _spans(_scan_matches_reference(scan, st)), repr(t[:300])
    assert _spans(_infix_matches(lex, t)) == _spans(lex.infix_pattern.finditer(t)), repr(t[:300])


def _corpus_texts() -> list[str]:
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _adversarial(n: int, seed: int) -> list[str]:
    """Lexicon terms (their spaces as random separator runs, or none), plural endings, glued and
    overlapping terms, digits, Arabic and Cyrillic words, hashtags, at the start and end of texts."""
    rnd = random.Random(seed)
    lex = get_lexicon()
    words, prefixes = lex.scan_terms
    terms = list(words) + list(prefixes) + list(lex.infix_terms) * 3
    runs = ["", " ", "  ", "_", "__", "-", " - ", ".", "'", ", ", "\n", "\u00a0", "«", "€", "%", " _ ", "   ", "#",
            "/", "$", "\u200b", "\ud800"]
    fillers = ["x", "a", "de", "le", "the", "s", "es", "x1", "12", "1 500", "موعد", "بال", "паспорт", "запись",
               "é", "ı", "ß", "ω", "_", "__init", "100%", "only $", "9", "ab_cd", "rdv_", "#rdv", "@", "w"]

    def term() -> str:
        t = rnd.choice(terms)
        if rnd.random() < 0.6:
            t = "".join(rnd.choice(runs) if c == " " else c for c in t)
        if rnd.random() < 0.3:
            t += rnd.choice(["s", "es", "x", "a", "_", "1", "é", "ы"])
        if rnd.random() < 0.15:
            t = rnd.choice(["x", "_", "1", "é", "#", "ال", "не"]) + t
        if rnd.random() < 0.15:  # a term whose end starts another term
            u = rnd.choice(terms)
            t = t + u[rnd.randint(0, max(0, len(u) - 1)):] if rnd.random() < 0.5 else t[:-1] + u
        return t

    out = []
    for _ in range(n):
        parts = [term() if rnd.random() < 0.55 else rnd.choice(fillers) for _ in range(rnd.randint(1, 16))]
        text = "".join(p + rnd.choice(runs) for p in parts)
        if rnd.random() < 0.3:
            text = text.rstrip(" ")
        out.append(text)
    return out


def test_the_automaton_is_built():
    # without pyahocorasick the pass falls back to finditer and the other tests compare it with itself
    lex = get_lexicon()
    assert lex.scan_automaton is not None and lex.scan_infix_automaton is not None and len(lex.infix_terms) > 100
    assert lex.scan_starts(" rdv") == ([0], None)
    assert lex.scan_starts(" rdv", infix=True) == ([0], [])
    assert lex.scan_starts(" بالموعد rdv") == ([8], None)
    assert lex.scan_starts(" بالموعد rdv", True) == ([8], [3])  # the infix pass runs on the text without the space


def test_separators_to_spaces_on_every_bmp_code_point():
    chars = [chr(cp) for cp in range(0x10000)]
    want = "".join(" " if _SEP.match(c) else c for c in chars)
    assert separators_to_spaces("".join(chars)) == want  # the numpy path
    latin = "".join(chars[:256])
    assert separators_to_spaces(latin) == want[:256]
    assert separators_to_spaces(latin[:128]) == want[:128]  # the ASCII path
    for c, w in zip(chars[:0x3000], want[:0x3000], strict=True):  # one character at a time: each path on its own
        assert separators_to_spaces(c) == w


def test_separators_to_spaces_keeps_lengths():
    rnd = random.Random(3)
    alphabet = "ab_ -.,'é€«\u00a0\u200bмوыα\ud800\udfff1٣"
    for _ in range(2000):
        s = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        assert separators_to_spaces(s) == "".join(" " if _SEP.match(c) else c for c in s)


def test_every_realisation_of_a_term_starts_with_a_key():
    lex = get_lexicon()
    words, prefixes = lex.scan_terms
    keys = scan_keys(list(words) + list(prefixes))
    assert all(not b.startswith(a) for a, b in zip(keys, keys[1:], strict=False))  # prefix-free
    keyset = set(keys)
    rnd = random.Random(11)
    for t in list(words) + list(prefixes):
        for _ in range(4):
            runs = "".join(rnd.choice(" _-.'\u00a0") for _ in range(rnd.choice([0, 0, 1, 2, 3, 4, 7])))
            real = rnd.choice(" -(#\n") + "".join(runs if c == " " else c for c in t)
            mapped = separators_to_spaces(real)
            assert any(mapped[:i] in keyset for i in range(1, len(mapped) + 1)), (t, real)


def test_infix_keys_have_no_leading_space():
    assert scan_keys(["موعد", "ab cd"], length=6, runs=1, lead="") == sorted(["موعد", "abcd", "ab cd", "ab  "])
    a = lexmod.build_scan_automaton(["rdv"], ["موعد"])
    assert a.get("موعد") == 3 + lexmod._INFIX_SHIFT and a.get(" rdv") == 3
    assert lexmod.build_scan_automaton(["rdv"]).get("موعد", None) is None
    # an infix term led by a separator would have keys that could be the main pass's: no infix automaton
    assert lexmod.build_scan_automaton(["rdv"], ["-موعد"]) is None


def test_every_realisation_of_an_infix_term_starts_with_a_key():
    lex = get_lexicon()
    keyset = set(scan_keys(lex.infix_terms, lead=""))
    rnd = random.Random(12)
    for t in lex.infix_terms:
        for _ in range(4):
            runs = "".join(rnd.choice(" _-.'\u00a0") for _ in range(rnd.choice([0, 0, 1, 2, 3, 4, 7])))
            mapped = separators_to_spaces("".join(runs if c == " " else c for c in t))
            assert any(mapped[:i] in keyset for i in range(1, len(mapped) + 1)), t


def test_scan_keys_cut_and_runs():
    keys = scan_keys(["a vendre", "rdv", "100% legal"], length=6, runs=1)
    assert keys == sorted(keys)
    # " a" then a run of 0 or 1 separators spelled out, or two spaces (a longer run); "100%" mapped
    assert set(keys) == {" avend", " a ven", " a  ", " rdv", " 100 l", " 100  "}


def test_same_matches_on_the_corpus():
    lex = get_lexicon()
    for text in _corpus_texts():
        t = normalize(text).text
        if bmp_only(t):
            _check(lex, t)
        if bmp_only(text):
            _check(lex, text)  # not folded: capitals, accents, punctuation


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_matches_on_generated_texts(seed):
    lex = get_lexicon()
    for text in _adversarial(1500, seed):
        if bmp_only(text):
            _check(lex, text)
        t = normalize(text).text
        if bmp_only(t):
            _check(lex, t)


def test_same_matches_on_edge_cases():
    lex = get_lexicon()
    for t in ["", " ", "_", "a", "rdv", " rdv ", "rdv_", "_rdv", "rdvs", "rdvx", "#rdv", "rdv rdv", "rdvrdv",
              "a vendre", "a  vendre", "a   vendre", "a    vendre", "a_vendre", "avendre", "a\u00a0vendre",
              "100%", "100 %", "100% legal", "100%legal", "only $", "passport" * 3, "...", "\n\n", "\ud800rdv",
              "rendez-vous", "rendez_-_vous", "100%rdv", "100%%rdv", "100% rdv", "only $rdv", "only $$ rdv", "100%100%", "RDV", "موعد", "запись", "ال موعد", "rdv" + "_" * 50 + "prefecture"]:
        _check(lex, t)


def test_same_matches_on_overlapping_terms():
    # a term whose last words start another term ("7 7 7", "... de rendez vous" …): finditer resumes after
    # the first match, so a candidate inside it must be skipped
    lex = get_lexicon()
    words, prefixes = lex.scan_terms
    terms = list(words) + list(prefixes)
    by_first: dict[str, list[str]] = {}
    for t in terms:
        by_first.setdefault(t.split(" ")[0], []).append(t)
    rnd = random.Random(5)
    n = 0
    for a in terms:
        parts = a.split(" ")
        for k in range(1, len(parts)):
            tail = " ".join(parts[k:])
            for b in by_first.get(parts[k], [])[:3]:
                for sep in (" ", "-", "_", ""):
                    t = a + sep + b[len(tail):] if b.startswith(tail) else a.rsplit(" ", len(parts) - k)[0] + " " + b
                    _check(lex, t + rnd.choice(["", " x", "s", "_"]))
                    n += 1
    assert n > 500
    for t in ["7 7 7 7", "7 7 7", "7 7 7 7 7", "7 77 7"]:
        _check(lex, t)


def test_collect_gives_the_same_hits(monkeypatch):
    lex = get_lexicon()
    texts = _corpus_texts()[::3] + _adversarial(300, 7)
    norms = [normalize(x) for x in texts]
    new = [_collect(lex, n.text, n.joined) for n in norms]
    monkeypatch.setattr(lex, "scan_automaton", None)  # both passes with finditer, as before
    old = [_collect(lex, n.text, n.joined) for n in norms]
    key = [[(h.info.term, h.info.group.rule, h.start, h.end) for h in hs] for hs in old]
    assert [[(h.info.term, h.info.group.rule, h.start, h.end) for h in hs] for hs in new] == key
    assert sum(map(len, key)) > 1000
    infix = {i.term for hs in old for h in hs for i in [h.info] if i.group.lang in ("ar", "fa")}
    assert len(infix) > 30


@pytest.mark.parametrize("unit", ["a", " ", "a ", "_", "de ", "a  ", "rdv ", "rdv_", "a\u00a0", "موعد ", "موعدموعد", "بال", "п ", "é ",
                                  "rendez vous ", "#rdv"])
def test_linear_time(unit):
    lex = get_lexicon()
    t = unit * (100_000 // len(unit))
    st = " " + t
    scan = lex.scan_for(t, byte_classes(t))[0]
    t0 = time.process_time()
    got = _scan_matches(lex, scan, st)
    assert time.process_time() - t0 < 5
    assert _spans(got) == _spans(_scan_matches_reference(scan, st))
    t0 = time.process_time()
    got = _infix_matches(lex, t)
    assert time.process_time() - t0 < 5
    assert _spans(got) == _spans(lex.infix_pattern.finditer(t))


def test_without_the_automaton_the_pass_is_finditer(monkeypatch):
    lex = get_lexicon()
    monkeypatch.setattr(lex, "scan_automaton", None)
    t = "vends rdv prefecture, rendez-vous 50 euros"
    scan = lex.scan_for(t)[0]
    assert lex.scan_starts(" " + t) is None
    assert _spans(_scan_matches(lex, scan, " " + t)) == _spans(_scan_matches_reference(scan, " " + t))
    t = "موعد السفارة بالموعد"
    assert _spans(_infix_matches(lex, t)) == _spans(lex.infix_pattern.finditer(t)) != []
