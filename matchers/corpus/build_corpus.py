"""Build ``veille-corpus.jsonl``, the project's own labelled corpus.

The hand-written lines are in ``_fr.py``, ``_en.py``, ``_es.py``, ``_ar.py``,
``_tr.py``, ``_fa.py`` and ``_ru.py`` (our own writing: fictional numbers from
ARCEP's fiction ranges, ``.example`` domains). This script adds *obfuscated
variants* the way sellers write to dodge filters (leetspeak, s p a c e d and
d.o.t.t.e.d letters, Cyrillic look-alikes, zero-width characters, hashtags,
full-width letters, emoji between letters, tatweel in Arabic), each marked in
``note``; the variants are deterministic (fixed seed).

Run: ``.venv/bin/python -m matchers.corpus.build_corpus`` (rewrites the JSONL).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from . import _ar, _en, _es, _fa, _fr, _fresh, _fresh2, _fresh3, _requests, _ru, _tr

OUT = Path(__file__).with_name("veille-corpus.jsonl")
SOURCES = [("fr", _fr), ("en", _en), ("es", _es), ("ar", _ar), ("tr", _tr), ("fa", _fa), ("ru", _ru)]

# words worth obfuscating (sellers hide the topic words, not the filler)
KEYWORDS = re.compile(
    r"(?i)\b(rdv|rendez-vous|préfecture|prefecture|passeport|passport|titre|séjour|visa|permis|cita|citas|"
    r"extranjería|randevu\w*|vize\w*|appointment\w*|slots?|consulat\w*|embassy|faux|fake|fausses?|"
    r"créneaux?|naturalisation|récépissé|licen[cs]e|paspor\w*|pasaporte|huellas|vendo|vends|vente|"
    r"dispo\w*|sahte|ehliyet)\b")
CYR = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"}
LEET = {"e": "3", "a": "@", "o": "0", "i": "!", "s": "$"}
ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
EMOJI = ["🔥", "✅", "⭐", "💯", "📌"]


def _inner(word: str, f) -> str:
    """Apply f to the letters strictly inside the word (leetspeak is only undone between letters)."""
    if len(word) < 3:
        return word
    return word[0] + "".join(f(c) for c in word[1:-1]) + word[-1]


def leet(w, rnd):
    return _inner(w, lambda c: LEET.get(c.lower(), c) if rnd.random() < 0.7 else c)


def spaced(w, rnd):
    return " ".join(w)


def dotted(w, rnd):
    return ".".join(w)


def cyrillic(w, rnd):
    return "".join(CYR.get(c, c) if rnd.random() < 0.8 else c for c in w)


def zerowidth(w, rnd):
    return rnd.choice(ZW).join(w)


def fullwidth(w, rnd):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in w)


def emoji(w, rnd):
    return rnd.choice(EMOJI).join(w)


def upper_noaccent(w, rnd):
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn").upper()


LATIN_OBF = [leet, spaced, dotted, cyrillic, zerowidth, fullwidth, emoji, upper_noaccent]


def hashtagify(text: str, rnd) -> str | None:
    """Glue two keywords into one hashtag at the end: "… #rdvprefecture"."""
    kws = [m.group() for m in KEYWORDS.finditer(text)]
    if len(kws) < 2:
        return None
    a, b = kws[0], kws[1]
    tag = "#" + (a + b).replace("-", "").replace(" ", "").lower()
    return text + " " + tag


def obfuscate_latin(text: str, rnd: random.Random, how) -> str | None:
    words = list(KEYWORDS.finditer(text))
    if not words:
        return None
    m = rnd.choice(words)
    w = m.group()
    if how in (spaced, dotted, emoji) and "-" in w:
        w2 = how(w.replace("-", ""), rnd)
    else:
        w2 = how(w, rnd)
    return text[: m.start()] + w2 + text[m.end():]


ARABIC_WORD = re.compile(r"[\u0600-\u06ff]{3,}")
CYR_WORD = re.compile(r"[\u0400-\u04ff]{4,}")


def obfuscate_script(text: str, rnd: random.Random, lang: str) -> tuple[str, str] | None:
    pat = CYR_WORD if lang == "ru" else ARABIC_WORD
    words = list(pat.finditer(text))
    if not words:
        return None
    m = rnd.choice(words[:4])
    w = m.group()
    choice = rnd.choice(["zerowidth", "spaced", "emoji", "tatweel" if lang in ("ar", "fa") else "latin_intruder"])
    if choice == "zerowidth":
        w2 = rnd.choice(ZW).join(w)
    elif choice == "spaced":
        w2 = " ".join(w)
    elif choice == "emoji":
        w2 = rnd.choice(EMOJI).join(w)
    elif choice == "tatweel":
        w2 = "\u0640".join(w)
    else:  # Russian word with Latin look-alikes inside
        rev = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c"}
        w2 = "".join(rev.get(c, c) for c in w)
    return text[: m.start()] + w2 + text[m.end():], choice


def build() -> list[dict]:
    rnd = random.Random(20261122)
    out: list[dict] = []
    for lang, mod in SOURCES:
        for label, text, note in mod.LINES:
            out.append({"text": text, "label": label, "lang": lang, "note": note})
    for lang, label, text, _note in _fresh.LINES:
        out.append({"text": text, "label": label, "lang": lang,
                    "note": "written after the lexicons were first frozen (see docs/classifier.md)"})
    for lang, label, text, _note in _fresh2.LINES:
        out.append({"text": text, "label": label, "lang": lang,
                    "note": "second batch written blind on 2026-12-06 (see docs/classifier.md)"})
    for lang, label, text, _note in _fresh3.LINES + _fresh3.LINES_B + _fresh3.LINES_C:
        out.append({"text": text, "label": label, "lang": lang,
                    "note": "third batch written blind on 2026-12-06, buyers and question-shaped offers "
                            "(see docs/classifier.md)"})
    for lang, label, text, note in _requests.LINES:
        out.append({"text": text, "label": label, "lang": lang, "note": note})
    base = list(out)
    for item in base:
        lang, text, label = item["lang"], item["text"], item["label"]
        n_variants = 2 if label != "negative" else 1
        for k in range(n_variants):
            if lang in ("ar", "fa", "ru") and (k == 0 or not KEYWORDS.search(text)):
                r = obfuscate_script(text, rnd, lang)
                if r is None:
                    continue
                v, how = r
            elif k == 1 and label != "negative" and rnd.random() < 0.3:
                v, how = hashtagify(text, rnd), "hashtag"
                if v is None:
                    continue
            else:
                fn = rnd.choice(LATIN_OBF)
                v, how = obfuscate_latin(text, rnd, fn), fn.__name__
                if v is None:
                    continue
            if v != text:
                out.append({"text": v, "label": label, "lang": lang,
                            "note": f"obfuscated variant ({how}) of: {item['note']}"})
    return out


def main() -> None:
    rows = build()
    with open(OUT, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    by = {}
    for r in rows:
        by[(r["lang"], r["label"])] = by.get((r["lang"], r["label"]), 0) + 1
    print(f"{len(rows)} lines written to {OUT}")
    for k in sorted(by):
        print(" ", k, by[k])


if __name__ == "__main__":
    main()
