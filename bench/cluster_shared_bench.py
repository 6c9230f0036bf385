"""One identifier shared by N posts, over the database: no giant cluster, and not slow.

    .venv/bin/python bench/cluster_shared_bench.py [--posts 100000] [--new 1000]

Bulk-loads ``--posts`` offers from distinct accounts that all give the same (fictional) phone number,
and near-identical texts (so the text buckets are full too), runs ``veille cluster --full``, then loads ``--new`` more posts with that number and runs the incremental
update. Prints wall and CPU seconds of each run, the number of sellers and the biggest seller's size
(1 expected: a number used by that many authors links nobody).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHONE = "+33639980000"  # ARCEP fiction range


def _records(prefix: str, platform: str, n: int):
    for i in range(n):
        yield {"platform": platform, "url": f"https://{platform}.example/{prefix}{i}", "external_id": f"{prefix}{i}",
               "author_handle": f"{prefix}{i}", "text": f"RDV préfecture disponible, annonce {prefix}{i}",
               "media": [], "entities": [{"kind": "phone", "value": PHONE}], "price": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=1000)
    args = ap.parse_args()
    from storage import init_workspace
    from storage.bench_load import bulk_load
    from storage.sellers import update_clusters

    tmp = Path(tempfile.mkdtemp(prefix="veille-shared-"))
    ws, _ = init_workspace(tmp / "ws")
    out = {"posts": args.posts, "new": args.new, "load_average": os.getloadavg()[0]}
    bulk_load(ws, _records("u", "leboncoin", args.posts))
    for mode, extra in (("full", None), ("incremental", args.new)):
        if extra:
            bulk_load(ws, _records("n", "vivastreet", extra))
        c0, t0 = time.process_time(), time.time()
        rep = update_clusters(ws, full=(mode == "full"))
        out[mode] = {"wall_s": round(time.time() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
                     "posts_clustered": rep.posts_clustered, "sellers": rep.sellers_total,
                     "biggest_seller": ws.db.execute("select max(post_count) from sellers").fetchone()[0]}
    print(json.dumps(out))
    ws.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
