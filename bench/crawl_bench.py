"""Crawl throughput: full veille pipeline vs a bare Scrapy spider, on a local site of N ad pages.

Usage::

    .venv/bin/python bench/crawl_bench.py [--ads 5000] [--per-page 50] [--concurrency 16] [--shots 20]

A local fixture site (127.0.0.1, one thread per connection) serves N
leboncoin-style ad pages (``__NEXT_DATA__`` + ``data-qa-id`` markup, one image
each, half of them resale offers) behind result pages of ``--per-page`` links.
In the same run, side by side:

(a) ``spiders.run.crawl`` with the shipped leboncoin profile (base URL
    overridden): parse, classify, extract, store the post, the raw page, the
    headers and the image (SHA-256 + perceptual hash) with custody entries;
    no screenshots;
(b) a bare ``scrapy.Spider`` that follows the same result pages and yields
    ``{"url": ...}`` for every ad page, with no pipeline (with ``--bare-images``
    it also downloads each ad's image, so both make the same HTTP requests);

both with the same concurrency, no delay, robots.txt on, and the same engine
settings and process set-up where veille departs from Scrapy's and Python's
defaults (``ENGINE_SETTINGS`` below: CONCURRENT_ITEMS, the generator check, the
loggers' level, spiders/gcpolicy.py's collector policy), so that the ratio
measures the pipeline, not tuning the bare spider lacks
(``--bare-scrapy-defaults`` gives the bare spider the defaults). The ratio is
(a) ads/s divided by (b) ads/s (target: >= 0.5), as the median of ``--repeat``
bare/full pairs run one after the other. Each pair also gives the ratio of ads
per CPU-second (user + system time of the crawl process and its threads, as
counted by the kernel for finished children; the local server, in this
process, is not counted): on a machine shared with other jobs the wall-clock
ratio depends on the load, and favours the full pipeline, whose 6 threads get
a larger share of a busy CPU than the bare spider's one; the CPU ratio does
not. Then ``--shots`` positive ads are crawled with screenshots on and off to
give screenshots per minute (and CPU seconds per screenshot, browser
included).

Every ad has its own 640x480 JPEG (~15 KB), as real ads have their own photos,
so every image is a new blob in the evidence store.

The workspaces go under ``--dir`` (default: ``bench/out/`` in the repository, on
the disk where a workspace would live), not under the system's temporary folder:
on an ext4 file system without a journal (this VM's root disk), making a file
skips, one by one, the inodes freed in the last one to six minutes, so in a
folder where other programs delete many files (``/tmp`` here: test suites,
other benchmarks) each new file costs up to ~1 ms of CPU instead of ~0.1 ms.
The results give that cost, measured in the workspaces' folder before the
crawls (``file_create_us``): a high figure means the store's writes were slowed
by the disk, not by veille. Recent mass deletions near ``--dir`` (a previous run's
clean-up) slow the next run for a few minutes in the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = [
    ("Vends rendez-vous préfecture", "Je vends un rendez-vous préfecture pour titre de séjour, 150 euros, "
     "contact WhatsApp +33 6 39 98 12 34."),
    ("Vélo de ville", "Vélo de ville en bon état, pneus neufs, 120 euros."),
    ("Créneau naturalisation", "Créneau de dépôt naturalisation à vendre, 200 euros, tel 06 39 98 45 67."),
    ("Table en chêne", "Table en chêne massif, six places, à venir chercher."),
]


def _jpeg(seed: int) -> bytes:
    """A 640x480 photo-like JPEG (gradient, shapes): the size of an ad's "large" image."""
    from PIL import Image, ImageDraw

    im = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    d = ImageDraw.Draw(im)
    for k in range(6):
        x, y = (seed * 53 + k * 97) % 560, (seed * 31 + k * 71) % 400
        d.ellipse([x, y, x + 80, y + 60], fill=(seed * 37 % 256, (seed + k) * 91 % 256, k * 53 % 256))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def image_bytes(bases: list[bytes], i: int) -> bytes:
    """Ad i's image: one of a few base pictures, made unique per ad (trailing bytes after the JPEG end,
    ignored by decoders), so every ad stores its own blob as with real photos."""
    return bases[i % len(bases)] + b"ad-%d" % i


