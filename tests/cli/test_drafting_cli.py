"""`veille draft`, `veille case`, `veille recheck` through the CLI."""

from __future__ import annotations

import email
import email.policy
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from drafting_seed import seed  # noqa: E402

CONFIG = """
[notifier]
organisation = "Association Droits Fictifs"
email = "signalements@asso.example"

[complaint]
reporter_name = "Association Droits Fictifs"
reporter_capacity = "association"
tribunal = "Tribunal judiciaire de Paris"

[drafting]
recheck_delay = 0
recheck_via = "builtin"
"""


@pytest.fixture
def wsdir(workspace):
    seed(workspace)
    (workspace.root / "veille.toml").write_text(CONFIG, "utf-8")
    return workspace.root


def run(runner, cli_app, wsdir, *args):
    return runner.invoke(cli_app, [*args, "-w", str(wsdir)], catch_exceptions=False)


def test_draft_notice_eml(runner, cli_app, wsdir, tmp_path):
    out = tmp_path / "n.eml"
    r = run(runner, cli_app, wsdir, "draft", "notice", "--platform", "telegram", "--seller", "1", "--lang", "en",
            "--format", "eml", "-o", str(out), "--no-bundle")
    assert r.exit_code == 0, r.output
    assert "drafted notice VEILLE-" in r.output and str(out) in r.output
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert "Notice of illegal content" in msg["Subject"]
    assert "bona fide belief" in msg.get_body(("plain",)).get_content()


def test_draft_notice_posts_md_json(runner, cli_app, wsdir):
    r = run(runner, cli_app, wsdir, "draft", "notice", "-p", "telegram", "--post", "1", "--post", "2", "--json",
            "--no-bundle")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["post_ids"] == [1, 2] and d["format"] == "md" and Path(d["path"]).is_file()


