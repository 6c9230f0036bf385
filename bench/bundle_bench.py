"""Benchmark: evidence bundle for one seller with N posts and N screenshots.

Builds a fictional workspace per screenshot size (N posts, each with a ~30 KB
raw HTML page and one full-page PNG screenshot of about the given size, plus
a few third parties in the same chat so redaction runs), then builds the
bundle in a fresh process and reports wall time and peak RSS, and verifies it
(also in a fresh process). Comparing two screenshot sizes shows whether memory
grows with the bundle's total size.

    .venv/bin/python bench/bundle_bench.py                    # 1000 posts, 150 KB and 600 KB screenshots
    .venv/bin/python bench/bundle_bench.py --posts 1000 --sizes 150,600,1200 --keep /tmp/bb

Target (issue 7): 1,000 posts + 1,000 screenshots bundled in <= 30 s.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def base_png(target_kb: int, seed: int = 0) -> bytes:
    """A 1280-px-wide 'full-page screenshot': flat page with text bars and a photo-like noisy block."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    img = Image.new("RGB", (1280, 2400), (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 1280, 60], fill=(30, 30, 30))
    d.text((20, 20), "https://ads.example/annonce  captured 2026-11-20T10:00:00Z (UTC)", fill=(255, 255, 0))
    for y in range(100, 2300, 28):
        w = rnd.randint(300, 1100)
        d.rectangle([40, y, 40 + w, y + 12], fill=(90, 90, 90))
    side = int((target_kb * 1024 / 3) ** 0.5)
    noise = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    img.paste(noise, (640 - side // 2, 400))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def unique_png(base: bytes, n: int) -> bytes:
    """Insert a tEXt chunk so each screenshot has its own hash (valid PNG, same size)."""
    data = b"veille-bench\x00" + str(n).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return base[:33] + chunk + base[33:]  # right after IHDR


def html_page(n: int, rnd: random.Random) -> bytes:
    words = ("rendez-vous préfecture titre de séjour disponible contactez-moi rapide sérieux paiement "
             "créneau VFS visa Schengen dossier urgent").split()
    body = " ".join(rnd.choice(words) for _ in range(4000))
    return (f"<html><head><title>Annonce {n}</title></head><body><h1>RDV préfecture {n}</h1>"
            f"<p>{body}</p><p>Contact 06 39 98 01 01</p>"
            f"<div class='comments'>Réponse de Acheteur Bench{n % 20:02d}</div></body></html>").encode()


def seed_workspace(root: Path, posts: int, size_kb: int) -> None:
    from storage import Artifact, Capture, Post, init_workspace, save_post

    ws, _ = init_workspace(root)
    rnd = random.Random(size_kb)
    base = base_png(size_kb)
    at = datetime(2026, 10, 1, tzinfo=UTC)
    for n in range(posts):
        when = at + timedelta(minutes=17 * n)
        p = Post(platform="leboncoin", external_id=f"bench-{n}", url=f"https://ads.example/annonce/{n}",
                 title=f"RDV préfecture {n}", text=f"RDV préfecture dispo {n}, 80€, appelez 06 39 98 01 01",
                 price=80.0, currency="EUR", posted_at=when, fetched_at=when, author="Vendeur Bench",
                 author_handle="vendeur_bench", source="chat:bench")
        cap = Capture(url=p.url, http_status=200, fetched_at=when, headers={"Content-Type": "text/html"},
                      user_agent="veille-bench",
                      artifacts=[Artifact(role="raw_html", data=html_page(n, rnd), mime="text/html"),
                                 Artifact(role="screenshot", data=unique_png(base, n), mime="image/png")])
        save_post(ws, p, cap)
    for n in range(20):  # third parties in the same chat
        p = Post(platform="telegram", external_id=f"bench-buyer-{n}", text="je prends le RDV",
                 author=f"Acheteur Bench{n:02d}", author_handle=f"acheteur_bench_{n:02d}", source="chat:bench",
                 extra={"role": "buyer"})
        save_post(ws, p, Capture(kind="import", fetched_at=at, artifacts=[
            Artifact(role="import_record", data=json.dumps({"from": p.author}).encode(), mime="application/json")]))
    now = "2026-11-20T00:00:00Z"
    ws.db.execute("insert into sellers(id, label, created_at, updated_at) values (1, 'Vendeur Bench', ?, ?)",
                  [now, now])
    ws.db.execute("update posts set seller_id = 1 where external_id like 'bench-%' and external_id not like "
                  "'bench-buyer-%'")
    ws.close()


def child_build(ws_root: str, out: str) -> None:
    from storage import Workspace
    from storage.bundle import build_bundle

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Workspace.open(ws_root) as ws:
        t, c = time.perf_counter(), time.process_time()
        res = build_bundle(ws, seller=1, output=out)
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "rss_after_imports_mb": round(base_rss / 1024, 1),
        "items": res.items, "files": res.files, "zip_mb": round(res.size / 1e6, 1), "redactions": res.redactions}))


def child_verify(path: str) -> None:
    from storage.verify_bundle import verify_bundle

    t, c = time.perf_counter(), time.process_time()
    rep = verify_bundle(path)
    print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "cpu_seconds": round(time.process_time() - c, 2),
                      "ok": rep.ok, "files": rep.files_checked,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--sizes", default="150,600", help="screenshot sizes in KB, comma-separated")
    ap.add_argument("--keep", type=Path, help="folder to keep the workspaces and bundles in")
    ap.add_argument("--child-build", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--child-verify", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_build:
        return child_build(*a.child_build)
    if a.child_verify:
        return child_verify(a.child_verify)
    base = a.keep or Path(tempfile.mkdtemp(prefix="bundle-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for kb in [int(x) for x in a.sizes.split(",")]:
        ws = base / f"ws-{a.posts}-{kb}kb"
        if not (ws / "veille.db").exists():
            t = time.perf_counter()
            seed_workspace(ws, a.posts, kb)
            print(f"seeded {ws} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        out = base / f"bundle-{a.posts}-{kb}kb.zip"
        b = json.loads(subprocess.run([sys.executable, __file__, "--child-build", str(ws), str(out)],
                                      check=True, capture_output=True, text=True, cwd=ROOT).stdout)
        v = json.loads(subprocess.run([sys.executable, __file__, "--child-verify", str(out)],
                                      check=True, capture_output=True, text=True, cwd=ROOT).stdout)
        results.append({"posts": a.posts, "screenshot_kb": kb, "build": b, "verify": v})
        print(f"{a.posts} posts, {kb} KB screenshots: bundle {b['zip_mb']} MB ({b['files']} files) built in "
              f"{b['seconds']} s ({b['cpu_seconds']} s CPU), peak RSS {b['peak_rss_mb']} MB (after imports {b['rss_after_imports_mb']} MB); "
              f"verified ok={v['ok']} in {v['seconds']} s ({v['cpu_seconds']} s CPU), peak RSS {v['peak_rss_mb']} MB")
    import os

    print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(json.dumps(results, indent=1))
    if not a.keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
