"""Drafting and re-check throughput for one large seller (issue 8).

Seeds a temporary workspace with one seller holding N offers (fictional,
ARCEP fiction numbers, .example domains), each with one capture, then times:
a notice (md, eml), a complaint (md, docx, pdf), and a re-check of every post
against a local 127.0.0.1 server (no politeness delay, so it measures veille's
own cost per post, not the network). 20 buyers write in the same channel, so
drafts pseudonymise them. Wall and CPU seconds are reported (the re-check's
CPU includes the test server's thread, which runs in the same process).

    .venv/bin/python bench/drafting_bench.py --posts 1000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from storage import Artifact, Capture, Post, init_workspace, save_post
from storage.cases import add_to_case, create_case
from storage.drafting import draft_complaint, draft_notice
from storage.recheck import recheck


class _Verdict:
    def __init__(self, category, subtype):
        self.category, self.subtype, self.score, self.reasons, self.lexicon_version = category, subtype, 0.9, [], "b"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        n = int(self.path.rsplit("/", 1)[-1] or 0)
        self.send_response(404 if n % 3 == 0 else 200)
        self.end_headers()
        self.wfile.write(f"<h1>RDV préfecture {n}</h1><p>Rendez-vous préfecture dispo, 150 euros, annonce {n}. "
                         "Tel 06 39 98 12 34</p>".encode() if n % 3 == 1 else b"<p>Annonce modifiee: velo</p>")

    def log_message(self, *args):
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1000)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    out: dict = {"posts": args.posts}
    with tempfile.TemporaryDirectory() as d:
        ws, _ = init_workspace(Path(d) / "ws")
        cfg = ws.config.data
        cfg["notifier"].update(organisation="Association Bench", email="bench@asso.example")
        cfg["complaint"].update(reporter_name="Association Bench", tribunal="Tribunal judiciaire de Paris")
        cfg["drafting"]["recheck_delay"] = 0
        cfg["drafting"]["recheck_via"] = "builtin"
        cfg["collect"]["obey_robots"] = False
        t0 = time.perf_counter()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(1, args.posts + 1):
            url = f"{base}/ad/{i}"
            p = Post(platform="leboncoin", external_id=str(i), url=url, source="bench", author_handle="rdv_bench",
                     title=f"RDV préfecture {i}", text=f"Rendez-vous préfecture dispo, 150 euros, annonce {i}. "
                     "Tel 06 39 98 12 34", price=150.0, currency="EUR", posted_at=start + timedelta(hours=i))
            cap = Capture(url=url, http_status=200, fetched_at=start + timedelta(hours=i, minutes=5),
                          artifacts=[Artifact(role="raw_html", data=f"<p>{p.text}</p>".encode(), mime="text/html")])
            save_post(ws, p, cap, verdict=_Verdict("appointment_resale", "prefecture"))
        for i in range(20):  # buyers in the same channel: pseudonymised in every draft
            p = Post(platform="leboncoin", external_id=f"buyer-{i}", source="bench", author=f"Acheteur Banc{i:02d}",
                     author_handle=f"acheteur_banc_{i:02d}", text=f"je prends, appelez-moi 01 99 00 {i:02d} 00",
                     posted_at=start + timedelta(hours=i), extra={"role": "buyer"})
            save_post(ws, p, Capture(kind="import", fetched_at=start, artifacts=[
                Artifact(role="import_record", data=p.text.encode(), mime="text/plain")]))
        ws.db.execute("insert into sellers(id, label, created_at, updated_at) values (1, 'bench', '2026', '2026')")
        ws.db.execute("update posts set seller_id = 1 where author_role is null or author_role = ''")
        out["seed_s"] = round(time.perf_counter() - t0, 2)
        for kind, fn in [
            ("notice_md", lambda: draft_notice(ws, "leboncoin", seller_id=1, fmt="md", build_bundle=False)),
            ("notice_eml", lambda: draft_notice(ws, "leboncoin", seller_id=1, fmt="eml", to="a@b.example",
                                                build_bundle=False)),
            ("complaint_md", lambda: draft_complaint(ws, 1, fmt="md", build_bundle=False)),
            ("complaint_docx", lambda: draft_complaint(ws, 1, fmt="docx", build_bundle=False)),
            ("complaint_pdf", lambda: draft_complaint(ws, 1, fmt="pdf", build_bundle=False)),
        ]:
            t, c = time.perf_counter(), time.process_time()
            res = fn()
            out[kind] = {"seconds": round(time.perf_counter() - t, 2), "cpu_seconds": round(time.process_time() - c, 2),
                         "bytes": res.path.stat().st_size}
        create_case(ws, "bench")
        add_to_case(ws, "bench", seller_ids=[1])
        t, c = time.perf_counter(), time.process_time()
        rep = recheck(ws, case="bench", relisting=True)
        dt = time.perf_counter() - t
        out["recheck"] = {"seconds": round(dt, 2), "cpu_seconds": round(time.process_time() - c, 2),
                          "posts_per_second": round(rep.checked / dt, 1),
                          "outcomes": rep.outcomes}
        ws.close()
    srv.shutdown()
    import os

    out["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
