"""Lexicon files: validation with clear errors, versioning, adding a term without touching code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from matchers.classify import classify, get_lexicon, reload_lexicon
from matchers.lexicon import LEXICON_DIR, LexiconError, check_lexicon, compile_lexicon

LANGS = {"fr", "en", "es", "ar", "tr", "fa", "ru"}


def test_shipped_lexicon_is_valid_and_clean():
    rep = check_lexicon()
    assert rep["warnings"] == []
    assert LANGS <= set(rep["terms_by_lang"])
    assert rep["terms"] > 1500
    assert rep["version"].startswith("lex-")


def test_every_language_has_topics_offers_and_hard_negatives():
    lex = get_lexicon()
    kinds: dict[str, set[str]] = {}
    for g in lex.groups:
        kinds.setdefault(g.lang, set()).add(g.kind)
    for lang in LANGS:
        assert {"appointment", "venue", "document", "forgery", "offer", "negative"} <= kinds[lang], lang


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "lex"
    shutil.copytree(LEXICON_DIR, d)
    return d


def test_version_is_a_hash_of_the_files(tmp_path):
    d = _copy(tmp_path)
    v1 = compile_lexicon(d).version
    assert v1 == compile_lexicon(LEXICON_DIR).version
    (d / "fr.toml").write_text((d / "fr.toml").read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert compile_lexicon(d).version != v1


def test_ngo_staff_can_add_a_term(tmp_path):
    d = _copy(tmp_path)
    text = "Kupa ya miadi ya ubalozi inapatikana, 50€"  # a made-up phrase no lexicon knows
    try:
        reload_lexicon(d)
        assert classify(text).category == "none"
        (d / "sw.toml").write_text(
            '[meta]\nlang = "sw"\n\n[appointment.noun]\nterms = ["miadi"]\n\n'
            '[venue.visa_center]\nterms = ["ubalozi"]\n\n[offer.availability]\nterms = ["inapatikana"]\n',
            encoding="utf-8")
        reload_lexicon(d)
        v = classify(text)
        assert v.category == "appointment_resale" and v.subtype == "visa_center"
        assert any(r.rule == "sw.appointment.noun" and text[r.start:r.end] == "miadi" for r in v.reasons)
    finally:
        reload_lexicon()
    assert classify(text).category == "none"


@pytest.mark.parametrize(
    "content, message",
    [
        ("[meta]\nlang = \"xx\"\n[appointment.noun\nterms = [\"a\"]\n", "xx.toml"),
        ("[meta]\nlang = \"xx\"\n[bogus.noun]\nterms = [\"abc\"]\n", "unknown table [bogus]"),
        ("[meta]\nlang = \"xx\"\n[venue.moon]\nterms = [\"abc\"]\n", "venue group"),
        ("[meta]\nlang = \"xx\"\n[document.moon]\nterms = [\"abc\"]\n", "document group"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nweight = 0\nterms = [\"abc\"]\n", "weight"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nweight = \"high\"\nterms = [\"abc\"]\n", "weight"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nterms = []\n", "non-empty list"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nterms = [\"!\"]\n", "too short"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nterms = [\"abc\"]\ncolour = 1\n", "unknown key"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nmatch = \"regex\"\nterms = [\"abc\"]\n", "match must be"),
        ("[meta]\nlang = \"xx\"\n[offer.x]\nimplies = [\"moon\"]\nterms = [\"abc\"]\n", "implies"),
        ("[offer.x]\nterms = [\"abc\"]\n", "[meta]"),
        ("[meta]\nlang = \"fr\"\n[offer.x]\nterms = [\"abc\"]\n", "already defined"),
    ],
)
def test_bad_files_are_refused_with_the_file_named(tmp_path, content, message):
    d = _copy(tmp_path)
    (d / "xx.toml").write_bytes(content.encode())
    with pytest.raises(LexiconError) as exc:
        compile_lexicon(d)
    assert message in str(exc.value)
    assert "xx.toml" in str(exc.value)


def test_missing_rules_file_is_refused(tmp_path):
    d = _copy(tmp_path)
    (d / "rules.toml").unlink()
    with pytest.raises(LexiconError, match="rules.toml"):
        compile_lexicon(d)


def test_bad_rules_value_is_refused(tmp_path):
    d = _copy(tmp_path)
    (d / "rules.toml").write_text("[rules]\noffer_min = \"one\"\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="offer_min"):
        compile_lexicon(d)


def test_bad_purpose_words_are_refused(tmp_path):
    d = _copy(tmp_path)
    text = (d / "rules.toml").read_text(encoding="utf-8").replace("purpose_words = [", "purpose_words = [3, ")
    (d / "rules.toml").write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError, match="purpose_words"):
        compile_lexicon(d)


def test_invalid_utf8_file_is_refused(tmp_path):
    d = _copy(tmp_path)
    (d / "xx.toml").write_bytes(b"[meta]\nlang = \"\xff\xfe\"\n")
    with pytest.raises(LexiconError, match="xx.toml"):
        compile_lexicon(d)


def test_scan_pattern_finds_what_the_lookbehind_pattern_finds():
    """The main pass matches the separator before a term instead of looking behind for it (faster):
    same matches on the corpus and on random texts made of lexicon words and separators."""
    import json
    import random

    from matchers.normalize import normalize

    lex = get_lexicon()
    corpus = Path(__file__).resolve().parents[2] / "matchers" / "corpus" / "veille-corpus.jsonl"
    texts = [normalize(json.loads(line)["text"]).text for line in corpus.read_text(encoding="utf-8").splitlines()]
    rnd = random.Random(3)
    words = [k for mode in ("word", "prefix") for k in list(lex.lookup[mode])[::7]] + ["x", "bon", "es", "s"]
    seps = [" ", "  ", ".", ", ", "-", "'", "\n", "#", "(", ")", ""]
    for _ in range(3000):
        texts.append("".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 12))))

    def old(t):
        return [(m.start(), m.end(), m.group(1), m.group(2)) for m in lex.pattern.finditer(t)]

    def new(t):
        out = []
        for m in lex.scan_pattern.finditer(" " + t):
            mode, term = lex.scan_term(m)
            out.append((m.start(), m.end() - 1, term if mode == "word" else None, term if mode == "prefix" else None))
        return out

    for t in texts:
        assert new(t) == old(t), t
