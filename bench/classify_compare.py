"""Compare two versions of the matchers' code on the same lexicons (a benchmark, not a test).

Each version's ``matchers`` package is exported (``git archive`` of a revision, or the working tree
for ``WT``) into a temporary folder under its own name, with the working tree's lexicons copied into
both, so only the code differs. Then:

1. results: classify (category, subtype, score to 4 places, reasons with spans) and extract (every
   entity) on the shipped corpus, the files given with ``--texts`` and the generated posts of
   ``classify_throughput.py``; any difference is printed and the exit status is 1;
2. speed: both versions in one process, ``--rounds`` rounds alternating which goes first; the minimum
   CPU time per post of classify, extract and both;
3. with ``--icount``: instructions per post of classify + extract, load-independent, with
   ``valgrind --tool=cachegrind`` (after 300 warm-up posts, a run over ``--icount-n`` posts minus a run
   over none: startup, warm-up and the posts' generation subtracted; one BLAS thread, so the count is
   the same from run to run).

    .venv/bin/python bench/classify_compare.py fda262b WT -n 10000 --rounds 6 [--mix] [--icount]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from classify_throughput import make_posts  # noqa: E402


def export(rev: str, dest: Path, name: str) -> None:
    """``matchers`` of ``rev`` (or the working tree, ``WT``) as package ``name`` in ``dest``."""
    target = dest / name
    if rev == "WT":
        shutil.copytree(ROOT / "matchers", target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        tmp = dest / ("_" + name)
        tmp.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "matchers"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        shutil.move(str(tmp / "matchers"), target)
        shutil.rmtree(tmp)
    shutil.rmtree(target / "lexicons")
    shutil.copytree(ROOT / "matchers" / "lexicons", target / "lexicons")


def load(dest: Path, name: str):
    sys.path.insert(0, str(dest))
    c = importlib.import_module(name + ".classify")
    e = importlib.import_module(name + ".extract")
    lex = c.get_lexicon()
    if hasattr(lex, "compile_scan_variants"):  # compiled lazily otherwise: startup, not per-post time
        lex.compile_scan_variants()
    c.classify("RDV préfecture dispo 50€")
    e.extract("RDV préfecture dispo 50€ +33 6 39 98 00 12")
    return c.classify, e.extract


def record(classify, extract, text: str) -> str:
    v = classify(text)
    reasons = [(r.rule, r.term, r.start, r.end, r.kind, r.weight) for r in v.reasons]
    ents = [(x.kind, x.value, x.raw, x.start, x.end, sorted(x.extra.items(), key=str)) for x in extract(text)]
    return json.dumps([v.category, v.subtype, round(v.score, 4), reasons, ents], ensure_ascii=False, default=str)


def texts(extra_files: list[str], n: int) -> list[str]:
    out = []
    for path in [str(ROOT / "matchers" / "corpus" / "veille-corpus.jsonl"), *extra_files]:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["text"])
    out += make_posts(n) + make_posts(n, seed=7, mix=True)
    out += ["", " ", "\u200b\u200b", "🔥🔥", "r d v p r e f e c t u r e 50€", "#rdvprefecture dispo 60 euros",
            "p a s s p o r t à vendre", "раssроrt fаkе for sale", "пaспорт купить", "x" * 5000,
            "𝟓𝟎 € rdv préfecture dispo", "𐐀𐐁 rdv préfecture 60 euros 𐐂", "🔥r🔥d🔥v🔥 50€ 😀"]
    return out


def icount(dest: Path, name: str, n: int, mix: bool) -> tuple[int, int]:
    """(startup instructions, instructions per post) under cachegrind."""
    counts = []
    # one BLAS thread: numpy's OpenBLAS threads otherwise add a varying count to every run
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    for k in (0, n):
        with tempfile.TemporaryDirectory() as td:
            cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={td}/cg.out",
                   sys.executable, __file__, "--worker", str(dest), name, str(k), str(n)] + (["--mix"] if mix else [])
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
        if m is None:
            raise SystemExit(f"valgrind failed: {r.stderr[-500:]}")
        counts.append(int(m.group(1).replace(",", "")))
    return counts[0], (counts[1] - counts[0]) // n


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":  # under valgrind: run k of n posts
        dest, name, k, n = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        classify, extract = load(dest, name)
        # warm-up on other posts (first imports such as rapidfuzz's, phone metadata, caches), in both runs
        for p in make_posts(300, seed=1, mix="--mix" in sys.argv):
            classify(p)
            extract(p)
        # the same n posts generated in both runs, so their generation is subtracted with the startup
        for p in make_posts(n, mix="--mix" in sys.argv)[:k]:
            classify(p)
            extract(p)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="git revision of the base code")
    ap.add_argument("new", nargs="?", default="WT", help="git revision of the new code (default: working tree)")
    ap.add_argument("-n", type=int, default=10_000, help="generated posts (timing; results use n of each mix)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--mix", action="store_true", help="time posts with every language in every post")
    ap.add_argument("--texts", action="append", default=[], help="more JSONL files with a 'text' field")
    ap.add_argument("--icount", action="store_true", help="also count instructions with valgrind (slow)")
    ap.add_argument("--icount-n", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        dest = Path(td)
        export(args.base, dest, "matchers_base")
        export(args.new, dest, "matchers_new")
        vers = {"base": load(dest, "matchers_base"), "new": load(dest, "matchers_new")}
        sample = texts(args.texts, min(args.n, 10_000))
        diffs = [t for t in sample if record(*vers["base"], t) != record(*vers["new"], t)]
        print(f"results: {len(sample)} texts, {len(diffs)} differ")
        for t in diffs[:5]:
            print("  differs:", t[:120])
        posts = make_posts(args.n, mix=args.mix)
        best = {k: [1e9, 1e9, 1e9] for k in vers}
        for r in range(args.rounds):
            for k in (("base", "new") if r % 2 == 0 else ("new", "base")):
                c, e = vers[k]
                t0 = time.process_time()
                for p in posts:
                    c(p)
                t1 = time.process_time()
                for p in posts:
                    e(p)
                t2 = time.process_time()
                best[k] = [min(best[k][0], t1 - t0), min(best[k][1], t2 - t1), min(best[k][2], t2 - t0)]
        for k, (c, e, b) in best.items():
            print(f"{k}: classify {c / args.n * 1e6:.1f} µs/post, extract {e / args.n * 1e6:.1f} µs/post, "
                  f"classify + extract {args.n / b:,.0f} posts per CPU-second (min of {args.rounds} rounds)")
        print(f"load average {os.getloadavg()[0]:.2f}; posts: {'--mix' if args.mix else 'one language per post'}")
        if args.icount:
            for k in vers:
                s, per = icount(dest, "matchers_" + k, args.icount_n, args.mix)
                print(f"{k}: {per:,} instructions per post (cachegrind, {args.icount_n} posts; startup {s:,})")
        if diffs:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
