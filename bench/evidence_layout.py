"""Cost of storing a blob in the evidence store, by folder layout (a benchmark, not a test).

Each layout gets a new, empty store in a temporary folder under ``--dir`` (default: the system's
temporary folder; give a folder on the disk your workspaces live on), then ``--blobs`` blobs of
``--size`` random bytes are stored one after the other with ``EvidenceStore.put_bytes`` (SHA-256,
folder made when new, temporary file, fsync, rename, folder fsync). Reported per blob: CPU time of
this process (user + system: the file system's work in the kernel is counted) and wall time. The
layouts alternate for ``--rounds`` rounds; the minimum per layout is reported.

    .venv/bin/python bench/evidence_layout.py [--blobs 3000] [--size 15000] [--rounds 3] [--dir /work]

Layouts: ``sha256/ab/<sha256>`` (256 folders, the layout of a new store) and
``sha256/ab/cd/<sha256>`` (65,536 folders, stores made before 2026-12-06). A young store (under a few
hundred thousand blobs) puts most blobs in a new folder in the second layout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.evidence import LAYOUT_FILE, LAYOUTS, EvidenceStore  # noqa: E402


def one(layout: str, blobs: list[bytes], where: str | None) -> dict:
    tmp = tempfile.mkdtemp(prefix="veille-layout-", dir=where)
    try:
        root = Path(tmp) / "evidence"
        root.mkdir()
        (root / LAYOUT_FILE).write_text(layout + "\n")
        store = EvidenceStore(root)
        assert store.layout() == LAYOUTS[layout]
        c0, t0 = time.process_time(), time.perf_counter()
        for b in blobs:
            store.put_bytes(b)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        n = sum(1 for _ in store.iter_blobs())
        assert n == len(blobs), (n, len(blobs))
        return {"cpu_us": cpu / len(blobs) * 1e6, "wall_us": wall / len(blobs) * 1e6}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blobs", type=int, default=3000)
    ap.add_argument("--size", type=int, default=15000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the temporary stores go (default: the temp folder)")
    args = ap.parse_args()
    out: dict = {"load_before": [round(x, 2) for x in os.getloadavg()], "layouts": {}}
    for r in range(args.rounds):
        order = list(LAYOUTS) if r % 2 == 0 else list(reversed(LAYOUTS))
        for layout in order:
            blobs = [os.urandom(args.size) for _ in range(args.blobs)]  # new bytes: every blob is new
            res = one(layout, blobs, args.dir)
            best = out["layouts"].setdefault(layout, {"cpu_us": float("inf"), "wall_us": float("inf")})
            best["cpu_us"] = round(min(best["cpu_us"], res["cpu_us"]), 1)
            best["wall_us"] = round(min(best["wall_us"], res["wall_us"]), 1)
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out["settings"] = {"blobs": args.blobs, "size": args.size, "rounds": args.rounds,
                       "dir": args.dir or tempfile.gettempdir()}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
