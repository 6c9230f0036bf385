"""matchers.batch: analyse_many / analyse_chunk give the per-text results, stage failures isolated per text;
classify_lines keeps its per-line behaviour whatever the chunk size."""

from __future__ import annotations

import json

import pytest

import matchers
from matchers import batch, classify, extract
from matchers.batch import Outcome, analyse_chunk, analyse_many, chunks, classify_lines

# Fictional texts in every language the lexicons cover, with obfuscation, hard negatives, odd input.
TEXTS = [
    ("RDV préfecture dispo cette semaine, 60€, contactez moi au 06 39 98 12 34", None),
    ("Vends f@ux p a s s e p o r t, livraison rapide, rdv12@mail.example", "fr"),
    ("Je cherche un rendez-vous à la préfecture depuis deux mois, quelqu'un peut m'aider ?", "fr"),
    ("We book your embassy appointment in 48 hours, guaranteed, DM on telegram @slots_12", "en"),
    ("Buy real and fake passports, ID cards and driving licences, https://docs-1.example/shop", None),
    ("Police arrested a gang selling fake passports for 3000 euros each.", "en"),
    ("Vendo cita extranjería huellas Madrid 50 euros, escríbeme", "es"),
    ("Hızlı vize randevusu alınır, fiyat 150 Euro, DM", "tr"),
    ("kayn rdv TLS Rabat, taman 1200dh, sift f lkhas +212 6 00 00 00 00", "ar"),
    ("مواعيد الفيزا متوفرة، الثمن 1500 درهم، راسلوني واتساب", "ar"),
    ("نوبت سفارت فرانسه فوری، قیمت ۱۵ میلیون تومان", "fa"),
    ("Продам запись в визовый центр, недорого, пишите в лс", "ru"),
    ("Купить раssроrt с проводкой по базе, доставка", None),
    ("v\u200bi\u200bs\u200ba rdv 🔥🔥 dispo 01 99 00 12 34", None),
    ("", None),
    ("   \n\t ", "fr"),
    ("😀😀😀", None),
    ("Terrain à vendre avec titre foncier, 500 m², 45000 €, tel 01 99 00 45 67 " * 40, "fr"),
]


def _reference(text, lang):
    return classify(text, lang_hint=lang), extract(text)


@pytest.mark.parametrize("chunk", [1, 3, 7, 256])
def test_analyse_many_equals_per_text_calls(chunk):
    texts = [t for t, _ in TEXTS]
    langs = [g for _, g in TEXTS]
    got = list(analyse_many(texts, langs, chunk=chunk))
    assert len(got) == len(TEXTS)
    for (text, lang), o in zip(TEXTS, got, strict=True):
        v, ents = _reference(text, lang)
        assert o.classify_error is None and o.extract_error is None and o.errors() == {}
        assert o.verdict == v
        assert list(o.entities) == list(ents)
    assert {o.verdict.category for o in got} == {"appointment_resale", "forged_documents", "none"}
    assert any(o.entities for o in got)


def test_langs_are_hints_passed_through():
    seen = []

    def spy(text, lang_hint=None):
        seen.append((text, lang_hint))
        return classify(text, lang_hint=lang_hint)

    list(analyse_many((t for t, _ in TEXTS), (g for _, g in TEXTS), chunk=4, classify_fn=spy))
    assert seen == TEXTS
    seen.clear()
    list(analyse_many(["a", "b"], classify_fn=spy))
    assert seen == [("a", None), ("b", None)]


