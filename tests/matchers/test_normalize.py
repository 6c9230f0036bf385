"""Normalisation: every obfuscation is undone, spans map back to the original, linear time."""

from __future__ import annotations

import random
import time

import pytest

from matchers.normalize import fold_term, normalize


@pytest.mark.parametrize(
    "raw, folded",
    [
        ("Pr3fecture", "prefecture"),
        ("p@ssport", "passport"),
        ("t!tre de s3jour", "titre de sejour"),
        ("pa$$port", "passport"),
        ("r.d.v", "rdv"),
        ("R.D.V.", "rdv."),
        ("p-a-s-s-p-o-r-t", "passport"),
        ("permis_de_conduire", "permis de conduire"),
        ("p a s s p o r t", "passport"),
        ("v🔥i🔥s🔥a", "visa"),
        ("раssроrt", "passport"),  # Cyrillic р, а, о
        ("ΡΑSSΡΟRΤ", "passport"),  # Greek capitals
        ("ｐａｓｓｐｏｒｔ", "passport"),  # full-width
        ("𝐩𝐚𝐬𝐬𝐩𝐨𝐫𝐭", "passport"),  # mathematical bold
        ("ᴘᴀssᴘᴏʀᴛ", "passport"),  # small capitals
        ("pa\u200bss\u200cpo\u200drt\ufeff", "passport"),  # zero-width
        ("PRÉFECTURE", "prefecture"),
        ("rendez-vous", "rendez-vous"),  # ASCII punctuation is kept: terms accept any separator
        ("#RDVprefecture", "#rdvprefecture"),
        ("مَوْعِد", "موعد"),  # harakat removed
        ("مـوعـد", "موعد"),  # tatweel removed
        ("أريد", "اريد"),  # hamza folded
        ("ی ک", "ي ك"),  # Persian letters unified with Arabic ones
        ("١٢٠ ۲۰۰", "120 200"),  # Arabic-Indic and Persian digits
        ("ﬁche", "fiche"),  # ligature
        ("İstanbul ılık", "istanbul ilik"),
    ],
)
def test_folding(raw, folded):
    assert normalize(raw).text == folded


def test_russian_stays_russian_and_latin_intruder_is_folded_to_cyrillic():
    assert normalize("Паспорт купить").text == "паспорт купить"
    assert normalize("пaспорт").text == "паспорт"  # Latin "a" inside a Russian word


def test_leetspeak_leaves_numbers_alone():
    n = normalize("RDV 24h/24, 180€, tel 06 39 98 00 12, 3eme etage, covid19")
    assert "24h/24" in n.text
    assert "180€" in n.text
    assert "06 39 98 00 12" in n.text
    assert "3eme" in n.text
    assert "covid19" in n.text


def _span_of(n, needle):
    i = n.text.index(needle)
    return n.to_original(i, i + len(needle))


@pytest.mark.parametrize(
    "raw, needle, written",
    [
        ("vente p a s s p o r t ici", "passport", "p a s s p o r t"),
        ("xx pa\u200bss\u200cport yy", "passport", "pa\u200bss\u200cport"),
        ("un r.d.v à la pr3fecture", "prefecture", "pr3fecture"),
        ("un r.d.v à la pr3fecture", "rdv", "r.d.v"),
        ("ﬁ ﬁ passeport", "passeport", "passeport"),
        ("\u200b\u200b\u200bvisa dispo", "visa", "visa"),
        ("ok v🔥i🔥s🔥a ok", "visa", "v🔥i🔥s🔥a"),
        ("مـوعـد الفيزا", "موعد", "مـوعـد"),
        ("𝐩𝐚𝐬𝐬𝐩𝐨𝐫𝐭 dispo", "dispo", "dispo"),
    ],
)
def test_spans_map_back_to_what_was_written(raw, needle, written):
    n = normalize(raw)
    a, b = _span_of(n, needle)
    assert raw[a:b] == written


def test_spans_random_insertions_round_trip():
    rnd = random.Random(7)
    junk = ["\u200b", "\ufe0f", "\u0640", "\u00ad", "ﬁ", "½"]
    for _ in range(300):
        words = ["rdv", "prefecture", "dispo", "passport", "60", "euros"]
        pieces = []
        for w in words:
            chars = list(w)
            for _k in range(rnd.randint(0, 3)):
                chars.insert(rnd.randint(0, len(chars)), rnd.choice(junk))
            pieces.append("".join(chars))
        raw = " ".join(pieces)
        n = normalize(raw)
        for w in ("prefecture", "passport"):
            if w in n.text:
                a, b = _span_of(n, w)
                assert 0 <= a < b <= len(raw)
                assert normalize(raw[a:b]).text.replace(" ", "") .startswith(w[:3])


