"""Evidence bundles: layout, contents, redaction, selection, custody, CLI (issue 7)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import stat
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_seed import SELLER_STRINGS, THIRD_PARTY_STRINGS, seed  # noqa: E402

from storage import custody  # noqa: E402
from storage.bundle import build_bundle, csv_cell, display_name, merkle_root  # noqa: E402
from storage.errors import InputError, NotFoundError  # noqa: E402
from storage.verify_bundle import verify_bundle  # noqa: E402


@pytest.fixture
def seeded(workspace):
    return workspace, seed(workspace)


def all_texts(zip_path) -> dict[str, str]:
    """Every file of the bundle as text, the WACZ's members and the decompressed WARC included."""
    out: dict[str, str] = {}

    def walk(prefix: str, zf: zipfile.ZipFile):
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".wacz"):
                walk(f"{prefix}{name}!", zipfile.ZipFile(io.BytesIO(data)))
                continue
            if name.endswith(".gz"):
                data = gzip.decompress(data)
            out[prefix + name] = data.decode("utf-8", "ignore")

    with zipfile.ZipFile(zip_path) as zf:
        walk("", zf)
    return out


def leaks(texts: dict[str, str], needles: list[str]) -> list[str]:
    found = []
    for name, text in texts.items():
        low = text.lower()
        digits_only = re.sub(r"[\s.\-/()]", "", low)
        for n in needles:
            if n.lower() in low:
                found.append(f"{n!r} in {name}")
            d = re.sub(r"\D", "", n)
            if len(d) >= 9 and d[-9:] in digits_only:
                found.append(f"{n!r} (digits) in {name}")
    return found


def test_bundle_layout_and_verify(seeded, tmp_path):
    ws, ids = seeded
    res = build_bundle(ws, seller=ids["seller_id"], output=tmp_path / "seller.zip")
    assert res.path == tmp_path / "seller.zip" and res.path.exists()
    assert res.items == 3 and res.post_ids == ids["seller_posts"]
    assert len(res.sha256) == 64
    with zipfile.ZipFile(res.path) as zf:
        names = set(zf.namelist())
        for required in ("posts.csv", "posts.jsonl", "sellers.json", "custody.jsonl", "report.html", "web.wacz",
                         "MANIFEST.json", "README.txt", "SHA256SUMS"):
            assert required in names, required
        assert any(n.startswith("evidence/") for n in names)
        manifest = json.loads(zf.read("MANIFEST.json"))
        listed = {f["path"] for f in manifest["files"]}
        assert listed == names - {"MANIFEST.json", "SHA256SUMS"}
        assert manifest["merkle"]["root"] == res.merkle_root
        posts = [json.loads(line) for line in zf.read("posts.jsonl").decode().splitlines()]
        assert [p["id"] for p in posts] == ids["seller_posts"]
        for p in posts:
            assert p["captures"] and all(c["fetched_at"].endswith("Z") for c in p["captures"])
            assert p["category"] == "appointment_resale" and p["seller_id"] == 1
        sellers = json.loads(zf.read("sellers.json"))["sellers"]
        assert sellers[0]["id"] == 1 and {lk["type"] for lk in sellers[0]["links"]} == {"identifier", "same_account"}
        assert "+33639980101" in json.dumps(sellers)  # the seller's own identifiers are never redacted
        expl = sellers[0]["explanations"]
        assert len(expl) == 2 and all(e["explanation"].startswith("posts ") for e in expl)
        assert any("+33 6 39 98 01 01" in e["explanation"] for e in expl)
        raw_csv = zf.read("posts.csv")
        assert raw_csv.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(raw_csv.decode("utf-8-sig"))))
        assert len(rows) == 3 and all(r["capture_times_utc"] and r["artifact_hashes"] for r in rows)
        assert all(r["category"] == "appointment_resale" and r["seller_id"] == "1" for r in rows)
        report = zf.read("report.html").decode()
        assert "Content-Security-Policy" in report and "default-src 'none'" in report
        assert "<script" not in report.lower()
        assert "CHECK BY HAND" in report and "VÉRIFIER À LA MAIN" in report
        assert "⟦RDV⟧ préfecture Bobigny" in report  # why flagged: the matched span, in context
        from markupsafe import escape

        for e in expl:  # the seller's link explanations and the timeline, in the report itself
            assert str(escape(e["explanation"])) in report
        assert "Chronologie" in report and "Timeline" in report and report.count("vu pour la première fois") == 3
        for p in posts:  # per item: URL and every capture time in UTC
            if p["url"]:
                assert str(escape(p["url"])) in report
            assert all(f"{c['fetched_at']} UTC" in report for c in p["captures"])
        # evidence files are named by their hash
        for n in names:
            if n.startswith("evidence/"):
                import hashlib

                assert hashlib.sha256(zf.read(n)).hexdigest() == n.split("/")[1]
    rep = verify_bundle(res.path)
    assert rep.ok, rep.problems
    assert rep.files_checked == len(listed) and rep.custody_entries >= 4