def test_stage_failures_are_isolated_per_text_and_named(faulty_stages):
    bad_classify, bad_extract = faulty_stages(classify, extract)

    texts = ["RDV préfecture dispo 50€ BOOM", "RDV préfecture dispo 50€", "BANG 06 39 98 00 12",
             "BOOM BANG", "Vends faux passeport"]
    for chunk in (1, 2, 256):
        got = list(analyse_many(texts, chunk=chunk, classify_fn=bad_classify, extract_fn=bad_extract))
        assert [sorted(o.errors()) for o in got] == [["classify"], [], ["extract"], ["classify", "extract"], []]
        assert got[0].verdict is None and got[0].entities == extract(texts[0])  # extract still ran
        assert got[0].errors()["classify"] == "ValueError: boom"
        assert isinstance(got[0].classify_error, ValueError)
        assert got[2].entities is None and got[2].verdict == classify(texts[2])
        assert got[2].errors()["extract"] == "RuntimeError: bang"
        assert got[3].verdict is None and got[3].entities is None
        assert got[1].verdict.category == "appointment_resale"
        assert got[4].verdict.category == "forged_documents"


def test_default_functions_are_the_matchers_and_can_fail(monkeypatch):
    real = batch.classify

    def bad(text, lang_hint=None):
        if text == "x":
            raise KeyError("k")
        return real(text, lang_hint=lang_hint)

    monkeypatch.setattr(batch, "classify", bad)
    monkeypatch.setattr(matchers, "extract", lambda text: (_ for _ in ()).throw(NotImplementedError("no extract")))
    got = analyse_chunk(["x", "RDV préfecture dispo 50€"])
    assert got[0].errors() == {"classify": "KeyError: 'k'", "extract": "NotImplementedError: no extract"}
    assert got[1].verdict.category == "appointment_resale" and got[1].errors() == {"extract": "NotImplementedError: no extract"}


def test_without_entities_extract_is_not_called():
    def never(text):
        raise AssertionError("called")

    got = analyse_chunk(["RDV préfecture dispo 50€"], extract_fn=never, with_entities=False)
    assert got == [Outcome(verdict=classify("RDV préfecture dispo 50€"))]


def test_mismatched_langs_are_refused():
    with pytest.raises(ValueError):
        analyse_chunk(["a", "b"], ["fr"])


def test_stream_is_consumed_chunk_by_chunk():
    pulled = []

    def gen():
        for i in range(10):
            pulled.append(i)
            yield f"texte {i}"

    it = analyse_many(gen(), chunk=4)
    next(it)
    assert pulled == [0, 1, 2, 3]  # only the first chunk read
    assert len(list(it)) == 9 and pulled == list(range(10))


def test_chunks_bound_count_and_characters():
    assert [len(c) for c in chunks(range(10), 4)] == [4, 4, 2]
    assert list(chunks([], 4)) == []
    texts = ["a" * 400, "b" * 400, "c" * 400, "d" * 2000, "e"]
    assert [len(c) for c in chunks(texts, 100, max_chars=1000, length=len)] == [3, 1, 1]
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_long_texts_make_small_chunks(monkeypatch):
    sizes = []
    real = batch.analyse_chunk

    def spy(texts, *a, **k):
        sizes.append(len(texts))
        return real(texts, *a, **k)

    monkeypatch.setattr(batch, "CHUNK_CHARS", 1000)
    monkeypatch.setattr(batch, "analyse_chunk", spy)
    list(analyse_many(["x" * 600] * 5, chunk=256))
    assert sizes == [2, 2, 1]


# ------------------------------------------------------------------ classify_lines
LINES = [
    json.dumps({"id": "a", "text": "RDV préfecture dispo 50€, contactez moi au 06 39 98 12 34"}).encode() + b"\n",
    b"{not json\n",
    b"\xff\xfe invalid utf-8\n",
    b"\n",
    json.dumps([1, 2]).encode(),
    json.dumps({"id": 5, "text": 12}).encode(),
    json.dumps({"id": {"x": 1}, "text": "Vendo cita extranjería 40€", "lang": "es"}).encode(),
    json.dumps({"text": "Je cherche un rdv svp"}).encode() + b"\r\n",
    json.dumps({"id": "e", "text": "\u200b\u200b"}).encode(),
    json.dumps({"id": "f", "text": "Vends faux passeport, livraison rapide BOOM"}).encode(),
    json.dumps({"id": "g", "text": "Продам запись в визовый центр BANG +33 6 39 98 00 12"}).encode(),
    b"x" * (batch.MAX_LINE_BYTES + 1),
    json.dumps({"id": "h", "text": "مواعيد الفيزا متوفرة، الثمن 1500 درهم"}).encode(),
]