def test_identity_for_plain_ascii():
    n = normalize("RDV prefecture dispo 50 EUR")
    assert n.identity
    assert n.to_original(4, 14) == (4, 14)


def test_fold_term_collapses_separators():
    assert fold_term("  Rendez-vous   Préfecture ") == "rendez vous prefecture"
    assert fold_term("Carte d’identité") == "carte d identite"
    assert fold_term("100%") == "100%"


@pytest.mark.parametrize(
    "unit",
    ["a", " ", ".", "a ", "a.", "1 ", "é", "\u200b", "🔥", "p@", "ab", "#", "\udcff", "ﬁ", "а", "aа"],
)
def test_adversarial_100k_repetitions_are_fast(unit):
    text = unit * (100_000 // len(unit))
    t0 = time.perf_counter()
    n = normalize(text)
    n.to_original(0, len(n.text))
    assert time.perf_counter() - t0 < 3.0


def test_rejects_non_str():
    with pytest.raises(TypeError):
        normalize(b"bytes")  # type: ignore[arg-type]


def test_cheap_hints_never_hide_a_real_match():
    """The fast pre-checks must be necessary conditions of the passes they guard."""
    import matchers.normalize as N

    rnd = random.Random(11)
    alpha = "ab .-*#1é€а£$_/~p3@"
    for _ in range(20_000):
        s = "".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 12)))
        t = N._ALL_RUNS.sub(lambda m: m.group().translate(N._TABLE), s).lower()
        if N._JOINABLE.search(t):
            assert N._JOIN_HINT.search(" " + t + " "), s
        if N._LEET_RE.search(t):
            assert N._LEET_HINT.search(t), s
    assert normalize("aа").text in ("aa", "аа")


def test_byte_class_hints_are_the_regex_hints():
    """The leetspeak hint on UTF-8 byte classes is exactly _LEET_HINT; the mixed-script hint never
    misses a Latin letter touching a Cyrillic or Greek one."""
    import matchers.normalize as N

    rnd = random.Random(12)
    alpha = "ab pz3@$!|0_.-éаοрωжԁ\u0261\u04cf\u0585ا€😀\u200b\ud800ß"
    cg = [chr(cp) for cp in range(0x80, 0x10000) if N._CYR_GREEK.match(chr(cp))]
    for _ in range(20_000):
        t = "".join(rnd.choice(alpha) if rnd.random() < 0.8 else rnd.choice(cg) for _ in range(rnd.randint(1, 10)))
        classes = N._byte_classes(t)
        assert N._leet_hint(classes) == (N._LEET_HINT.search(t) is not None), t
        if N._MIXED_PAIR.search(t):
            assert N._may_mix_scripts(classes), t
        if not N._may_mix_scripts(classes):
            assert N._fold_homoglyph_words(t) == t


@pytest.mark.parametrize("page", ["cp1252", "cp1254", "cp1251", "arabic"])
def test_single_byte_fast_paths_agree_with_the_general_path(monkeypatch, page):
    import matchers.normalize as N

    rnd = random.Random(9)
    pool = [c for c in N._PAGES[page].decoding[32:] if c != "\ufffe"]
    pool += list("abcrdv pref 3@$!.")
    for _ in range(3000):
        s = "".join(rnd.choice(pool) for _ in range(rnd.randint(1, 20)))
        monkeypatch.setattr(N, "_FAST_WESTERN", True)
        a = N.normalize(s)
        monkeypatch.setattr(N, "_FAST_WESTERN", False)
        b = N.normalize(s)
        assert (a.text, a.joined) == (b.text, b.joined), s
        for i in range(0, len(a.text) + 1, 2):
            assert a.to_original(i, len(a.text)) == b.to_original(i, len(b.text)), s


def test_fast_paths_are_taken_for_each_script_and_keep_deletions_mapped():
    import matchers.normalize as N

    assert N._fold_fast("Продам запись в визовый центр") is not None
    assert N._fold_fast("نوبت سفارت فرانسه فوری، قیمت ۱۵ میلیون تومان") is not None
    assert N._fold_fast("Hızlı vize randevusu İstanbul") is not None
    assert N._fold_fast("rdv 😀") is None  # emoji: general path
    # Persian zero-width non-joiner and Arabic harakat are deleted; spans still map back
    text = "می\u200cخواهم مَوْعِد"
    n = normalize(text)
    assert "\u200c" not in n.text and n.text.endswith("موعد")
    a, b = n.to_original(n.text.index("موعد"), len(n.text))
    assert text[a:b] == "مَوْعِد"
    # Cyrillic look-alikes inside a Latin word are still folded on the fast path
    assert normalize("раssроrt à vendre").text.startswith("passport")


