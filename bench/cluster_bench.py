"""Side-by-side seller clustering benchmark: veille vs Splink (DuckDB) vs datasketch MinHashLSH.

    .venv/bin/python bench/gen_sellers.py --posts 100000 --seed 7 -o /tmp/sb100k
    .venv/bin/python bench/cluster_bench.py /tmp/sb100k [--methods veille,splink,datasketch,veille-ids,veille-content]

1. ``prepare``: identifiers are extracted once with ``matchers.extract`` (the
   same normalised fields feed every method) and cached in ``features.pkl``;
   its time is reported separately, it is not part of any method's time.
2. Each method runs in its own subprocess; wall time covers everything the
   method does after loading the features (MinHash, blocking, scoring,
   clustering); peak RSS is the subprocess's ``ru_maxrss``.
3. Quality: pairwise and B-cubed precision / recall / F1 against ``truth.jsonl``.

Methods:

* ``veille``: :func:`matchers.cluster.cluster` with the default settings;
* ``veille-ids``: identifiers and accounts only (texts, photos and prices removed);
* ``veille-content``: content only, identifiers *masked* (accounts, phones,
  handles, e-mails removed from the fields and blanked out of the texts);
* ``splink``: Splink 5 / DuckDB, blocking on author account, phone, Telegram, Snapchat, e-mail,
  handle skeleton and text prefix; exact matches with term-frequency
  adjustments, Jaro-Winkler on handles, Jaccard on texts; u by random
  sampling, m by EM; clusters at match probability 0.95;
* ``datasketch``: MinHashLSH (threshold 0.7, 64 permutations, same shingles)
  plus connected components: the usual text near-duplicate baseline.
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

HANDLE_KINDS = ("telegram", "snapchat", "instagram", "tiktok")
MASK_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban", "url",
              "domain")


# ----------------------------------------------------------------------------- prepare
def prepare(data: Path) -> float:
    cache = data / "features.pkl"
    if cache.exists():
        return json.loads((data / "features.json").read_text())["seconds"]
    from matchers.extract import extract

    t0 = time.time()
    feats = []
    with open(data / "posts.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            p = json.loads(line)
            ents = extract(p["text"])
            feats.append({
                "id": i + 1, "url": p["url"], "platform": p["platform"], "author": p.get("author_handle"),
                "text": p["text"],
                "identifiers": [(e.kind, e.value) for e in ents if e.kind not in ("price", "place", "url")],
                "handles": [e.value for e in ents if e.kind in HANDLE_KINDS],
                "prices": [e.extra.get("amount") for e in ents if e.kind == "price" and e.extra.get("amount")],
                "mask": [(e.start, e.end) for e in ents if e.kind in MASK_KINDS],
                "phashes": [m["phash"] for m in p.get("media", []) if m.get("phash")],
                "places": [e.value for e in ents if e.kind == "place"],
            })
    secs = time.time() - t0
    with open(cache, "wb") as fh:
        pickle.dump(feats, fh, protocol=pickle.HIGHEST_PROTOCOL)
    (data / "features.json").write_text(json.dumps({"seconds": secs, "posts": len(feats)}))
    return secs


def load(data: Path) -> list[dict]:
    with open(data / "features.pkl", "rb") as fh:
        return pickle.load(fh)


def masked(text: str, spans) -> str:
    out, last = [], 0
    for s, e in sorted(spans):
        if s < last:
            continue
        out.append(text[last:s])
        out.append(" ")
        last = e
    out.append(text[last:])
    return "".join(out)


# ----------------------------------------------------------------------------- methods
def run_veille(feats: list[dict], mode: str) -> dict[str, int]:
    import gc

    from matchers.cluster import ClusterPost, cluster

    posts = []
    url = {f["id"]: f["url"] for f in feats}
    for k, f in enumerate(feats):
        feats[k] = None  # the input is released as the posts are built (peak RSS is the method's own)
        if mode == "ids":
            posts.append(ClusterPost(f["id"], f["platform"], f["author"], "", f["identifiers"], (), (), f["handles"]))
        elif mode == "content":
            posts.append(ClusterPost(f["id"], f["platform"], None, masked(f["text"], f["mask"]), (), f["phashes"],
                                     f["prices"], ()))
        else:
            posts.append(ClusterPost(f["id"], f["platform"], f["author"], f["text"], f["identifiers"],
                                     f["phashes"], f["prices"], f["handles"]))
    feats.clear()
    gc.collect()
    res = cluster(posts, explain_text=False)
    return {url[p]: ci for ci, c in enumerate(res.clusters) for p in c}


def _norm_rows(feats):
    from matchers.cluster import handle_skeleton
    from matchers.minhash import normalise_text

    rows = []
    for f in feats:
        ids = dict()
        for k, v in f["identifiers"]:
            k = "phone" if k == "whatsapp" else k
            ids.setdefault(k, v)
        tg = ids.get("telegram") or (f["author"] if f["platform"] == "telegram" else None)
        snap = ids.get("snapchat") or (f["author"] if f["platform"] == "snapchat" else None)
        acct = f"{f['platform']}:{f['author']}" if f["author"] else None
        rows.append({"unique_id": f["id"], "account": acct, "phone": ids.get("phone"), "tg": tg, "snap": snap,
                     "email": ids.get("email"), "handle": handle_skeleton(f["author"]) or None,
                     "text": normalise_text(f["text"])[:300] or None})
    return rows


def run_splink(feats: list[dict]) -> dict[str, int]:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    df = pd.DataFrame(_norm_rows(feats))
    db = DuckDBAPI()
    sdf = db.register(df)
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("account"), block_on("phone"), block_on("tg"), block_on("snap"), block_on("email"), block_on("handle"),
            block_on("substr(text, 1, 40)"),
        ],
        comparisons=[
            cl.ExactMatch("account"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.ExactMatch("tg").configure(term_frequency_adjustments=True),
            cl.ExactMatch("snap"),
            cl.ExactMatch("email"),
            cl.JaroWinklerAtThresholds("handle", [0.95, 0.88]),
            cl.JaccardAtThresholds("text", [0.95, 0.8]),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(sdf, settings)
    linker.training.estimate_probability_two_random_records_match([block_on("phone"), block_on("email")],
                                                                  recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("substr(text, 1, 40)"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=0.95)
    out = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    url = {f["id"]: f["url"] for f in feats}
    return {url[int(u)]: str(c) for u, c in zip(out["unique_id"], out["cluster_id"], strict=True)}


def run_datasketch(feats: list[dict]) -> dict[str, int]:
    import numpy as np
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    from matchers.cluster import UnionFind
    from matchers.minhash import SHINGLE, normalise_text

    lsh = MinHashLSH(threshold=0.7, num_perm=64)
    n = len(feats)
    uf = UnionFind(n)
    for i, f in enumerate(feats):
        t = normalise_text(f["text"])
        sh = {t[k:k + SHINGLE].encode("utf-8") for k in range(max(1, len(t) - SHINGLE + 1))} if t else set()
        if not sh:
            continue
        m = MinHash(num_perm=64, seed=1)
        m.update_batch(list(sh))
        lm = LeanMinHash(m)
        for j in lsh.query(lm):
            uf.union(i, j)
        lsh.insert(i, lm)
    del np
    url = [f["url"] for f in feats]
    return {url[i]: uf.find(i) for i in range(n)}


METHODS = {
    "veille": lambda f: run_veille(f, "all"),
    "veille-ids": lambda f: run_veille(f, "ids"),
    "veille-content": lambda f: run_veille(f, "content"),
    "splink": run_splink,
    "datasketch": run_datasketch,
}


def child(data: Path, method: str, out: Path) -> None:
    feats = load(data)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru0.ru_utime + ru0.ru_stime
    t0 = time.time()
    pred = METHODS[method](feats)
    secs = time.time() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    with open(out, "w") as fh:
        json.dump({"seconds": secs, "cpu_s": cpu, "rss_mb": ru.ru_maxrss / 1024, "pred": pred}, fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--methods", default="veille,veille-ids,veille-content,datasketch,splink")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None, help="Also write the results as JSON here.")
    ap.add_argument("--prepare-only", action="store_true", help="Only extract and cache the features.")
    a = ap.parse_args()
    if a.child:
        child(a.data, a.child, a.out)
        return
    from matchers.cluster_eval import score

    prep = prepare(a.data)
    if a.prepare_only:
        print(f"features cached in {a.data / 'features.pkl'} ({prep:.1f} s)")
        return
    import os

    load1 = os.getloadavg()[0]
    truth = {}
    with open(a.data / "truth.jsonl") as fh:
        for line in fh:
            t = json.loads(line)
            truth[t["url"]] = t["seller"]
    results = []
    print(f"{len(truth)} posts, {len(set(truth.values()))} true sellers; extraction (prepare) {prep:.1f} s; "
          f"load average {load1:.1f} on {os.cpu_count()} cores", flush=True)
    hdr = (f"{'method':<16}{'pw P':>7}{'pw R':>7}{'pw F1':>7}{'B3 P':>7}{'B3 R':>7}{'B3 F1':>7}"
           f"{'clusters':>10}{'wall s':>9}{'CPU s':>8}{'RSS MB':>8}")
    print(hdr, flush=True)
    for m in a.methods.split(","):
        out = a.data / f"pred-{m}.json"
        r = subprocess.run([sys.executable, __file__, str(a.data), "--child", m, "--out", str(out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{m:<16} FAILED: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}",
                  flush=True)
            results.append({"method": m, "error": r.stderr[-2000:]})
            continue
        res = json.loads(out.read_text())
        sc = score(res["pred"], truth)
        pw, b3 = sc["pairwise"], sc["bcubed"]
        print(f"{m:<16}{pw['precision']:>7.3f}{pw['recall']:>7.3f}{pw['f1']:>7.3f}{b3['precision']:>7.3f}"
              f"{b3['recall']:>7.3f}{b3['f1']:>7.3f}{sc['predicted_clusters']:>10}{res['seconds']:>9.1f}"
              f"{res['cpu_s']:>8.1f}{res['rss_mb']:>8.0f}", flush=True)
        results.append({"method": m, "seconds": round(res["seconds"], 2), "cpu_s": round(res["cpu_s"], 2),
                         "rss_mb": round(res["rss_mb"]), "load_avg_1min_at_start": load1,
                        **{k: sc[k] for k in ("pairwise", "bcubed", "predicted_clusters", "true_clusters")}})
        out.unlink(missing_ok=True)
    if a.json:
        a.json.write_text(json.dumps({"posts": len(truth), "prepare_seconds": prep, "results": results}, indent=2))


if __name__ == "__main__":
    main()
