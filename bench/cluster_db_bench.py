"""Clustering over the database: full run on N posts, then an incremental run with 1k new posts.

    .venv/bin/python bench/gen_sellers.py --posts 1000000 --seed 7 -o /tmp/sb1m
    .venv/bin/python bench/cluster_bench.py /tmp/sb1m --prepare-only
    .venv/bin/python bench/cluster_db_bench.py /tmp/sb1m --ws /tmp/ws-sb1m [--new 1000]

The store is built with ``storage.bench_load.bulk_load`` from the cached
extraction (posts + entities, no captures: building it through ``veille import
jsonl`` takes far longer and is not what is measured). Then, in separate
processes so each peak RSS is its own: ``update_clusters(full=True)`` over all
but the last ``--new`` posts, and ``update_clusters()`` after loading those
``--new`` posts. Quality of the result is scored with ``evaluate_sellers``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def records(data: Path, lo: int, hi: int):
    with open(data / "features.pkl", "rb") as fh:
        feats = pickle.load(fh)
    with open(data / "posts.jsonl", encoding="utf-8") as fp:
        for i, line in enumerate(fp):
            if i < lo:
                continue
            if i >= hi:
                break
            p = json.loads(line)
            f = feats[i]
            ents = [{"kind": k, "value": v} for k, v in f["identifiers"]]
            ents += [{"kind": "price", "value": f"{a:g} EUR", "extra": {"amount": a}} for a in f["prices"]]
            yield {**p, "entities": ents}


def step(args) -> None:
    from storage import Workspace, init_workspace
    from storage.bench_load import bulk_load
    from storage.sellers import evaluate_sellers, update_clusters

    ws_path = Path(args.ws)
    if args.step == "load":
        ws, _ = init_workspace(ws_path)
        t0 = time.time()
        n = bulk_load(ws, records(args.data, args.lo, args.hi))
        out = {"loaded": n, "seconds": round(time.time() - t0, 1)}
    elif args.step in ("full", "incremental"):
        ws = Workspace.open(ws_path)
        rep = update_clusters(ws, full=args.step == "full")
        out = {k: getattr(rep, k) for k in ("mode", "posts_clustered", "seconds", "cpu_seconds", "sellers_total",
                                             "links_added")}
        out.update(new_sellers=len(rep.new_sellers), merges=len(rep.merges), new_platform=len(rep.new_platform))
    else:
        ws = Workspace.open(ws_path)
        rep = evaluate_sellers(ws, args.data / "truth.jsonl", by_evidence=False)
        out = {"pairwise": rep["pairwise"], "bcubed": rep["bcubed"], "items": rep["items"]}
    out["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out), flush=True)
    ws.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--ws", required=True)
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--lo", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--hi", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        step(a)
        return
    total = json.loads((a.data / "features.json").read_text())["posts"]
    base = total - a.new
    plan = [("load", 0, base), ("full", 0, 0), ("load", base, total), ("incremental", 0, 0), ("eval", 0, 0)]
    for name, lo, hi in plan:
        r = subprocess.run([sys.executable, __file__, str(a.data), "--ws", a.ws, "--step", name, "--lo", str(lo),
                            "--hi", str(hi)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: FAILED\n{r.stderr[-3000:]}", flush=True)
            return
        print(f"{name}: {r.stdout.strip()}", flush=True)


if __name__ == "__main__":
    main()