def test_numpy_table_path_agrees_with_the_general_path(monkeypatch):
    import matchers.normalize as N

    rnd = random.Random(5)
    pool = list("abcrdv pref 3@$!._-") + list("préfecture Продам запись موعد الفيزا نوبت سفارت ی ک ۱۵ ٣ İıĞş")
    pool += ["\u200b", "\u200c", "\u00ad", "\u0640", "\u064e", "\ufe0f", "😀", "🔥", "Σ", "ς", "α", "Ａ", "ｂ",
             "𝐀", "ß", "œ", "ﬁ", "①", "\u2019", "«", "\U000e0041"]
    monkeypatch.setattr(N, "_FAST_WESTERN", False)
    taken = 0
    for _ in range(4000):
        s = "".join(rnd.choice(pool) for _ in range(rnd.randint(1, 24)))
        taken += N._fold_numpy(s) is not None
        monkeypatch.setattr(N, "_FAST_NUMPY", True)
        a = N.normalize(s)
        monkeypatch.setattr(N, "_FAST_NUMPY", False)
        b = N.normalize(s)
        assert (a.text, a.joined) == (b.text, b.joined), s
        for i in range(0, len(a.text) + 1):
            assert a.to_original(i, len(a.text)) == b.to_original(i, len(b.text)), s
            assert a.to_original(0, i) == b.to_original(0, i), s
    assert taken > 1000  # the table path was really exercised


def test_page_byte_kinds_are_the_page_regexes():
    import matchers.normalize as N

    for page in N._PAGES.values():
        for v in range(256):
            b = bytes([v])
            k = b.translate(page.kinds)
            assert (k == b"s") == (page.slow is not None and page.slow.search(b) is not None), (page.name, v)
            assert (k == b"d") == (page.delete_re is not None and page.delete_re.search(b) is not None), (page.name, v)


def test_normalized_classes_hold_the_text_scripts():
    # Normalized.classes is read before the leetspeak and joining passes, which change ASCII characters only
    import matchers.normalize as N

    for s in ["p4ssp0rt à vendre", "r d v p r e f 50€", "раssроrt fаkе", "موعد ٣ 𝟓𝟎 €", "plain", "t!tre 3eme",
              "пaспорт", "\u200brdv\u200b", "x\ud800y"]:
        n = normalize(s)
        final = N.byte_classes(n.text)
        for k in b"AGEFNc":
            assert (k in n.classes) == (k in final), (s, chr(k))
        for k in b"D9":
            assert k in n.classes or k not in final, (s, chr(k))


def test_join_check_holds_wherever_the_join_hint_matches():
    # _may_join is a necessary condition for _JOIN_HINT (and _JOIN_HINT_BMP): normalize skips the hint when
    # it is false. Every code point in each position of the hint, then random texts of a mixed alphabet.
    import random

    import matchers.normalize as N

    def check(t):
        for hint in (N._JOIN_HINT, N._JOIN_HINT_BMP):
            if hint.search(" " + t + " ") is not None:
                assert N._may_join(t), (t, hint.pattern[:20])

    cps = list(range(0, 0xD800)) + list(range(0xD800, 0x10000, 7)) + list(range(0x10000, 0x110000, 97))
    for cp in cps:
        c = chr(cp)
        for t in (c + "a b ", "1" + c + " b ", "#a" + c + "b-", "x a" + c, c + "a" + c + "b" + c, "a b" + c, c + "b c"):
            check(t)
    rnd = random.Random(5)
    alphabet = list("abcxyz .*~/-_,;:!?#@$%+1234567890\t\n") + ["é", "à", "€", "£", "¢", "₹", "؋", "﷼", "＄", "д",
                                                                 "в", "و", "ب", "ی", "α", "😀", "𝐚", "\u200b", "\ud800",
                                                                 "\u0301", "ا", "ß", "ﬁ", "Ⓐ", "A", "Z"]
    for _ in range(20000):
        check("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 14))))


def test_leet_pattern_is_the_look_behind_led_one():
    # _LEET_RE is led by its character class; its matches are those of the plain look-behind-led pattern
    import random
    import re

    import matchers.normalize as N

    plain = re.compile(r"(?<=[a-z])[0134578@$!|]+(?=[a-z])")
    rnd = random.Random(3)
    alpha = "ab z01345782@$!|. -é"
    for _ in range(30_000):
        t = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 12)))
        assert [m.span() for m in N._LEET_RE.finditer(t)] == [m.span() for m in plain.finditer(t)], t
        for pos in range(len(t) + 1):
            assert [m.span() for m in N._LEET_RE.finditer(t, pos)] == [m.span() for m in plain.finditer(t, pos)]
