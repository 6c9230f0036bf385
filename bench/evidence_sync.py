"""CPU cost of storing evidence blobs one by one or deferred and flushed in groups (a benchmark, not a test).

Three ways of storing N blobs of S bytes in a fresh ``EvidenceStore``, in alternating rounds:

- **each**: ``put_bytes(data)``: fsync of the file, rename, fsync of its folder, per blob (every command
  except the crawl's writer);
- **syncfs**: ``put_bytes(data, defer=True)`` and ``sync()`` every G blobs, as the crawl's storage writer
  does once per database group: one ``syncfs`` before the renames and one after (Linux);
- **files**: the same with ``VEILLE_EVIDENCE_SYNC=files``: each file, then each distinct folder, fsynced at
  ``sync()`` (other systems).

For each, the process's CPU time per blob (``time.process_time``: user + system) and the whole machine's
busy time per blob (``/proc/stat``, all cores: the kernel's writeback threads work outside the process), and
wall time. On a 2-core machine where the crawl's two processes already fill both cores, the machine's busy
time is what the crawl pays.

The stores go under ``bench/out`` by default: on an ext4 file system without a journal, creating files in a
folder where thousands were just deleted costs several times more (docs/crawling.md), so the rounds keep
their stores until the end and ``/tmp`` is avoided.

    .venv/bin/python bench/evidence_sync.py                      # 2,000 blobs of 6 KB, group 40, 3 rounds
    .venv/bin/python bench/evidence_sync.py --blobs 5000 --group 20 --size 15000 --json
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

from storage.evidence import _SYNCFS, SYNC_ENV, EvidenceStore  # noqa: E402


def _busy_jiffies() -> int | None:
    try:
        with open("/proc/stat") as fh:
            f = fh.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in f[1:8])
    return user + nice + system + irq + softirq


def one(mode: str, base: Path, blobs: int, size: int, group: int, seed: int) -> dict:
    store = EvidenceStore(Path(tempfile.mkdtemp(dir=base, prefix=f"{mode}-")))
    payload = os.urandom(size)
    if mode == "files":
        os.environ[SYNC_ENV] = "files"
    else:
        os.environ.pop(SYNC_ENV, None)
    hz = os.sysconf("SC_CLK_TCK")
    b0, c0, w0 = _busy_jiffies(), time.process_time(), time.monotonic()
    for i in range(blobs):
        data = payload[:-8] + (seed * 10_000_000 + i).to_bytes(8, "big")
        if mode == "each":
            store.put_bytes(data)
        else:
            store.put_bytes(data, defer=True)
            if (i + 1) % group == 0:
                store.sync()
    store.sync()
    c1, w1, b1 = time.process_time(), time.monotonic(), _busy_jiffies()
    os.environ.pop(SYNC_ENV, None)
    out = {"mode": mode, "cpu_us_per_blob": round((c1 - c0) / blobs * 1e6),
           "wall_us_per_blob": round((w1 - w0) / blobs * 1e6)}
    if b0 is not None and b1 is not None:
        out["machine_us_per_blob"] = round((b1 - b0) / hz / blobs * 1e6)
    return out


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blobs", type=int, default=2000)
    ap.add_argument("--size", type=int, default=6000, help="bytes per blob (an ad page is 5-15 KB)")
    ap.add_argument("--group", type=int, default=40, help="blobs per sync() (the writer: one per database group)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    modes = ["each", "files"] + (["syncfs"] if _SYNCFS is not None else [])
    args.dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(dir=args.dir, prefix="evsync-"))
    runs: list[dict] = []
    try:
        for r in range(args.rounds):
            for k in range(len(modes)):
                mode = modes[(k + r) % len(modes)]  # rotate the order every round
                runs.append(one(mode, base, args.blobs, args.size, args.group, r * 10 + k))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    summary = {}
    for mode in modes:
        rs = [x for x in runs if x["mode"] == mode]
        summary[mode] = {k: _median([x[k] for x in rs]) for k in rs[0] if k != "mode"}
    res = {"blobs": args.blobs, "size": args.size, "group": args.group, "rounds": args.rounds,
           "load_before": list(os.getloadavg()), "median": summary, "runs": runs}
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{args.blobs} blobs of {args.size} bytes, sync every {args.group}, {args.rounds} rounds "
              f"(medians, µs per blob)")
        print(f"{'mode':8} {'process CPU':>12} {'machine busy':>13} {'wall':>8}")
        for mode, s in summary.items():
            print(f"{mode:8} {s['cpu_us_per_blob']:>12} {s.get('machine_us_per_blob', '-'):>13} "
                  f"{s['wall_us_per_blob']:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
