"""Run every benchmark under bench/, one after the other, each in its own process.

    .venv/bin/python bench/run_all.py            # the sizes the issues ask for (long: about an hour)
    .venv/bin/python bench/run_all.py --quick    # small sizes, to check that every benchmark runs
    .venv/bin/python bench/run_all.py --only classify,crawl

Each benchmark prints its own figures and method; this script only sequences
them, keeps their output, and ends with one line per benchmark (exit code and
wall time). The README's figures come from these commands. Benchmarks are not
tests: a figure below its target does not make this script fail, a crash does.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def plan(quick: bool, tmp: Path) -> list[tuple[str, list[list[str]]]]:
    """(name, commands) pairs; a benchmark may need a preparation step first."""
    sellers = tmp / ("sellers-10k" if quick else "sellers-100k")
    return [
        ("classify", [[PY, str(HERE / "classify_throughput.py"), "-n", "5000" if quick else "100000"]]),
        ("extract", [[PY, str(HERE / "extract_throughput.py"), "2000" if quick else "20000"]]),
        ("crawl", [[PY, str(HERE / "crawl_bench.py"), "--ads", "300" if quick else "5000",
                    "--shots", "3" if quick else "20"]]),
        *([("crawl-icount", [[PY, str(HERE / "crawl_icount.py"), "--ads", *(["100", "200"] if quick else
                                                                           ["300", "1300"])]])]
          if shutil.which("valgrind") else []),  # (instructions per ad; skipped where valgrind is missing)
        ("evidence-layout", [[PY, str(HERE / "evidence_layout.py"), "--blobs", "300" if quick else "3000",
                              "--dir", str(tmp)]]),
        ("evidence-sync", [[PY, str(HERE / "evidence_sync.py"), "--blobs", "300" if quick else "2000",
                            "--rounds", "1" if quick else "3"]]),
        ("telegram-export", [[PY, str(HERE / "telegram_export_bench.py"),
                              "--messages", "20000" if quick else "1000000", "--out", str(tmp / "tgexport")]]),
        ("cluster", [
            [PY, str(HERE / "gen_sellers.py"), "--posts", "10000" if quick else "100000", "--seed", "7",
             "-o", str(sellers)],
            [PY, str(HERE / "cluster_bench.py"), str(sellers)],
            [PY, str(HERE / "cluster_db_bench.py"), str(sellers), "--ws", str(tmp / "ws-sellers")],
        ]),
        ("bundle", [[PY, str(HERE / "bundle_bench.py"), "--posts", "100" if quick else "1000",
                     "--sizes", "150" if quick else "150,600"]]),
        ("drafting", [[PY, str(HERE / "drafting_bench.py"), "--posts", "100" if quick else "1000"]]),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: check that every benchmark runs")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    args = ap.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    summary: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="veille-bench-") as t:
        steps = plan(args.quick, Path(t))
        unknown = only - {name for name, _ in steps}
        if unknown:
            ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        for name, commands in steps:
            if only and name not in only:
                continue
            print(f"\n=== {name} ===", flush=True)
            t0 = time.monotonic()
            rc = 0
            for cmd in commands:
                print("$ " + " ".join(Path(c).name if c == PY else c for c in cmd), flush=True)
                rc = subprocess.call(cmd, cwd=HERE.parent)
                if rc:
                    break
            failed |= rc != 0
            summary.append(f"{name:16} exit {rc}  {time.monotonic() - t0:8.1f} s")
    print("\n=== summary ===")
    print("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
