"""Bad and hostile input: never a crash, never a hang; spans always index the text."""

import json
import random
import time

import pytest

from matchers.extract import MAX_CHARS, extract
from matchers.types import Entities

LIMIT_S = 1.5  # CPU seconds: "well under a second" on one core, with slack for slow CI machines


def timed(text):
    t = time.process_time()
    out = extract(text)
    dt = time.process_time() - t
    return out, dt


@pytest.mark.parametrize("text", [
    "",
    " ",
    "\n\n\t",
    "😀" * 2000,
    "🔥📞☎️👻" * 500,
    "\u200b" * 5000,
    "\u200b\u200c\u200d\u2060\ufeff" * 2000,
    "\x00\x01\x02\xff" * 1000,
    "\ud800\udfff lone surrogates \udc80",
    b"\xff\xfe\xc3\x28 invalid utf-8 \xa0\xa1".decode("utf-8", errors="surrogateescape"),
    "️⃣" * 3000,  # keycap marks without digits
])
def test_junk_gives_empty_entities(text):
    out, dt = timed(text)
    assert isinstance(out, Entities)
    assert list(out) == []
    assert dt < LIMIT_S


def test_byte_table_survives():
    # Every byte value: holds "0123456789" (a valid French number) and "@ABC…": found, not crashed.
    text = bytes(range(256)).decode("latin-1") * 20
    out, dt = timed(text)
    assert dt < LIMIT_S
    for e in out:
        assert text[e.start:e.end] == e.raw


@pytest.mark.parametrize("value", [None, 12, b"06 39 98 12 34", ["x"]])
def test_non_strings_give_empty_entities(value):
    assert extract(value) == []


