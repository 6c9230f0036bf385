"""The crawl processes' garbage-collector policy (spiders/gcpolicy.py), checked in a fresh interpreter
so the test process's own collector is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
before = gc.get_threshold()
keep = [[i] for i in range(1000)]  # container objects that exist before settle(): frozen by it
from spiders.gcpolicy import THRESHOLDS, settle
applied = settle()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "applied": applied, "wanted": THRESHOLDS}))
"""


def _probe(**env) -> dict:
    e = {k: v for k, v in os.environ.items() if k != "VEILLE_GC_DEFAULTS"}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=e, capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def test_settle_freezes_the_startup_heap_and_raises_the_thresholds():
    r = _probe()
    assert r["applied"] is True
    assert tuple(r["after"]) == tuple(r["wanted"]) != tuple(r["before"])
    assert r["frozen"] >= 1000


def test_settle_can_be_turned_off():
    r = _probe(VEILLE_GC_DEFAULTS="1")
    assert r["applied"] is False
    assert r["after"] == r["before"]
    assert r["frozen"] == 0
