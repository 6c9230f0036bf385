"""Benchmark: import a generated Telegram Desktop export (default 1,000,000 messages).

Usage::

    .venv/bin/python bench/telegram_export_bench.py [--messages 1000000] [--out bench/out/tgexport]

It writes a single-chat export (``result.json`` + a ``photos/`` folder) of
fictional messages — mostly chat, ~4 % offers, mentions, text arrays with
entities, replies, edits, service messages and photos — into a fresh
workspace folder, then runs ``import_export`` in a child process and reports
messages per second and the child's peak RSS (``ru_maxrss``). Target: RSS
under 500 MB whatever the export size (the file is parsed as a stream).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
CHAT = ["Bonjour, quelqu'un sait si la préfecture ouvre samedi ?", "Merci pour l'info !",
        "J'ai eu mon récépissé hier, courage à tous", "Le site ANEF est encore en panne",
        "Quelqu'un a des nouvelles du dossier naturalisation ?", "ok", "Super, merci beaucoup",
        "Il faut prendre rendez-vous en ligne, c'est gratuit normalement"]
OFFERS = ["Vends RDV préfecture de Bobigny titre de séjour, dispo demain 80€, contact @rdv_vendeur_{n}",
          "Créneaux VFS Global visa France disponibles, 150€, WhatsApp 06 39 98 {a:02d} {b:02d}",
          "Faux passeport et carte d'identité, qualité top, livraison rapide, t.me/docs_fiction_{n}"]


def generate(folder: Path, n: int, seed: int = 7) -> Path:
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photos").mkdir(exist_ok=True)
    for i in range(200):
        (folder / "photos" / f"photo_{i}.png").write_bytes(PNG + i.to_bytes(4, "big"))
    path = folder / "result.json"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{\n "name": "Groupe RDV (fiction)",\n "type": "private_supergroup",\n "id": 1999000001,\n'
                 ' "messages": [\n')
        t0 = 1_780_000_000
        for i in range(1, n + 1):
            ts = t0 + i * 30
            m: dict = {"id": i, "type": "message", "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)),
                       "date_unixtime": str(ts)}
            r = rnd.random()
            if r < 0.01:
                m.update(type="service", actor=f"Membre {i % 500}", actor_id=f"user{1000 + i % 500}",
                         action="invite_members", members=[f"Membre {rnd.randrange(5000)}"], text="",
                         text_entities=[])
            else:
                sender = rnd.randrange(400)
                m.update({"from": f"Membre {sender}", "from_id": f"user{1000 + sender}"})
                if r < 0.05:
                    txt = rnd.choice(OFFERS).format(n=i % 97, a=i % 100, b=(i * 7) % 100)
                    m["text"] = [txt[:20], {"type": "bold", "text": txt[20:40]}, txt[40:]]
                    m["text_entities"] = [{"type": "plain", "text": txt[:20]}, {"type": "bold", "text": txt[20:40]},
                                          {"type": "plain", "text": txt[40:]}]
                else:
                    txt = rnd.choice(CHAT) + (f" #{i}" if r < 0.5 else "")
                    m["text"] = txt
                    m["text_entities"] = [{"type": "plain", "text": txt}]
                if rnd.random() < 0.1 and i > 1:
                    m["reply_to_message_id"] = rnd.randrange(1, i)
                if rnd.random() < 0.03:
                    m["edited"] = m["date"]
                    m["edited_unixtime"] = str(ts + 60)
                if rnd.random() < 0.002:
                    m["photo"] = f"photos/photo_{rnd.randrange(200)}.png"
                    m["width"] = m["height"] = 1
            fh.write("  " + json.dumps(m, ensure_ascii=False) + (",\n" if i < n else "\n"))
        fh.write(" ]\n}\n")
    return path


def child_parse(export: str) -> None:
    """Parse only (stream + JSON decode of every message), no database: the parser's own cost."""
    from telegram_watch.jsonstream import JsonStream

    t = time.perf_counter()
    n = 0
    with open(Path(export) / "result.json", "rb") as fh:
        js = JsonStream(fh)
        for key in js.iter_object():
            if key == "messages":
                for _ in js.iter_array():
                    js.value()
                    n += 1
            else:
                js.value()
    dt = time.perf_counter() - t
    print(json.dumps({"seconds": dt, "messages": n,
                      "rss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def child_import(ws_root: str, export: str) -> None:
    from storage import init_workspace
    from telegram_watch.export import import_export

    ws, _ = init_workspace(ws_root)
    t, c = time.perf_counter(), time.process_time()
    rep = import_export(ws, export, batch_size=1000)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "messages": rep.messages, "imported": rep.imported,
                      "rejected": len(rep.rejected), "positives": rep.positives, "media_stored": rep.media_stored,
                      "rss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "tgexport"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--child-parse", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="Keep the generated export and workspace.")
    a = ap.parse_args()
    if a.child:
        child_import(*a.child)
        return
    if a.child_parse:
        child_parse(a.child_parse)
        return
    out = Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    export = generate(out / "ChatExport", a.messages)
    size = export.stat().st_size
    print(f"generated {a.messages:,} messages, {size / 1e6:,.1f} MB in {time.perf_counter() - t:.1f} s", flush=True)
    pp = subprocess.run([sys.executable, __file__, "--child-parse", str(out / "ChatExport")],
                        capture_output=True, text=True)
    if pp.returncode == 0:
        r = json.loads(pp.stdout.strip().splitlines()[-1])
        print(f"stream parse only: {r['messages']:,} messages in {r['seconds']:.1f} s "
              f"({r['messages'] / r['seconds']:,.0f} messages/s), RSS {r['rss_self_kb'] / 1024:,.0f} MB", flush=True)
    proc = subprocess.run([sys.executable, __file__, "--child", str(out / "ws"), str(out / "ChatExport")],
                          capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit(proc.returncode)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"imported {res['imported']:,}/{res['messages']:,} messages in {res['seconds']:.1f} s: "
          f"{res['messages'] / res['seconds']:,.0f} messages/s wall clock, "
          f"{res['messages'] / res['cpu_seconds']:,.0f} messages per CPU second ({res['cpu_seconds']:.1f} s CPU); "
          f"peak RSS {peak:,.0f} MB "
          f"(target < 500 MB); {res['positives']:,} flagged as offers; {res['media_stored']} media stored; "
          f"{res['rejected']} rejected; export {size / 1e6:,.1f} MB")
    if not a.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