def ad_page(i: int) -> bytes:
    title, text = TEXTS[i % len(TEXTS)]
    title = f"{title} n°{i}"
    ad = {"list_id": 100000 + i, "subject": title, "body": text, "price": [100 + i % 300],
          "first_publication_date": "2026-11-20 10:00:00", "images": {"urls_large": [f"/img/{i}.jpg"]},
          "owner": {"user_id": f"u{i % 700}", "name": f"Vendeur {i % 700}"}, "location": {"city_label": "Paris"}}
    nd = json.dumps({"props": {"pageProps": {"ad": ad}}}, ensure_ascii=False).replace("</", "<\\/")
    filler = "".join(f"<li>Caractéristique {k} de l'annonce {i}</li>" for k in range(40))  # ~ a real page's weight
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}</title></head><body>'
            f'<h1 data-qa-id="adview_title">{escape(title)}</h1><div data-qa-id="adview_price">{100 + i % 300} €</div>'
            f'<div data-qa-id="adview_description_container"><p>{escape(text)}</p></div><ul>{filler}</ul>'
            f'<script id="__NEXT_DATA__" type="application/json">{nd}</script></body></html>').encode()


def make_server(n_ads: int, per_page: int, shared_images: bool = False) -> ThreadingHTTPServer:
    jpegs = [_jpeg(k) for k in range(16)]

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

        def log_message(self, *a):
            pass

        def _send(self, code, body, ctype="text/html; charset=utf-8"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            u = urlsplit(self.path)
            p = u.path
            if p == "/robots.txt":
                return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            if p.endswith("/recherche"):
                page = int(parse_qs(u.query).get("page", ["1"])[0])
                lo, hi = (page - 1) * per_page, min(page * per_page, n_ads)
                links = "".join(f'<a data-qa-id="aditem_container" href="/b/ad/services/{100000 + i}">ad</a>'
                                for i in range(lo, hi))
                nxt = f'<a data-qa-id="pagination_next" href="/b/recherche?page={page + 1}">next</a>' \
                    if hi < n_ads else ""
                return self._send(200, f"<html><body>{links}{nxt}</body></html>".encode())
            if "/ad/services/" in p:
                i = int(p.rsplit("/", 1)[1]) - 100000
                return self._send(200, ad_page(i)) if 0 <= i < n_ads else self._send(404, b"gone")
            if "/img/" in p:
                i = int(p.rsplit("/", 1)[1].split(".")[0])
                body = jpegs[i % len(jpegs)] if shared_images else image_bytes(jpegs, i)
                return self._send(200, body, "image/jpeg")
            return self._send(404, b"not found")

    class Server(ThreadingHTTPServer):
        # socketserver's default listen backlog is 5: a crawl opening 16-32 connections at once overflowed it,
        # and the dropped connection attempts were retried by the kernel after 1, 3, 7 … s (stalls of a minute)
        request_queue_size = 256

    srv = Server(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ------------------------------------------------------------------ (b) bare spider, run in a child process
#: The engine settings veille's crawls use (spiders/settings.py) that any spider would pay for otherwise: the
#: bare spider gets them too, unless Scrapy's defaults are asked for (--bare-scrapy-defaults).
ENGINE_SETTINGS = ("CONCURRENT_ITEMS",  # asyncio tasks started per response (Scrapy's default: 100)
                   "WARN_ON_GENERATOR_RETURN_VALUE")  # Scrapy's per-response source check of the callback


def veille_engine_settings() -> dict:
    """ENGINE_SETTINGS' values in veille, and ``process_setup``: the bare spider's process is set up as veille's
    crawl process is (spiders/run.py ``worker``): Scrapy's loggers at the log level, so the engine's dropped
    DEBUG messages are not built, and spiders/gcpolicy.py's collector policy."""
    from spiders import settings as veille_settings

    return {**{k: getattr(veille_settings, k) for k in ENGINE_SETTINGS}, "process_setup": True}


def bare(base: str, pages: int, concurrency: int, out: str, engine: dict | None = None, images: bool = False) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    counter = {"n": 0}
    engine = dict(engine or {})
    process_setup = engine.pop("process_setup", False)

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):
            yield scrapy.Request(f"{base}/recherche?page=1", callback=self.parse_list, meta={"page": 1})

        def parse_list(self, response):
            for href in response.css("a[data-qa-id=aditem_container]::attr(href)").getall():
                yield response.follow(href, self.parse_ad)
            nxt = response.css("a[data-qa-id=pagination_next]::attr(href)").get()
            if nxt and response.meta["page"] < pages:
                yield response.follow(nxt, self.parse_list, meta={"page": response.meta["page"] + 1})

        def parse_ad(self, response):
            counter["n"] += 1
            yield {"url": response.url}
            if images:  # the same requests as the full pipeline: each ad's images too (read from its JSON)
                for m in re.finditer(r'"urls_large": ?\[([^\]]*)\]', response.text):
                    for u in re.findall(r'"([^"]+)"', m.group(1)):
                        yield response.follow(u, self.parse_image)

        def parse_image(self, response):
            yield {"image": response.url, "bytes": len(response.body)}

    proc = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": True, "DOWNLOAD_DELAY": 0,
                           "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                           "AUTOTHROTTLE_ENABLED": False, "COOKIES_ENABLED": False,
                           **(engine or {}),
                           "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
    proc.crawl(Bare)
    if process_setup:  # as spiders/run.py's worker does
        from spiders.gcpolicy import settle
        from spiders.run import quiet_loggers

        quiet_loggers("WARNING")
        settle()
    t0 = time.monotonic()
    proc.start()
    Path(out).write_text(json.dumps({"items": counter["n"], "seconds": time.monotonic() - t0}))


def child_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's finished children (the crawl processes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu() -> float:
    """CPU seconds used so far by this process: the local fixture server's threads (and this script)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_bare(base: str, pages: int, concurrency: int, engine: dict,
             images: bool = False) -> tuple[int, float, float]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    c0, t0 = child_cpu(), time.monotonic()
    subprocess.run([sys.executable, __file__, "--bare", base, str(pages), str(concurrency), out, json.dumps(engine),
                    "1" if images else "0"],
                   check=True,
                   cwd=ROOT)
    wall, cpu = time.monotonic() - t0, child_cpu() - c0
    data = json.loads(Path(out).read_text())
    os.unlink(out)
    return data["items"], wall, cpu


@contextlib.contextmanager
def run_dir(parent: Path, keep: bool):
    """A new folder for the run's workspaces, deleted at the end unless ``keep``."""
    d = tempfile.mkdtemp(prefix="veille-bench-", dir=parent)
    try:
        yield d
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def file_create_cost(folder: Path, n: int = 300) -> float:
    """CPU µs to make, write (15 KB), fsync and rename one file in a new sub-folder of ``folder``, as the
    evidence store does; the files are left there (deleted with the run's folder, at the end)."""
    d = folder / "fs-probe"
    d.mkdir()
    data = b"x" * 15000
    c0 = time.process_time()
    for i in range(n):
        fd = os.open(d / f".tmp{i}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.replace(d / f".tmp{i}", d / f"f{i}")
    return round((time.process_time() - c0) / n * 1e6, 1)


def new_ws(root: Path):
    from storage import Workspace, init_workspace

    ws, _ = init_workspace(root)
    ws.close()
    cfg = root / "veille.toml"
    cfg.write_text(cfg.read_text("utf-8").replace("download_delay = 2.0", "download_delay = 0.0"), "utf-8")
    return Workspace.open(root)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], json.loads(sys.argv[6]),
             sys.argv[7] == "1")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ads", type=int, default=5000)
    ap.add_argument("--per-page", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--no-images", action="store_true", help="full pipeline without image downloads")
    ap.add_argument("--repeat", type=int, default=3, help="bare/full pairs (the median ratio is reported)")
    ap.add_argument("--shared-images", action="store_true",
                    help="16 pictures shared by all ads (stored once each), as in the first version of this bench")
    ap.add_argument("--dir", type=Path, default=ROOT / "bench" / "out",
                    help="where the temporary workspaces go (default: bench/out; see above about /tmp)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run's workspaces (deleting ~15,000 files slows the file creations of the next run "
                         "in the same folder for a few minutes on this disk; delete them later)")
    ap.add_argument("--bare-images", action="store_true",
                    help="the bare spider also downloads each ad's images: the same HTTP requests as the full "
                         "pipeline with images (the issue's target compares with a bare spider that fetches the "
                         "ad pages only)")
    ap.add_argument("--bare-scrapy-defaults", action="store_true",
                    help="the bare spider with Scrapy's and Python's defaults: CONCURRENT_ITEMS 100 instead of veille's 16 "
                         "(the figures published before 2026-12-06 were measured so: about half the bare speed), "
                         "the per-response generator check, Python's garbage-collector thresholds")
    args = ap.parse_args()
    from spiders.run import crawl

    bare_engine = {} if args.bare_scrapy_defaults else veille_engine_settings()

    srv = make_server(args.ads, args.per_page, args.shared_images)
    base = f"http://127.0.0.1:{srv.server_address[1]}/b"
    pages = -(-args.ads // args.per_page)
    settings = {"CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                "AUTOTHROTTLE_ENABLED": False, "VEILLE_DOWNLOAD_IMAGES": not args.no_images}
    results: dict = {"load_before": [round(x, 1) for x in os.getloadavg()], "runs": []}
    args.dir.mkdir(parents=True, exist_ok=True)
    with run_dir(args.dir, args.keep) as tmp:
        results["file_create_us"] = file_create_cost(Path(tmp))
        for k in range(args.repeat):  # bare and full alternate, so both see the same machine load
            s0 = self_cpu()
            n_bare, t_bare, c_bare = run_bare(base, pages, args.concurrency, bare_engine, args.bare_images)
            s_bare = self_cpu() - s0
            ws = new_ws(Path(tmp) / f"full-{k}")
            cpu_report = Path(tmp) / f"cpu-{k}.jsonl"
            os.environ["VEILLE_CPU_REPORT"] = str(cpu_report)
            c0, t0, s0 = child_cpu(), time.monotonic(), self_cpu()
            rep = crawl(ws, ["leboncoin"], keywords=["rdv"], max_pages=pages, base_urls={"leboncoin": base},
                        screenshots=False, settings=settings)
            t_full, c_full, s_full = time.monotonic() - t0, child_cpu() - c0, self_cpu() - s0
            del os.environ["VEILLE_CPU_REPORT"]
            split = json.loads(cpu_report.read_text().splitlines()[-1]) if cpu_report.exists() else {}
            r = rep.sites["leboncoin"]
            n_posts = ws.db.execute("select count(*) from posts").fetchone()[0]
            n_pos = ws.db.execute("select count(*) from posts where category != 'none'").fetchone()[0]
            n_blobs = ws.db.execute("select count(*) from blobs").fetchone()[0]
            ws.close()
            results["runs"].append({
                "bare": {"ads": n_bare, "seconds": round(t_bare, 1), "ads_per_s": round(n_bare / t_bare, 1),
                         "cpu_s": round(c_bare, 1), "ads_per_cpu_s": round(n_bare / c_bare, 1),
                         "server_cpu_s": round(s_bare, 1)},
                "full": {"ads": r.items, "posts": n_posts, "positive": n_pos, "blobs": n_blobs, "media": r.media,
                         "status": r.status, "seconds": round(t_full, 1), "ads_per_s": round(r.items / t_full, 1),
                         "cpu_s": round(c_full, 1), "ads_per_cpu_s": round(r.items / c_full, 1),
                         "server_cpu_s": round(s_full, 1), **split},
                "ratio_wall": round((r.items / t_full) / (n_bare / t_bare), 3),
                "ratio_cpu": round((r.items / c_full) / (n_bare / c_bare), 3)})
        results["ratio_full_over_bare"] = statistics.median(x["ratio_wall"] for x in results["runs"])
        results["ratio_cpu_full_over_bare"] = statistics.median(x["ratio_cpu"] for x in results["runs"])
        if args.shots:
            per = args.shots * 2  # half of the ads are offers
            shot_pages = 1
            srv2 = make_server(per, per)
            base2 = f"http://127.0.0.1:{srv2.server_address[1]}/b"
            times = {}
            for on in (False, True):
                ws2 = new_ws(Path(tmp) / f"shots-{on}")
                c0, t0 = child_cpu(), time.monotonic()
                rep2 = crawl(ws2, ["leboncoin"], keywords=["rdv"], max_pages=shot_pages,
                             base_urls={"leboncoin": base2}, screenshots=on, settings=settings)
                times[on] = (time.monotonic() - t0, rep2.sites["leboncoin"], child_cpu() - c0)
                ws2.close()
            n_shots = times[True][1].screenshots
            extra = max(times[True][0] - times[False][0], 1e-6)
            results["screenshots"] = {"taken": n_shots, "errors": times[True][1].screenshot_errors,
                                      "crawl_seconds_with": round(times[True][0], 1),
                                      "crawl_seconds_without": round(times[False][0], 1),
                                      "per_minute_marginal": round(n_shots / extra * 60, 1),
                                      "per_minute_overall": round(n_shots / times[True][0] * 60, 1),
                                      # CPU of the crawl process and its browser (Chromium is its descendant)
                                      "cpu_seconds_with": round(times[True][2], 1),
                                      "cpu_seconds_without": round(times[False][2], 1),
                                      "cpu_seconds_per_screenshot": round(
                                          (times[True][2] - times[False][2]) / max(n_shots, 1), 2)}
            srv2.shutdown()
    srv.shutdown()
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    results["settings"] = {"ads": args.ads, "per_page": args.per_page, "concurrency": args.concurrency,
                           "bare_engine_settings": bare_engine or "scrapy defaults",
                           "bare_images": args.bare_images,
                           "images": not args.no_images, "shared_images": args.shared_images,
                           "dir": str(args.dir), "kept": tmp if args.keep else None,
                           "cpus": os.cpu_count()}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
