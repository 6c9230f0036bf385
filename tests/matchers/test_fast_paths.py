"""The classifier's faster code paths give exactly what the general ones give."""

import json
import random
import re
from pathlib import Path

import pytest

from matchers.classify import _PRICE_RE_BMP, PRICE_RE, find_prices, get_lexicon
from matchers.normalize import DIGIT_BMP, LETTER_BMP, NON_WORD_BMP, bmp_only, normalize

CORPUS = Path(__file__).resolve().parents[2] / "matchers" / "corpus" / "veille-corpus.jsonl"


def _texts() -> list[str]:
    texts = [normalize(json.loads(line)["text"]).text for line in CORPUS.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    rnd = random.Random(5)
    lex = get_lexicon()
    words = [k for mode in ("word", "prefix") for k in list(lex.lookup[mode])[::5]]
    words += ["x", "bon", "es", "s", "12", "1 500", "€", "euros", "dh", "٣", "ß", "_", "é", "ı", "ω"]
    seps = [" ", "  ", ".", ", ", "-", "'", "\n", "#", "(", ")", "", "\u00a0", "«", "€", "$", "5", "_"]
    for _ in range(3000):
        texts.append("".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 14))))
    return texts


@pytest.mark.parametrize("name,bmp_class,general", [("non-word", NON_WORD_BMP, r"[^\w]"), ("digit", DIGIT_BMP, r"\d"),
                                                     ("letter", LETTER_BMP, r"[^\W\d_]")])
def test_bmp_classes_are_the_general_classes_on_the_bmp(name, bmp_class, general):
    a, b = re.compile("[" + bmp_class + "]"), re.compile(general)
    diff = [cp for cp in range(0x10000) if (a.match(chr(cp)) is None) != (b.match(chr(cp)) is None)]
    assert diff == []


def test_bmp_only():
    assert bmp_only("") and bmp_only("abc") and bmp_only("préfecture موعد паспорт \uffff")
    assert bmp_only("\ud800 lone surrogate")
    assert not bmp_only("rdv 😀") and not bmp_only("𝟓𝟎 €")


def test_scan_pattern_bmp_finds_what_scan_pattern_finds():
    lex = get_lexicon()
    for t in _texts():
        assert bmp_only(t)
        old = [(m.span(), m.lastindex) for m in lex.scan_pattern.finditer(" " + t)]
        new = [(m.span(), m.lastindex) for m in lex.scan_pattern_bmp.finditer(" " + t)]
        assert new == old, t


def test_prices_bmp_path_finds_what_the_general_path_finds():
    for t in _texts():
        assert [m.span() for m in _PRICE_RE_BMP.finditer(t)] == [m.span() for m in PRICE_RE.finditer(t)], t
        assert find_prices(t, True) == find_prices(t, False)


def test_texts_beyond_the_bmp_use_the_general_classes():
    # mathematical bold digits are digits for \d; Deseret letters are word characters for \w
    t = normalize("𝟓𝟎 € pour un rdv 𐐀𐐁 préfecture").text
    assert not bmp_only(t)
    assert find_prices(t) == [m.span() for m in PRICE_RE.finditer(t)]
    lex = get_lexicon()
    assert [m.span() for m in lex.scan_pattern.finditer(" 𐐀rdv")] == []  # no separator before "rdv"


def test_places_script_test_finds_each_script():
    from matchers.places import _ARABIC, _CYRILLIC, _scripts

    samples = ["", "abc", "préfecture", "консульство", "قنصلية", "консульство قنصلية", "قنصلية консульство",
               "x ж y", "x ق y", "ж" * 3 + "ق", "ق" + "ж", "ѐ\u04ff\u0600\u06ff", "\u0500\u0700"]
    rnd = random.Random(13)
    pool = ["a", " ", "é", "\u03ff", "\u0400", "\u04ff", "\u0500", "\u05ff", "\u0600", "\u06ff", "\u0700", "\u0d00",
            "\ud800", "😀", "\uffff", "\u0430", "\u0645"]
    samples += ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 6))) for _ in range(3000)]
    for t in samples:
        assert _scripts(t) == (_CYRILLIC.search(t) is not None, _ARABIC.search(t) is not None), t


def test_fold_digits_beyond_the_bmp():
    from matchers.extract import fold_digits

    assert fold_digits("tel 𝟎𝟔 39 98 00 12") == "tel 06 39 98 00 12"
    assert fold_digits("tel ٠٦ 39 98 00 12 😀") == "tel 06 39 98 00 12 😀"
    assert fold_digits("rdv 😀 préfecture") == "rdv 😀 préfecture"


def test_social_labels_without_an_anchor_character_find_nothing_and_with_one_find_the_handle():
    from matchers.extract import extract

    assert [e.kind for e in extract("contact snap rdv_paris75 dispo")] in ([], ["snapchat"])
    assert ("snapchat", "rdv_paris75") in [(e.kind, e.value) for e in extract("snap: rdv_paris75 dispo")]
    assert ("snapchat", "rdv_paris75") in [(e.kind, e.value) for e in extract("👻 rdv_paris75 dispo")]


