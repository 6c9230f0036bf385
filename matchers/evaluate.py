"""Evaluation of the classifier on a labelled JSONL corpus (``veille eval classify``).

Corpus lines: ``{"text", "label", ...}`` with ``label`` one of
``appointment_resale`` (or ``slot_resale``), ``forged_documents``, ``negative``
(or ``none``); optional ``borderline: true``, ``lang``, ``note``, ``id``.
Reports precision, recall and F1 per category, the confusion matrix
(rows: gold label, columns: prediction) and the misclassified lines.
"""

from __future__ import annotations

import json
from pathlib import Path

from storage.errors import InputError

from .classify import classify, get_lexicon
from .types import CATEGORIES

LABELS = {"appointment_resale": "appointment_resale", "slot_resale": "appointment_resale",
          "forged_documents": "forged_documents", "negative": "none", "none": "none"}
MAX_CORPUS_BYTES = 200 * 1024 * 1024


def load_corpus(path: Path | str) -> tuple[list[dict], list[str]]:
    """Read a labelled corpus; returns (items, problems). Bad lines are listed, not fatal."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CORPUS_BYTES:
            raise InputError(f"{p}: corpus larger than {MAX_CORPUS_BYTES} bytes")
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror}") from None
    items, problems = [], []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"line {n}: {type(exc).__name__}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            problems.append(f"line {n}: not an object with a \"text\" string")
            continue
        label = LABELS.get(str(obj.get("label", "")).strip().lower())
        if label is None:
            problems.append(f"line {n}: unknown label {obj.get('label')!r}")
            continue
        obj["_gold"] = label
        obj["_line"] = n
        items.append(obj)
    return items, problems


def metrics(gold: list[str], pred: list[str]) -> dict:
    cats = list(CATEGORIES)
    confusion = {g: {p: 0 for p in cats} for g in cats}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    per = {}
    for c in cats:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in cats if g != c)
        fn = sum(confusion[c][p] for p in cats if p != c)
        prec = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        rec = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[c] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), "support": tp + fn,
                  "tp": tp, "fp": fp, "fn": fn}
    acc = sum(confusion[c][c] for c in cats) / len(gold) if gold else 0.0
    return {"per_category": per, "confusion": confusion, "accuracy": round(acc, 4), "n": len(gold)}


def evaluate_items(items: list[dict], include_borderline: bool = True) -> dict:
    used = [it for it in items if include_borderline or not it.get("borderline")]
    preds = [classify(it["text"], lang_hint=it.get("lang")) for it in used]
    rep = metrics([it["_gold"] for it in used], [v.category for v in preds])
    rep["misclassified"] = [
        {"line": it["_line"], "gold": it["_gold"], "predicted": v.category, "subtype": v.subtype,
         "score": v.score, "lang": it.get("lang"), "borderline": bool(it.get("borderline")),
         "text": it["text"][:300], "reasons": [f"{r.rule}:{it['text'][r.start:r.end]}" for r in v.reasons][:12]}
        for it, v in zip(used, preds, strict=True) if it["_gold"] != v.category
    ]
    rep["include_borderline"] = include_borderline
    rep["excluded_borderline"] = len(items) - len(used)
    rep["lexicon_version"] = get_lexicon().version
    return rep


def evaluate_file(path: Path | str, include_borderline: bool = True) -> dict:
    items, problems = load_corpus(path)
    if not items:
        raise InputError(f"{path}: no usable labelled line" + (f" ({problems[0]})" if problems else ""))
    rep = evaluate_items(items, include_borderline)
    rep["corpus"] = str(path)
    rep["problems"] = problems
    return rep


def format_report(rep: dict, show: int = 50) -> str:
    cats = list(CATEGORIES)
    lines = [f"corpus {rep.get('corpus', '-')}: {rep['n']} lines"
             + ("" if rep["include_borderline"] else f" ({rep['excluded_borderline']} borderline left out)")
             + f", lexicon {rep['lexicon_version']}, accuracy {rep['accuracy']:.3f}", ""]
    lines.append(f"{'category':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for c in cats:
        m = rep["per_category"][c]
        lines.append(f"{c:<20} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
    lines += ["", "confusion (rows: gold, columns: predicted)",
              f"{'':<20} " + " ".join(f"{c[:18]:>18}" for c in cats)]
    for g in cats:
        lines.append(f"{g:<20} " + " ".join(f"{rep['confusion'][g][p]:>18}" for p in cats))
    mis = rep["misclassified"]
    if mis:
        lines += ["", f"misclassified: {len(mis)}" + (f" (first {show})" if len(mis) > show else "")]
        for m in mis[:show]:
            text = " ".join(m["text"].split())[:160]
            lines.append(f"  line {m['line']} [{m['lang']}{', borderline' if m['borderline'] else ''}] "
                         f"gold {m['gold']} -> {m['predicted']}: {text}")
            if m["reasons"]:
                lines.append("      " + "; ".join(m["reasons"]))
    for p in rep.get("problems", []):
        lines.append(f"skipped {p}")
    return "\n".join(lines)