def test_wacz_readable_by_warcio(seeded, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    ws, ids = seeded
    res = build_bundle(ws, seller=ids["seller_id"], output=tmp_path / "b.zip")
    with zipfile.ZipFile(res.path) as zf, zipfile.ZipFile(io.BytesIO(zf.read("web.wacz"))) as wz:
        names = set(wz.namelist())
        assert {"archive/data.warc.gz", "indexes/index.cdxj", "pages/pages.jsonl", "datapackage.json",
                "datapackage-digest.json"} <= names
        assert wz.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        pkg = json.loads(wz.read("datapackage.json"))
        # 1.1.1 package fields (what py-wacz validate and ReplayWeb.page accept) plus 1.2.0's `home`
        assert pkg["profile"] == "data-package" and pkg["wacz_version"] == "1.1.1"
        assert pkg["home"] == {"url": pkg["mainPageUrl"], "ts": pkg["mainPageDate"]}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", pkg["created"])
        # 1.2.0: every file but the two package files is a listed resource with path, sha256 and size
        assert {r["path"] for r in pkg["resources"]} == names - {"datapackage.json", "datapackage-digest.json"}
        assert all(r["hash"].startswith("sha256:") and r["bytes"] == wz.getinfo(r["path"]).file_size
                   for r in pkg["resources"])
        import hashlib

        for r in pkg["resources"]:
            assert r["hash"] == "sha256:" + hashlib.sha256(wz.read(r["path"])).hexdigest()
        digest = json.loads(wz.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(wz.read("datapackage.json")).hexdigest()
        warc = wz.read("archive/data.warc.gz")
        cdx = wz.read("indexes/index.cdxj").decode().splitlines()
        pages = [json.loads(x) for x in wz.read("pages/pages.jsonl").decode().splitlines()]
    types = []
    bodies = {}
    for rec in ArchiveIterator(io.BytesIO(warc)):
        types.append(rec.rec_type)
        if rec.rec_type in ("response", "resource"):
            bodies[rec.rec_headers.get_header("WARC-Target-URI")] = rec.content_stream().read()
            if rec.rec_type == "response":
                assert rec.http_headers.get_statuscode() == "200"
    assert types[0] == "warcinfo"
    assert types.count("response") == 2 and types.count("request") == 2 and types.count("resource") == 1
    assert types.count("metadata") == 3
    assert b"RDV" in bodies["https://www.leboncoin.example/ad/1001"]
    # redacted working copy in the WARC: the third party named on the page is pseudonymised
    assert b"Lucie Membre" not in bodies["https://www.leboncoin.example/ad/1001"]
    assert b"[TP-name-" in bodies["https://www.leboncoin.example/ad/1001"]
    assert cdx == sorted(cdx) and cdx[0].startswith("example,leboncoin)/ad/1001 20261102")
    # CDXJ offsets point at the records
    for line in cdx:
        meta = json.loads(line.split(" ", 2)[2])
        rec = next(iter(ArchiveIterator(io.BytesIO(warc[int(meta["offset"]):int(meta["offset"]) + int(meta["length"])]))))
        assert rec.rec_headers.get_header("WARC-Target-URI") == meta["url"]
    # warcio's own checker recomputes every record's block and payload digests
    import subprocess

    (tmp_path / "data.warc.gz").write_bytes(warc)
    r = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", "-v", str(tmp_path / "data.warc.gz")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "digest pass" in r.stdout and "fail" not in r.stdout, r.stdout + r.stderr
    assert pages[0]["format"] == "json-pages-1.0" and {p["url"] for p in pages[1:]} == {
        "https://www.leboncoin.example/ad/1001", "https://t.me/rdvexpress/55"}
    # 1.2.0: each page has a url and an RFC 3339 ts
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["ts"]) for p in pages[1:])