def test_joined_letters_bmp_patterns_match_like_the_general_ones():
    from matchers import normalize as N

    rnd = random.Random(11)
    letters = list("abcdrvpsxé") + ["ж", "ق", "ß", "ı", "ω"]
    others = [" ", "  ", "   ", "    ", ".", ". ", "*", "~", "/", "-", " - ", "5", "_", "€", ",", "'", "\n", ""]
    texts = _texts()[:400]
    for _ in range(6000):
        texts.append("".join(rnd.choice(letters) * rnd.choice((1, 1, 1, 2)) + rnd.choice(others)
                             for _ in range(rnd.randint(1, 16))))
    for t in texts:
        assert [m.span() for m in N._JOINABLE_BMP.finditer(t)] == [m.span() for m in N._JOINABLE.finditer(t)], t
        a, b = N._JOIN_HINT_BMP.search(" " + t + " "), N._JOIN_HINT.search(" " + t + " ")
        assert (a and a.span()) == (b and b.span()), t
        first = N._JOINABLE.search(t)
        if first is not None:
            assert list(m.span() for m in N._JOINABLE.finditer(t, first.start())) == \
                [m.span() for m in N._JOINABLE.finditer(t)]


def test_scan_for_finds_what_the_full_scan_pattern_finds():
    # the narrower patterns (no Cyrillic/Greek or no Arabic first characters) on texts of every script
    lex = get_lexicon()
    rnd = random.Random(11)
    pieces = ["rdv", "préfecture", "паспорт", "запись", "موعد", "جواز", "نوبت", "ωmega", "x", "€", "50", "é", "ı",
              "\u0500", "\u077f", "\ufb50", "ﻻ", "#", "-", " ", "  "]
    texts = _texts() + ["".join(rnd.choice(pieces) + rnd.choice(" .,-") for _ in range(rnd.randint(1, 12)))
                        for _ in range(3000)]
    keys = set()
    for t in texts:
        t = normalize(t).text if rnd.random() < 0.5 else t
        if not bmp_only(t):
            continue
        pattern, lookups = lex.scan_for(t)
        keys.add(id(pattern))
        # the same spans, terms and lookup tables (word or prefix) as the full pattern
        got = [(m.span(), lex.scan_term(m)[1], id(lookups[m.lastindex])) for m in pattern.finditer(" " + t)]
        full = [(m.span(), lex.scan_term(m)[1], id(lex.lookup[lex.scan_kinds[m.lastindex]]))
                for m in lex.scan_pattern_bmp.finditer(" " + t)]
        assert got == full, t
    assert len(keys) == 4  # every narrower pattern was tried (Cyrillic/Greek, Arabic: each or not)


def test_lead_classes_never_miss_a_script():
    from matchers.classify import _ARABIC_SCRIPT
    from matchers.lexicon import lead_classes
    from matchers.normalize import _CYR_GREEK

    for cp in list(range(0x80, 0xD800)) + list(range(0xE000, 0x10000)) + [0x10400, 0x1D7CE, 0x1F525]:
        c = chr(cp)
        m = lead_classes("a" + c + "b")
        if _ARABIC_SCRIPT.match(c):
            assert b"A" in m or b"E" in m, hex(cp)
        if _CYR_GREEK.match(c):
            assert b"G" in m, hex(cp)
        if c.isdecimal() and cp <= 0xFFFF:  # (beyond, the price search runs anyway)
            assert any(k in m for k in (b"D", b"9", b"N", b"A", b"E")), hex(cp)
        assert (b"F" in m) == (cp > 0xFFFF), hex(cp)
    assert b"F" not in lead_classes("x\ud800")  # a lone surrogate is in the BMP, as for bmp_only


def test_price_digit_gate_lets_every_digit_through():
    # the UTF-8 pre-check of find_prices must not hide an amount written with any of the BMP's digits
    for cp in range(0x10000):
        c = chr(cp)
        if c.isdecimal():
            t = f"rdv {c}{c} € ok"
            assert find_prices(t, True) == find_prices(t, False) != [], hex(cp)
    assert find_prices("rdv préfecture, euros", True) == []


def test_fold_digits_folds_every_character_of_its_table():
    from matchers.extract import _FOLD_RUNS, _fold_run, fold_digits

    for cp in list(range(0x80, 0xD800)) + list(range(0xE000, 0x10000)) + list(range(0x1D400, 0x1D800)) + [0x1F525]:
        t = "tel " + chr(cp) + " 06"
        assert fold_digits(t) == _FOLD_RUNS.sub(_fold_run, t), hex(cp)
    assert fold_digits("x\ud800 ٣") == "x\ud800 3"


