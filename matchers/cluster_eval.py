"""Quality of a clustering against a labelled truth: pairwise and B-cubed P/R/F1.

Pure functions over two mappings ``item -> cluster label``; only items present
in both are scored. Used by ``veille eval sellers`` and ``bench/``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from typing import Any


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> dict[str, Any]:
    """Pairwise and B-cubed precision, recall and F1 of ``predicted`` against ``truth``."""
    items = [k for k in truth if k in predicted]
    n = len(items)
    if n == 0:
        return {"items": 0, "pairwise": {"precision": 0.0, "recall": 0.0, "f1": 0.0},
                "bcubed": {"precision": 0.0, "recall": 0.0, "f1": 0.0}, "predicted_clusters": 0,
                "true_clusters": 0}
    cells = Counter((predicted[k], truth[k]) for k in items)
    psize = Counter(predicted[k] for k in items)
    tsize = Counter(truth[k] for k in items)
    tp = sum(_pairs(c) for c in cells.values())
    pp = sum(_pairs(c) for c in psize.values())
    tt = sum(_pairs(c) for c in tsize.values())
    pw_p = tp / pp if pp else 1.0
    pw_r = tp / tt if tt else 1.0
    b_p = sum(c * c / psize[p] for (p, _t), c in cells.items()) / n
    b_r = sum(c * c / tsize[t] for (_p, t), c in cells.items()) / n
    return {
        "items": n,
        "predicted_clusters": len(psize),
        "true_clusters": len(tsize),
        "pairwise": {"precision": round(pw_p, 4), "recall": round(pw_r, 4), "f1": round(_f1(pw_p, pw_r), 4),
                     "true_pairs": tt, "predicted_pairs": pp, "correct_pairs": tp},
        "bcubed": {"precision": round(b_p, 4), "recall": round(b_r, 4), "f1": round(_f1(b_p, b_r), 4)},
    }