def test_wacz_passes_the_reference_validator(seeded, tmp_path):
    """py-wacz's `wacz validate` (not a dependency: set WACZ_BIN or put `wacz` on PATH to run this)."""
    import shutil
    import subprocess

    wacz_bin = os.environ.get("WACZ_BIN") or shutil.which("wacz")
    if not wacz_bin:
        pytest.skip("py-wacz not installed (pip install wacz; WACZ_BIN=/path/to/wacz)")
    ws, ids = seeded
    res = build_bundle(ws, seller=ids["seller_id"], output=tmp_path / "b.zip")
    with zipfile.ZipFile(res.path) as zf:
        (tmp_path / "web.wacz").write_bytes(zf.read("web.wacz"))
    r = subprocess.run([wacz_bin, "validate", "-f", str(tmp_path / "web.wacz")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "invalid" not in r.stdout.lower(), r.stdout + r.stderr


@pytest.mark.browser
def test_wacz_replays_in_replayweb_page(seeded, tmp_path):
    """ReplayWeb.page (wabac.js) replays the bundle's WACZ, offline, in headless Chromium.

    Not a dependency: set REPLAYWEB_DIR to an unpacked `replaywebpage` npm package (`npm pack replaywebpage`,
    then `tar xzf`; the folder holding ui.js and sw.js) to run this."""
    import functools
    import http.server
    import shutil
    import threading

    rwp = os.environ.get("REPLAYWEB_DIR")
    if not rwp or not (Path(rwp) / "ui.js").is_file() or not (Path(rwp) / "sw.js").is_file():
        pytest.skip("ReplayWeb.page not available (REPLAYWEB_DIR=…/package with ui.js and sw.js)")
    from playwright.sync_api import sync_playwright

    ws, ids = seeded
    res = build_bundle(ws, seller=ids["seller_id"], output=tmp_path / "b.zip")
    site = tmp_path / "site"
    (site / "replay").mkdir(parents=True)
    shutil.copy(Path(rwp) / "ui.js", site / "ui.js")
    shutil.copy(Path(rwp) / "sw.js", site / "replay" / "sw.js")
    with zipfile.ZipFile(res.path) as zf:
        (site / "web.wacz").write_bytes(zf.read("web.wacz"))
        with zipfile.ZipFile(io.BytesIO(zf.read("web.wacz"))) as wz:
            pages = [json.loads(x) for x in wz.read("pages/pages.jsonl").decode().splitlines()[1:]]
    page_rec = next(p for p in pages if p["url"] == "https://www.leboncoin.example/ad/1001")
    ts = re.sub(r"\D", "", page_rec["ts"])
    (site / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><script src="./ui.js"></script>'
        f'<replay-web-page source="web.wacz" url="{page_rec["url"]}" ts="{ts}" embed="replayonly" '
        'replayBase="./replay/"></replay-web-page>', "utf-8")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    outside = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-background-networking"])
            ctx = browser.new_context()
            # (request routing would take the service worker out of the way: requests are watched instead)
            ctx.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
                   else outside.append(r.url))
            page = ctx.new_page()
            page.goto(f"http://127.0.0.1:{srv.server_address[1]}/index.html")
            archived = page.frame_locator("replay-web-page iframe").frame_locator("iframe")
            body = archived.locator("body")
            body.get_by_text("RDV préfecture Bobigny").first.wait_for(timeout=60_000)
            text = body.inner_text()
            browser.close()
    finally:
        srv.shutdown()
    assert "RDV préfecture Bobigny titre de séjour dispo 80€" in text
    assert "Lucie Membre" not in text and "[TP-name-" in text  # the redacted working copy is what replays
    assert outside == []  # replayed from the archive in the bundle: nothing fetched from outside


def test_redaction_no_third_party_identifier_anywhere(seeded, tmp_path):
    ws, ids = seeded
    everything = ids["seller_posts"] + ids["third_party_posts"]
    res = build_bundle(ws, post_ids=everything, output=tmp_path / "all.zip")
    texts = all_texts(res.path)
    assert leaks(texts, THIRD_PARTY_STRINGS) == []
    # a third party's first name alone ("… je veux le RDV. Jeanne", "combien le RDV ? Paul") goes too, with the
    # same pseudonym as the full name; words of the seller's own name stay
    for name in ("Jeanne", "Paul"):
        found = [n for n, t in texts.items() if re.search(rf"(?<!\w){name}(?!\w)", t)]
        assert found == [], (name, found)
    posts = [json.loads(x) for x in texts["posts.jsonl"].splitlines()]
    buyer = next(p for p in posts if p["author_role"] == "buyer")
    assert buyer["text"].endswith("je veux le RDV. " + buyer["author"])
    assert "(RDV Express)" in texts["posts.jsonl"]
    # the seller stays identifiable
    joined = "\n".join(texts.values())
    for s in SELLER_STRINGS:
        assert s in joined, s
    # consistent pseudonyms: the buyer's handle gets the same pseudonym in the seller's post and her own
    posts = [json.loads(x) for x in texts["posts.jsonl"].splitlines()]
    buyer = next(p for p in posts if p["author_role"] == "buyer")
    seller_post = next(p for p in posts if "Merci" in p["text"])
    handle_ps = buyer["author_handle"]
    assert handle_ps.startswith("[TP-handle-") and handle_ps in seller_post["text"]
    assert buyer["redacted"] and buyer["third_party"]
    # the victim's photo is withheld (images cannot be redacted) and flagged
    assert any("image posted by a third party" in w for w in res.withheld)
    # a whole imported file (full Telegram export: other conversations) stays out too
    assert any("whole imported file" in w for w in res.withheld)
    # originals of redacted files are not in the bundle; the redacted copies are
    with zipfile.ZipFile(res.path) as zf:
        names = zf.namelist()
    for w in res.withheld:
        assert f"evidence/{w.split()[0]}" not in names
    assert any(n.startswith("redacted/") for n in names)
    # every redaction is in the custody log, with hashes before/after, never the replaced value
    entries = list(custody.iter_entries(ws.db, "where action = 'redaction'"))
    assert len(entries) == res.redactions > 0
    for e in entries:
        d = e["details"]
        assert d["bundle_id"] == res.bundle_id and len(d["sha256_before"]) == 64 and len(d["sha256_after"]) == 64
        assert d["replaced"] and all(r["pseudonym"].startswith("[TP-") and r["count"] >= 1 for r in d["replaced"])
        assert leaks({"entry": json.dumps(e, ensure_ascii=False)}, THIRD_PARTY_STRINGS) == []
    # the key is outside the bundle, 0600, and reproduces the pseudonyms
    key = res.redaction_key_path
    assert key.exists() and not str(key).startswith(str(tmp_path / "all"))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    from storage.redact import Redactor

    k = bytes.fromhex(json.loads(key.read_text())["key_hex"])
    assert Redactor(key=k).pseudonym("handle", "jeanne_b_77") == handle_ps
    assert all(k.hex() not in t for t in texts.values())  # the key never travels with the bundle
    assert verify_bundle(res.path).ok


def test_media_that_cannot_be_redacted(seeded, tmp_path):
    from storage import Artifact, Capture, Post, save_post

    ws, ids = seeded
    voice = save_post(ws, Post(platform="telegram", external_id="chat-vente/99", text="(message vocal)",
                               author="Jeanne Acheteuse", source="chat:vente-rdv", extra={"role": "buyer"}),
                      Capture(kind="import", artifacts=[Artifact(role="media", data=b"OggS fake voice",
                                                                 mime="audio/ogg", name="voice.ogg")])).post_id
    doc = save_post(ws, Post(platform="leboncoin", external_id="lbc-doc", url="https://www.leboncoin.example/ad/7",
                             text="modèle de titre de séjour"),
                    Capture(url="https://www.leboncoin.example/ad/7", http_status=200, artifacts=[
                        Artifact(role="media", data=b"%PDF-1.4 fake", mime="application/pdf", name="modele.pdf")])
                    ).post_id
    res = build_bundle(ws, post_ids=[voice, doc], output=tmp_path / "m.zip")
    assert any("media posted by a third party" in w for w in res.withheld)
    assert res.images_to_check == 2
    with zipfile.ZipFile(res.path) as zf:
        report = zf.read("report.html").decode()
        names = zf.namelist()
    assert report.count("CHECK BY HAND") >= 2 and "application/pdf" in report
    assert sum(1 for n in names if n.startswith("evidence/")) == 1  # the seller's PDF, not the voice message


def test_include_originals_and_no_redact_logged(seeded, tmp_path):
    ws, ids = seeded
    everything = ids["seller_posts"] + ids["third_party_posts"]
    res = build_bundle(ws, post_ids=everything, output=tmp_path / "orig.zip", include_originals=True)
    assert res.withheld == []
    with zipfile.ZipFile(res.path) as zf:
        names = zf.namelist()
        posts = zf.read("posts.jsonl").decode()
    assert any(n.startswith("redacted/") for n in names)
    assert "Jeanne Acheteuse" not in posts  # the working copy stays redacted
    assert "Jeanne Acheteuse" in "\n".join(all_texts(res.path)[n] for n in names if n.startswith("evidence/"))
    res2 = build_bundle(ws, post_ids=everything, output=tmp_path / "clear.zip", redact=False)
    assert not res2.redacted and res2.redaction_key_path is None
    assert "Jeanne Acheteuse" in all_texts(res2.path)["posts.jsonl"]
    logged = [e for e in custody.iter_entries(ws.db, "where action = 'redaction'")
              if e["details"].get("event") == "redaction disabled (--no-redact)"]
    assert len(logged) == 1 and logged[0]["details"]["bundle_id"] == res2.bundle_id
    with zipfile.ZipFile(res2.path) as zf:
        assert "redaction disabled" in zf.read("custody.jsonl").decode()
        assert "NON (--no-redact)" in zf.read("report.html").decode()
    assert verify_bundle(res2.path).ok


def test_selection_modes_and_errors(seeded, tmp_path):
    ws, ids = seeded
    r = build_bundle(ws, post_ids=[ids["seller_posts"][0]], output=tmp_path / "one.zip")
    assert r.post_ids == [ids["seller_posts"][0]]
    r = build_bundle(ws, query="VFS", output=tmp_path / "q.zip")
    assert r.post_ids == [ids["seller_posts"][1]]
    ws.db.execute("insert into cases(name, created_at) values ('Lyon', '2026-11-10T00:00:00Z')")
    case_id = ws.db.execute("select id from cases where name='Lyon'").fetchone()[0]
    ws.db.execute("insert into case_items(case_id, seller_id, added_at) values (?, 1, 'x')", [case_id])
    ws.db.execute("insert into case_items(case_id, post_id, added_at) values (?, ?, 'x')",
                  [case_id, ids["third_party_posts"][0]])
    r = build_bundle(ws, case="Lyon", output=tmp_path / "case.zip")
    assert r.post_ids == sorted(ids["seller_posts"] + [ids["third_party_posts"][0]])
    assert verify_bundle(r.path).ok
    with pytest.raises(InputError):
        build_bundle(ws, output=tmp_path / "none.zip")
    with pytest.raises(InputError):
        build_bundle(ws, seller=1, query="x", output=tmp_path / "two.zip")
    with pytest.raises(NotFoundError):
        build_bundle(ws, post_ids=[9999], output=tmp_path / "x.zip")
    with pytest.raises(NotFoundError):
        build_bundle(ws, seller=42, output=tmp_path / "x.zip")
    with pytest.raises(NotFoundError):
        build_bundle(ws, case="nope", output=tmp_path / "x.zip")
    with pytest.raises(InputError):
        build_bundle(ws, query='"unbalanced', output=tmp_path / "x.zip")
    with pytest.raises(InputError):
        build_bundle(ws, seller=1, output=tmp_path / "x.tar")
    assert not (tmp_path / "x.zip").exists()


def test_atomic_write_on_failure(seeded, tmp_path, monkeypatch):
    ws, ids = seeded
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "b.zip"
    out.write_bytes(b"previous bundle")
    import storage.bundle as bm

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bm, "_write_wacz", boom)
    with pytest.raises(RuntimeError):
        build_bundle(ws, seller=1, output=out)
    assert out.read_bytes() == b"previous bundle"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.zip"]  # no temporary left behind
    failed = [e for e in custody.iter_entries(ws.db, "where action = 'export'")
              if e["details"].get("event") == "bundle export failed"]
    assert failed and "disk on fire" in failed[-1]["details"]["error"]
    assert custody.verify_chain(ws.db)[1] == []