def _per_line_reference(lines, plain=False):
    """What veille classify gave per line before chunking (written out independently)."""
    out = []
    for n, raw in enumerate(lines, 1):
        if len(raw) > batch.MAX_LINE_BYTES:
            out.append({"line": n, "id": None, "error": f"line longer than {batch.MAX_LINE_BYTES} bytes"})
            continue
        raw = raw.rstrip(b"\r\n")
        try:
            s = raw.decode()
        except UnicodeDecodeError as exc:
            out.append({"line": n, "id": None, "error": f"invalid UTF-8 at byte {exc.start}"})
            continue
        if plain:
            text, id_, lang = s, n, None
        else:
            try:
                obj = json.loads(s) if s.strip() else None
            except json.JSONDecodeError as exc:
                out.append({"line": n, "id": None, "error": f"invalid JSON: {exc.msg}"})
                continue
            if obj is None:
                out.append({"line": n, "id": None, "error": "empty line"})
                continue
            if not isinstance(obj, dict):
                out.append({"line": n, "id": None, "error": "a line must be a JSON object with a \"text\" string"})
                continue
            id_ = obj.get("id")
            if id_ is not None and not isinstance(id_, (str, int)):
                id_ = json.dumps(id_, ensure_ascii=False)[:200]
            text, lang = obj.get("text"), obj.get("lang")
            if not isinstance(text, str):
                out.append({"line": n, "id": id_, "error": "missing or non-string \"text\""})
                continue
        try:
            v = batch.classify(text, lang_hint=lang)
        except Exception as exc:  # noqa: BLE001
            out.append({"line": n, "id": id_, "error": f"classify failed: {type(exc).__name__}: {exc}"})
            continue
        o = {"id": id_, **v.to_dict(), "entities": []}
        try:
            o["entities"] = [e.to_dict() for e in matchers.extract(text)]
        except Exception as exc:  # noqa: BLE001
            o["entities_error"] = f"{type(exc).__name__}: {exc}"
        out.append(o)
    return out


def _faulty(monkeypatch, faulty_stages):
    c, e = faulty_stages(batch.classify, matchers.extract)
    monkeypatch.setattr(batch, "classify", c)
    monkeypatch.setattr(matchers, "extract", e)


@pytest.mark.parametrize("chunk", [1, 2, 5, 256])
def test_classify_lines_same_objects_in_order_whatever_the_chunk(monkeypatch, chunk, faulty_stages):
    _faulty(monkeypatch, faulty_stages)
    expected = _per_line_reference(LINES)
    got = list(classify_lines(iter(LINES), chunk=chunk))
    assert got == expected
    assert got[9] == {"line": 10, "id": "f", "error": "classify failed: ValueError: boom"}
    assert got[10]["entities_error"] == "RuntimeError: bang" and got[10]["entities"] == []
    assert got[10]["category"] == "appointment_resale"
    assert got[0]["entities"] and got[6]["id"] == '{"x": 1}'
    plain = [b"Vendo cita extranjera 40\xe2\x82\xac\n", b"\n", b"BOOM\n", b"\xff\n", b"bonjour"]
    assert list(classify_lines(plain, plain=True, chunk=chunk)) == _per_line_reference(plain, plain=True)


def test_classify_lines_without_entities(monkeypatch):
    monkeypatch.setattr(matchers, "extract", lambda text: 1 / 0)
    got = list(classify_lines([json.dumps({"text": "RDV préfecture dispo 50€"}).encode()], with_entities=False))
    assert got[0]["entities"] == [] and "entities_error" not in got[0]
