"""Instructions per ad of the crawl process and of the bare spider, counted by valgrind: a load-independent measure.

Usage::

    .venv/bin/python bench/crawl_icount.py [--ads 300 1300] [--which both|full|bare] [--set '{"JOBDIR": null}']

``bench/crawl_bench.py`` times the full pipeline against a bare Scrapy spider on this machine's wall clock, which
moves by ~20 % over hours and with the load. This script counts instead the instructions that the crawl process
(``python -m spiders.run worker``, where Scrapy, the spider and the item pipelines run; the storage writer is
its child and runs natively) and the bare spider's process execute, under ``valgrind --tool=cachegrind``, on the
same local site (``crawl_bench.make_server``: leboncoin-style ad pages, no images downloaded). Each is run
for two numbers of ads and the difference is divided by the difference of ads, so the start-up (imports, the
reactor, the writer's start) cancels out. The counts repeat within ~1 % from run to run.

What it does not measure: the writer's instructions, the local server's, and the time lost to waiting (the
crawl process waits on the run queue while the writer and the server use the other core). The wall-clock
ratio of ``crawl_bench.py`` includes those; this is the ratio of the work done on the crawl's critical path.
Under valgrind the crawl process runs ~50 times slower than the writer, so the writer's groups are small and
answers come one by one: costs that scale with the answers' batches count slightly more here than in a crawl.
``--set`` passes Scrapy settings to the full crawl (to measure what one component costs, e.g. without the
JOBDIR or with a pipeline left out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
# one BLAS thread and a fixed hash seed: fewer varying instructions from run to run
ENV = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _refs(path: str) -> int:
    for line in open(path, encoding="utf-8"):
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no summary in {path}")


def count_full(base: str, n: int, work: Path, settings: dict) -> int:
    """Instructions of the crawl process for a crawl of n ads (valgrind put in front of the worker command)."""
    import crawl_bench as cb

    import spiders.run as sr

    out = str(work / f"full-{n}.cg")
    real = subprocess.Popen

    def popen(args, *a, **k):
        if list(args[1:3]) == ["-m", "spiders.run"]:
            args = [*VALGRIND, f"--cachegrind-out-file={out}", *args]
        return real(args, *a, **k)

    ws = cb.new_ws(work / f"ws-{n}")
    sr.subprocess.Popen = popen
    try:
        rep = sr.crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=n // 50, base_urls={"leboncoin": base},
                       screenshots=False, settings={"CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                                                    "AUTOTHROTTLE_ENABLED": False, "VEILLE_DOWNLOAD_IMAGES": False,
                                                    "DOWNLOAD_TIMEOUT": 600, **settings})
    finally:
        sr.subprocess.Popen = real
        ws.close()
    r = rep.sites["leboncoin"]
    if r.items != n and "ITEM_PIPELINES" not in settings:
        raise SystemExit(f"the full crawl stored {r.items} ads of {n} ({r.status}: {r.error})")
    return _refs(out)


def count_bare(base: str, n: int, work: Path) -> int:
    import crawl_bench as cb

    out, cg = work / f"bare-{n}.json", str(work / f"bare-{n}.cg")
    subprocess.run([*VALGRIND, f"--cachegrind-out-file={cg}", sys.executable, str(ROOT / "bench" / "crawl_bench.py"),
                    "--bare", base, str(n // 50), "16", str(out), json.dumps(cb.veille_engine_settings()), "0"],
                   check=True, capture_output=True, cwd=ROOT)
    got = json.loads(out.read_text())["items"]
    if got != n:
        raise SystemExit(f"the bare spider yielded {got} ads of {n}")
    return _refs(cg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ads", type=int, nargs=2, default=[300, 1300], metavar=("N1", "N2"),
                    help="the two crawl sizes (multiples of 50)")
    ap.add_argument("--which", choices=("both", "full", "bare"), default="both")
    ap.add_argument("--set", default="{}", help="JSON of Scrapy settings for the full crawl")
    ap.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    n1, n2 = sorted(args.ads)
    if n1 % 50 or n2 % 50 or n1 == n2:
        raise SystemExit("--ads: two different multiples of 50")
    os.environ.update(ENV)
    import crawl_bench as cb

    srv = cb.make_server(n2, 50)
    base = f"http://127.0.0.1:{srv.server_address[1]}/b"
    out: dict = {"ads": [n1, n2], "settings": json.loads(args.set)}
    args.dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="veille-icount-", dir=args.dir) as td:
            work = Path(td)
            if args.which in ("both", "bare"):
                a, b = count_bare(base, n1, work), count_bare(base, n2, work)
                out["bare_per_ad"] = round((b - a) / (n2 - n1))
            if args.which in ("both", "full"):
                a, b = count_full(base, n1, work, out["settings"]), count_full(base, n2, work, out["settings"])
                out["full_per_ad"] = round((b - a) / (n2 - n1))
    finally:
        srv.shutdown()
    if "bare_per_ad" in out and "full_per_ad" in out:
        out["ratio_bare_over_full"] = round(out["bare_per_ad"] / out["full_per_ad"], 3)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