def test_no_bundle_cites_none_even_when_an_export_covers_the_items(runner, cli_app, wsdir, tmp_path):
    out = tmp_path / "b.zip"
    r = run(runner, cli_app, wsdir, "export", "bundle", "--post", "1", "--post", "2", "-o", str(out))
    assert r.exit_code == 0, r.output
    r = run(runner, cli_app, wsdir, "draft", "notice", "-p", "telegram", "--post", "1", "--post", "2", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["bundle"]["how"] == "existing"
    r = run(runner, cli_app, wsdir, "draft", "notice", "-p", "telegram", "--post", "1", "--post", "2", "--json",
            "--no-bundle")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["bundle"] is None and any("no evidence bundle cited" in w for w in d["warnings"])
    r = run(runner, cli_app, wsdir, "draft", "complaint", "--seller", "1", "--format", "md", "--json", "--no-bundle")
    assert r.exit_code == 0 and json.loads(r.stdout)["bundle"] is None
    r = run(runner, cli_app, wsdir, "draft", "notice", "-p", "telegram", "--post", "1", "--bundle", str(out),
            "--no-bundle")
    assert r.exit_code == 1 and "not both" in r.stderr


def test_missing_setting_is_one_clear_line(runner, cli_app, wsdir):
    (wsdir / "veille.toml").write_text(CONFIG.replace('email = "signalements@asso.example"', ""), "utf-8")
    r = run(runner, cli_app, wsdir, "draft", "notice", "--platform", "telegram", "--seller", "1")
    assert r.exit_code == 1
    assert "setting 'notifier.email' is not set in" in r.stderr
    assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1


def test_draft_complaint_docx(runner, cli_app, wsdir, tmp_path):
    import docx

    out = tmp_path / "c.docx"
    r = run(runner, cli_app, wsdir, "draft", "complaint", "--seller", "1", "--to", "procureur", "--format", "docx",
            "-o", str(out), "--no-bundle")
    assert r.exit_code == 0, r.output
    d = docx.Document(str(out))
    assert any("SHA-256" in [c.text for c in t.rows[0].cells] for t in d.tables)
    r = run(runner, cli_app, wsdir, "draft", "complaint", "--seller", "1", "--to", "gendarmerie")
    assert r.exit_code == 1 and "unknown addressee" in r.stderr


def test_case_workflow(runner, cli_app, wsdir):
    assert run(runner, cli_app, wsdir, "case", "new", "rdv", "-d", "test").exit_code == 0
    r = run(runner, cli_app, wsdir, "case", "add", "rdv", "--seller", "1", "--post", "5")
    assert r.exit_code == 0 and "added 1 seller(s), 1 post(s)" in r.output
    r = run(runner, cli_app, wsdir, "draft", "notice", "-p", "telegram", "--seller", "1", "--case", "rdv", "--json",
            "--no-bundle")
    ref = json.loads(r.stdout)["ref"]
    r = run(runner, cli_app, wsdir, "case", "mark", ref, "sent", "--date", "2099-01-01")
    assert r.exit_code == 1 and "is in the future" in r.stderr
    import sqlite3

    with sqlite3.connect(wsdir / "veille.db") as db:  # as if drafted last month
        db.execute("update notice_events set at = '2026-10-31T00:00:00Z' where status = 'drafted'")
    assert run(runner, cli_app, wsdir, "case", "mark", ref, "sent", "--date", "2026-11-01").exit_code == 0
    r = run(runner, cli_app, wsdir, "case", "mark", ref, "removed", "--date", "2026-11-03", "--note", "SoR 1")
    assert r.exit_code == 0 and "removed" in r.output
    r = run(runner, cli_app, wsdir, "case", "mark", ref, "sent")
    assert r.exit_code == 1 and "cannot go back" in r.stderr
    r = run(runner, cli_app, wsdir, "case", "show", "rdv", "--json")
    shown = json.loads(r.stdout)
    assert shown["notices"][0]["ref"] == ref and [e["status"] for e in shown["notices"][0]["events"]] == [
        "drafted", "sent", "removed"]
    r = run(runner, cli_app, wsdir, "case", "show", "rdv")
    assert r.exit_code == 0 and ref in r.output
    r = run(runner, cli_app, wsdir, "case", "report", "rdv", "--json")
    rep = json.loads(r.stdout)
    assert rep["per_platform"]["telegram"]["hours_to_removal"]["median"] == 48.0
    assert rep["overall"]["share_acted_on"] == 1.0
    r = run(runner, cli_app, wsdir, "case", "report", "rdv")
    assert r.exit_code == 0 and "100%" in r.output
    r = run(runner, cli_app, wsdir, "case", "list", "--json")
    assert json.loads(r.stdout)[0]["notices"] == 1
    r = run(runner, cli_app, wsdir, "case", "show", "nope")
    assert r.exit_code == 1 and "no case named 'nope'" in r.stderr


class _Gone(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(404 if "gone" in self.path else 200)
        self.end_headers()
        self.wfile.write(b"<p>Faux permis de conduire, 300\xe2\x82\xac</p>")

    def log_message(self, *args):
        pass


def test_recheck_command(runner, cli_app, wsdir):
    from storage import Workspace

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Gone)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with Workspace.open(wsdir) as ws:
            ws.db.execute("update posts set url = ? where id = 5", [base + "/ad/live"])
            ws.db.execute("update posts set url = ? where id = 3", [base + "/ad/gone"])
        r = run(runner, cli_app, wsdir, "recheck")
        assert r.exit_code == 0 and "nothing to re-check" in r.output
        run(runner, cli_app, wsdir, "case", "new", "c")
        run(runner, cli_app, wsdir, "case", "add", "c", "--post", "3", "--post", "5")
        r = run(runner, cli_app, wsdir, "recheck", "--case", "c", "--json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert {x["post_id"]: x["outcome"] for x in out["results"]} == {3: "removed", 5: "live"}
        r = run(runner, cli_app, wsdir, "status", "--json")
        assert {"kind": "removed", "n": 1} in json.loads(r.stdout)["alerts"]
    finally:
        srv.shutdown()