def test_extract_state_folds_like_fold_digits():
    # _State skips fold_digits when no lead byte of its table occurs: never for a character it folds
    from matchers.extract import _NUM_START_BYTES, _State, fold_digits

    for cp in list(range(0x80, 0xD800)) + list(range(0xE000, 0x10000)) + list(range(0x1D400, 0x1D800)) + [0x1F525]:
        t = "tel " + chr(cp) + " é06"
        st = _State(t)
        assert st.ft == fold_digits(t), hex(cp)
        if st.ft is t:  # the byte classes _numbers reads instead of encoding again
            assert (b"D" in st.classes) == (b"D" in t.encode("utf-8", "surrogatepass").translate(_NUM_START_BYTES))
    for t in ("x\ud800 ٣", "rdv préfecture", "prix 50€ + frais", "tél ０６ 39"):
        assert _State(t).ft == fold_digits(t)
    assert _State("rdv préfecture").ft == "rdv préfecture"
    assert _State("tel ٠٦ 39 98 00 12 😀").ft == "tel 06 39 98 00 12 😀"


def test_extract_byte_classes_never_miss_a_script_of_lt():
    # the places pass reads the scripts of lt from the byte classes of the text: folding digits and
    # lower-casing must never make a Cyrillic or Arabic-script character out of another one
    from matchers.extract import _FOLD, _has_arabic, _State
    from matchers.places import _scripts

    assert all(v.isascii() for v in _FOLD.values())
    for cp in range(0x80, 0x110000):
        t = "a " + chr(cp)
        st = _State(t)
        if st.lt.isascii():
            continue
        cyr, ara = _scripts(st.lt)
        assert (not cyr or b"C" in st.classes) and (not ara or _has_arabic(st.classes)), hex(cp)


def test_inner_matches_are_the_finditer_matches():
    from matchers.classify import _inner_matches

    lex = get_lexicon()
    for t in _texts()[::3]:
        for a in range(0, len(t), 5):
            for b in (a + 1, a + 12, len(t)):
                if a + 1 <= b <= len(t):
                    want = [(m.span(), m.groups()) for m in lex.pattern.finditer(t, a + 1, b)]
                    assert [(m.span(), m.groups()) for m in _inner_matches(lex.pattern, t, a + 1, b)] == want, t


def test_compile_scan_variants_fills_what_scan_for_uses():
    lex = get_lexicon()
    lex.compile_scan_variants()
    assert sorted(lex._scan_variants) == list(range(4))
    assert lex.scan_for("rdv 24h préfecture")[0] is lex._scan_variants[0][0]


def test_price_digit_gate_of_a_folded_text_lets_every_digit_through():
    # classify calls find_prices with folded=True: normalisation leaves no decimal digit led by the bytes of
    # the classes "A" and "E", so the gate looks for "D", "9" and "N" only
    from matchers.normalize import normalize

    for cp in range(0x10000):
        c = chr(cp)
        if c.isdecimal():
            n = normalize(f"rdv {c}{c} € ok")
            assert find_prices(n.text, True, n.classes, folded=True) == find_prices(n.text, False) != [], hex(cp)


def _hyphen_reference(lt: str) -> set:
    """What the spelled-phones pass looked up before _hyphen_words: the tokens of the text with its hyphens
    made spaces (with the text's own tokens, which it has already looked up)."""
    return set(lt.replace("-", " ").split()) | set(lt.split())


def test_hyphen_words_with_the_tokens_are_the_tokens_without_hyphens():
    from bench.classify_throughput import make_posts
    from matchers.extract import _hyphen_words, _State

    rnd = random.Random(11)
    words = ["trente", "neuf", "quatre", "vingt", "dix", "huit", "six", "sıfır", "ноль", "صفر", "x", "", "😀",
             "\u200b", "\u00a0", "rdv", "٣"]
    seps = [" ", "-", "--", " - ", "\n", "\t", "\u00a0", "\u2003", "\u200b", "", "- ", " -", "\u3000"]
    texts = ["", "-", "--", " - ", "a-", "-a", "a -b", "a- b", "\u200b" * 50, "😀" * 50, "-" * 1000,
             "trente-neuf quatre-vingt-dix-huit", "six\u00a0-\u2003trente", " \t-\n "]
    for _ in range(4000):
        texts.append("".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(0, 16))))
    texts += [_State(p).lt for p in make_posts(300, mix=True) + make_posts(300)]
    for lt in texts:
        assert set(_hyphen_words(lt)) | set(lt.split()) == _hyphen_reference(lt), repr(lt)


def test_hyphen_words_is_linear():
    import time

    from matchers.extract import _hyphen_words

    def cpu(text):
        t0 = time.process_time()
        _hyphen_words(text)
        return time.process_time() - t0

    for unit in ("-", "a-", "a - ", "x", "\u200b-", "😀-"):
        small, big = unit * 10_000, unit * 100_000
        assert set(_hyphen_words(big)) | set(big.split()) == _hyphen_reference(big)
        assert cpu(big) < 10 * max(cpu(small), 1e-3) + 0.05, unit