def test_corrupt_store_blob_is_refused(seeded, tmp_path):
    ws, ids = seeded
    sha = ws.db.execute("select sha256 from artifacts where role = 'screenshot' limit 1").fetchone()[0]
    p = ws.store.path_for(sha)
    os.chmod(p, 0o644)
    p.write_bytes(b"not the screenshot")
    from storage.errors import IntegrityError

    with pytest.raises(IntegrityError, match=sha):
        build_bundle(ws, seller=1, output=tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


def test_export_entries_for_drafting(seeded, tmp_path):
    ws, ids = seeded
    res = build_bundle(ws, seller=1, output=tmp_path / "b.zip")
    last = custody.head(ws.db)
    d = last["details"]
    assert last["action"] == "export" and d["event"] == "bundle written"
    assert d["sha256"] == res.sha256 and d["path"] == str(res.path) and d["post_ids"] == res.post_ids
    with zipfile.ZipFile(res.path) as zf:
        lines = zf.read("custody.jsonl").decode().splitlines()
    export = json.loads(lines[-1])
    assert export["action"] == "export" and export["details"]["bundle_id"] == res.bundle_id
    assert export["seq"] == last["seq"] - 1


def test_custody_range_elides_unrelated_entries(seeded, tmp_path):
    ws, ids = seeded
    res = build_bundle(ws, post_ids=[ids["seller_posts"][2]], output=tmp_path / "b.zip")
    with zipfile.ZipFile(res.path) as zf:
        lines = [json.loads(x) for x in zf.read("custody.jsonl").decode().splitlines()]
    elided = [x["elided"] for x in lines if "elided" in x]
    full = [x for x in lines if "seq" in x]
    assert elided and all(e["reason"] in ("unrelated to this bundle", "names a third party") for e in elided)
    assert full[0]["subject_type"] == "capture" and full[-1]["details"]["event"] == "bundle export"
    rep = verify_bundle(res.path)
    assert rep.ok and rep.custody_elided == sum(e["count"] for e in elided)


def test_surt():
    from storage.wacz import surt

    assert surt("https://www.Example.com:8443/A/b?z=1&a=2") == "com,example:8443)/a/b?a=2&z=1"
    assert surt("http://127.0.0.1:34007/x") == "127.0.0.1:34007)/x"
    assert surt("https://t.me/s/chan") == "me,t)/s/chan"


def test_helpers():
    assert csv_cell('=HYPERLINK("http://evil.test","x")').startswith("'=")
    for bad in ("+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(bad).startswith("'")
    assert csv_cell("normal") == "normal" and csv_cell(12.5) == 12.5
    assert "[U+202E]" in csv_cell("abc\u202egpj.exe")
    assert display_name("../../../etc/passwd") == "passwd"
    assert display_name("..\\..\\evil.png") == "evil.png"
    import hashlib

    a, b, c = b"a", b"b", b"c"
    leaf = [hashlib.sha256(b"\x00" + x).digest() for x in (a, b, c)]
    ab = hashlib.sha256(b"\x01" + leaf[0] + leaf[1]).digest()
    assert merkle_root([a, b, c]) == hashlib.sha256(b"\x01" + ab + leaf[2]).hexdigest()


def test_cli_export_and_verify(seeded, tmp_path, runner, cli_app):
    ws, ids = seeded
    out = tmp_path / "cli.zip"
    r = runner.invoke(cli_app, ["export", "bundle", "--seller", "1", "-o", str(out), "-w", str(ws.root), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["name"] == "cli.zip" and data["items"] == 3
    r = runner.invoke(cli_app, ["verify", str(out)])
    assert r.exit_code == 0 and "OK" in r.stdout
    r = runner.invoke(cli_app, ["verify", str(out), "--json"])
    assert json.loads(r.stdout)["ok"] is True
    r = runner.invoke(cli_app, ["export", "bundle", "-o", str(out), "-w", str(ws.root)])
    assert r.exit_code == 1 and "exactly one" in r.output
    r = runner.invoke(cli_app, ["verify", str(tmp_path / "missing.zip")])
    assert r.exit_code == 1 and "no such file" in r.output
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    r = runner.invoke(cli_app, ["verify", str(tmp_path / "junk.zip")])
    assert r.exit_code == 1 and "not a readable ZIP" in r.output


def test_pdf_report(seeded, tmp_path):
    ws, ids = seeded
    res = build_bundle(ws, seller=1, output=tmp_path / "pdf.zip", pdf=True)
    with zipfile.ZipFile(res.path) as zf:
        pdf = zf.read("report.pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    assert verify_bundle(res.path).ok


def test_every_evidence_file_is_vouched_by_a_custody_entry(seeded, tmp_path):
    ws, ids = seeded
    res = build_bundle(ws, post_ids=ids["seller_posts"] + ids["third_party_posts"], output=tmp_path / "b.zip")
    rep = verify_bundle(res.path)
    assert rep.ok and rep.warnings == []


@pytest.mark.slow
def test_killed_export_leaves_workspace_consistent_and_rerun_finishes(seeded, tmp_path):
    import signal
    import subprocess
    import time

    from bundle_seed import png_bytes

    from storage import Artifact, Capture, Post, save_post

    ws, ids = seeded
    big = png_bytes(1, size=(600, 600)) + os.urandom(1)  # distinct blobs
    for n in range(40):
        p = Post(platform="leboncoin", external_id=f"k{n}", url=f"https://ads.example/k{n}", text=f"RDV {n}")
        r = save_post(ws, p, Capture(url=p.url, http_status=200, artifacts=[
            Artifact(role="screenshot", data=big + os.urandom(400_000), mime="image/png")]))
        ws.db.execute("update posts set seller_id = 1 where id = ?", [r.post_id])
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-c", "from cli import main; main()", "export", "bundle", "--seller", "1",
           "-o", str(out / "b.zip"), "-w", str(ws.root)]
    root = Path(__file__).resolve().parents[2]
    killed_mid_run = 0
    for delay in (0.0, 0.15, 0.4):
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not any(out.glob(".b.zip.*")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until the export is writing its temporary ZIP
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_run += proc.returncode == -signal.SIGKILL and any(out.glob(".b.zip.*"))
        assert not (out / "b.zip").exists() or verify_bundle(out / "b.zip").ok
        assert custody.verify_chain(ws.db)[1] == []
    assert killed_mid_run  # at least one kill landed while the bundle was being written
    r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert verify_bundle(out / "b.zip").ok
    assert [p.name for p in out.iterdir()] == ["b.zip"]  # the killed runs' temporary folders are gone
    assert custody.verify_chain(ws.db)[1] == []