ADVERSARIAL = {
    "digits": "0" * 100_000,
    "digits_spaced": "0 " * 50_000,
    "digits_dotted": "1." * 50_000,
    "digits_dashed": "06-" * 33_000,
    "plus": "+" * 100_000,
    "plus_digits": "+3" * 50_000,
    "dots": "." * 100_000,
    "at": "@" * 100_000,
    "at_words": "a@" * 50_000,
    "a": "a" * 100_000,
    "a_dots": "a." * 50_000,
    "label_dots": "ab-" * 33_000 + ".com",
    "www": "www." * 25_000,
    "http": "http://" * 15_000,
    "emails": "x@y." * 25_000,
    "obf_at": "a [at] " * 15_000,
    "obf_dot": "a [at] b" + " [dot] b" * 12_000,
    "zero_words": "zéro " * 20_000,
    "spelled_mix": "zéro six 12 " * 10_000,
    "euro": "1€" * 50_000,
    "price_groups": "1 000 " * 20_000 + "€",
    "hex": "0x" + "a" * 100_000,
    "base58": "1" + "A" * 100_000,
    "iban_like": "FR76" + " 1234" * 20_000,
    "colons": "snap:" * 20_000,
    "ghosts": "👻" * 50_000,
    "telegram_links": "t.me/" * 20_000,
    "pref": "préfecture de " * 7_000,
    "tls": "TLS " * 25_000,
    "arabic_digits": "٠" * 100_000,
    "mixed": "06 39 98 12 34 rdv@seller.example https://x.example/ 150€ @rdv_pref " * 1_500,
    "brackets": "(" * 50_000 + ")" * 50_000,
    "o_digits": "O6" * 50_000,
    "number_words": "tel six trente " * 8_000,
    "plus_words": "plus six " * 12_000,
    "labels_no_colon": "snap a.b " * 12_000,
    "insta_and_ats": "insta " + "@rdv_pref " * 10_000,
    "spaced_glued": "r d v a " * 12_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_inputs_are_linear(name):
    text = ADVERSARIAL[name]
    out, dt = timed(text)
    assert dt < LIMIT_S, f"{name}: {dt:.2f}s"
    for e in out[:200]:
        assert text[e.start:e.end] == e.raw


def test_random_soup_is_fast_and_consistent():
    rng = random.Random(7)
    alphabet = "0123456789 .-+@/:()[]{}aAbBoOxXtT€$éàüş٠١٢۳۴😀👻\u200b\n#_=%&?"
    for _ in range(20):
        text = "".join(rng.choice(alphabet) for _ in range(20_000))
        out, dt = timed(text)
        assert dt < LIMIT_S
        for e in out:
            assert text[e.start:e.end] == e.raw
            assert 0 <= e.start < e.end <= len(text)


def test_one_megabyte_post():
    chunk = ("Rdv préfecture de Bobigny dispo, 120 €, tel 06 39 98 12 34, snap: rdv.pref, "
             "https://rdv-pref.example/offre, rdv [at] seller [dot] example. ")
    text = chunk * (1_000_000 // len(chunk) + 1)
    assert len(text) > 1_000_000
    out, dt = timed(text)
    assert dt < 20  # 1 MB of dense identifiers; typical posts are 3-4 orders smaller
    assert len(out) > 1000
    kinds = {e.kind for e in out}
    assert {"phone", "price", "snapchat", "url", "domain", "email", "place"} <= kinds
    for e in out[:: max(1, len(out) // 500)]:
        assert text[e.start:e.end] == e.raw


def test_texts_beyond_the_cap_are_cut_not_refused():
    text = "x" * MAX_CHARS + " 06 39 98 12 34"
    assert extract(text) == []
    assert extract("06 39 98 12 34 " + "x" * MAX_CHARS)[0].value == "+33639981234"


FRAGMENTS = [
    "Bonjour, rdv dispo", "06 39 98 12 34", "+33 1 99 00 12 34", "٠٦٣٩٩٨١٢٣٤", "wa.me/33639981234",
    "@rdv_pref75", "snap: rdv.pref", "👻 rdvsnap", "insta: rdv_pref", "rdv@seller.example",
    "rdv [at] seller [dot] example", "https://rdv-pref.example/x?y=1", "www.rdv-pref.fr", "150€",
    "1 500 DH", "۵۰۰۰۰۰۰ تومان", "FR76 3000 6000 0112 3456 7890 189", "préfecture de Bobigny", "TLS Casa",
    "consulat de France à Fès", "zéro six trente-neuf quatre-vingt-dix-huit douze trente-quatre",
    "le 22/11/2026", "😀", "\u200b", "(", ")", ".", ",", ":", "\n",
]


def test_fuzz_spans_order_and_json():
    rng = random.Random(11)
    for _ in range(300):
        parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 25))]
        text = rng.choice([" ", "", "\n", " | "]).join(parts)
        out = extract(text)
        starts = [e.start for e in out]
        assert starts == sorted(starts)
        keys = [(e.kind, e.value, e.start) for e in out]
        assert len(keys) == len(set(keys))  # the entities table's unique key
        for e in out:
            assert text[e.start:e.end] == e.raw
        json.dumps(out.to_dicts(), ensure_ascii=False)


def test_extract_is_pure():
    text = "tel 06 39 98 12 34, 150€, préfecture de Bobigny"
    assert extract(text).to_dicts() == extract(text).to_dicts()


def test_pipeline_stores_entities(workspace):
    from storage.ingest import ingest
    from storage.post import Post

    post = Post(platform="test", url="https://classifieds.example/1",
                text="RDV préfecture de Bobigny 120 € WhatsApp 06 39 98 12 34 snap: rdv.pref")
    res = ingest(workspace, post)
    assert "extract" not in res.analysis.errors
    rows = workspace.db.execute("select kind, value, raw from entities order by start").fetchall()
    got = {(k, v) for k, v, _ in rows}
    assert ("phone", "+33639981234") in got
    assert ("price", "120 EUR") in got
    assert ("snapchat", "rdv.pref") in got
    assert ("place", "prefecture:FR-93:Bobigny") in got


def test_fold_digits_by_runs_equals_a_whole_text_translate():
    import random

    from matchers.extract import _FOLD, fold_digits

    rnd = random.Random(4)
    pool = list("ab 1.-é") + ["٣", "۱", "۵", "０", "𝟗", "①", "\u066b", "\u2212", "ж", "م", "😀"]
    for _ in range(3000):
        s = "".join(rnd.choice(pool) for _ in range(rnd.randint(1, 20)))
        assert fold_digits(s) == s.translate(_FOLD), s
        assert len(fold_digits(s)) == len(s)
