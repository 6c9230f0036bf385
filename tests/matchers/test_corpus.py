"""The project's own labelled corpus: its shape, and the targets (P >= 0.95, R >= 0.90 per positive category)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from matchers.evaluate import evaluate_file, load_corpus

CORPUS = Path(__file__).resolve().parents[2] / "matchers" / "corpus" / "veille-corpus.jsonl"


def test_corpus_shape():
    items, problems = load_corpus(CORPUS)
    assert problems == []
    assert len(items) >= 600
    for it in items:
        assert set(it) >= {"text", "label", "lang", "note"}
    by_lang: dict[str, set[str]] = {}
    for it in items:
        by_lang.setdefault(it["lang"], set()).add(it["_gold"])
    for lang in ("fr", "en", "es", "ar", "tr", "fa", "ru"):
        assert {"appointment_resale", "forged_documents", "none"} <= by_lang[lang], lang


def test_corpus_uses_fictional_numbers_and_example_domains_only():
    raw = CORPUS.read_text(encoding="utf-8")
    for line in raw.splitlines():
        text = json.loads(line)["text"]
        for m in re.finditer(r"(?:\+33 ?|0)([1-9])(?:[ .]?\d\d){4}", text):
            digits = re.sub(r"\D", "", m.group())[-9:]
            assert digits.startswith(("199", "639", "2619", "35301", "46571", "53649", "700000")), m.group()
        for m in re.finditer(r"\b[\w-]+\.(com|fr|net|org|ma|dz)\b", text):
            pytest.fail(f"real-looking domain in corpus: {m.group()}")


def test_targets_on_own_corpus():
    rep = evaluate_file(CORPUS)
    for cat in ("appointment_resale", "forged_documents"):
        m = rep["per_category"][cat]
        assert m["precision"] >= 0.95, (cat, m)
        assert m["recall"] >= 0.90, (cat, m)
