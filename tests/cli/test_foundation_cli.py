"""The foundation commands, driven through Typer's CliRunner and real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from cli import app


def _init(runner, tmp_path) -> Path:
    ws = tmp_path / "ws"
    res = runner.invoke(app, ["init", str(ws)])
    assert res.exit_code == 0, res.output
    return ws


def _post(i: int, **kw) -> dict:
    d = {"platform": "leboncoin", "external_id": str(i), "url": f"https://www.leboncoin.example/ad/services/{i}",
         "title": f"annonce {i}", "text": f"texte de l'annonce numéro {i}", "price": 10 + i, "currency": "EUR"}
    d.update(kw)
    return d


def test_init_creates_layout(runner, tmp_path):
    ws = _init(runner, tmp_path)
    assert (ws / "veille.toml").read_text().startswith("# veille.toml")
    assert (ws / "veille.db").exists() and (ws / "evidence").is_dir()
    res = runner.invoke(app, ["init", str(ws)])
    assert res.exit_code == 0 and "already initialised" in res.output


def test_commands_without_workspace_fail_cleanly(runner, tmp_path):
    res = runner.invoke(app, ["status", "--workspace", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert "no veille workspace" in res.output
    assert "Traceback" not in res.output


def test_workspace_from_env(runner, tmp_path):
    ws = _init(runner, tmp_path)
    res = runner.invoke(app, ["status", "--json"], env={"VEILLE_WORKSPACE": str(ws)})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["workspace"] == str(ws.resolve())


def test_import_reports_each_bad_line(runner, tmp_path):
    ws = _init(runner, tmp_path)
    f = tmp_path / "in.jsonl"
    lines = [
        json.dumps(_post(1)).encode(),
        b"\xff\xfe not utf8",
        b"{not json",
        json.dumps({"platform": "leboncoin"}).encode(),  # no id nor url
        json.dumps(_post(2, price="cheap")).encode(),  # wrong type
        json.dumps(_post(3)).encode(),
        json.dumps(_post(3)).encode(),  # duplicate
        b"",
        json.dumps(_post(4, text="x" * 60)).encode(),
    ]
    f.write_bytes(b"\n".join(lines) + b"\n")
    res = runner.invoke(app, ["import", "jsonl", str(f), "-w", str(ws)])
    assert res.exit_code == 1
    err = res.stderr
    assert "line 2: not valid UTF-8" in err
    assert "line 3: not JSON" in err
    assert "line 4: missing required field: 'external_id' or 'url'" in err
    assert "line 5: field 'price' must be a number" in err
    assert "3 new" in res.stdout and "4 rejected" in res.stdout
    res = runner.invoke(app, ["import", "jsonl", str(f), "-w", str(ws), "--skip-bad"])
    assert res.exit_code == 0
    assert "0 new" in res.stdout
    exported = runner.invoke(app, ["export", "jsonl", "-w", str(ws)])
    rows = [json.loads(x) for x in exported.stdout.splitlines()]
    assert [r["external_id"] for r in rows] == ["1", "3", "4"]
    assert set(rows[0]) == {"id", "platform", "url", "external_id", "author", "author_handle", "text",
                            "posted_at", "category", "subtype", "score", "seller_id"}
    # each import is a run of its source, shown by `veille status`
    status = json.loads(runner.invoke(app, ["status", "-w", str(ws), "--json"]).stdout)
    runs = {r["source"]: r for r in status["last_runs"]}
    assert runs["import:in.jsonl"]["status"] == "partial"  # the second run: nothing new, 4 lines rejected
    assert runs["import:in.jsonl"]["items"] == 0 and "4 line(s) rejected" in runs["import:in.jsonl"]["error"]


def test_import_rejects_huge_line_without_loading_it(runner, tmp_path):
    ws = _init(runner, tmp_path)
    f = tmp_path / "big.jsonl"
    with open(f, "wb") as fh:
        fh.write(json.dumps(_post(1)).encode() + b"\n")
        fh.write(b'{"platform": "x", "external_id": "2", "text": "' + b"a" * (50 * 1024 * 1024) + b'"}\n')
        fh.write(json.dumps(_post(3)).encode() + b"\n")
    res = runner.invoke(app, ["import", "jsonl", str(f), "-w", str(ws)])
    assert res.exit_code == 1
    assert "line 2: line longer than" in res.stderr
    assert "2 new" in res.stdout


def test_import_from_stdin(runner, tmp_path):
    ws = _init(runner, tmp_path)
    data = "\n".join(json.dumps(_post(i)) for i in range(5))
    res = runner.invoke(app, ["import", "jsonl", "-", "-w", str(ws)], input=data)
    assert res.exit_code == 0, res.output
    assert "5 new" in res.stdout


def test_search_and_bad_syntax(runner, tmp_path):
    ws = _init(runner, tmp_path)
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(_post(1, text="rendez-vous préfecture de Bobigny")) + "\n")
    runner.invoke(app, ["import", "jsonl", str(f), "-w", str(ws)])
    res = runner.invoke(app, ["search", "prefecture", "-w", str(ws), "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 1
    res = runner.invoke(app, ["search", '"unterminated', "-w", str(ws)])
    assert res.exit_code == 1 and "bad search query" in res.stderr and "Traceback" not in res.output


def test_verify_store_cli_exit_codes(runner, tmp_path):
    ws = _init(runner, tmp_path)
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(_post(1)) + "\n")
    runner.invoke(app, ["import", "jsonl", str(f), "-w", str(ws)])
    assert runner.invoke(app, ["verify-store", "-w", str(ws)]).exit_code == 0
    con = sqlite3.connect(ws / "veille.db")
    con.execute("update custody_log set actor = 'someone else' where seq = 2")
    con.commit()
    con.close()
    res = runner.invoke(app, ["verify-store", "-w", str(ws)])
    assert res.exit_code == 1 and "custody entry 2" in res.stderr


def _walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _walk(sub, [*path, name])


def test_every_command_has_help(runner):
    import typer.main

    root = typer.main.get_command(app)
    seen = 0
    for path, cmd in _walk(root, []):
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
        assert (cmd.help or "").strip(), f"command {' '.join(path)} has no help text"
        seen += 1
    assert seen >= 8


@pytest.mark.slow
def test_sigkill_during_import_leaves_consistent_store(tmp_path):
    """Kill -9 a large import mid-way; the store verifies and a re-run completes without duplicates."""
    veille = [sys.executable, "-c", "import cli; cli.main()"]
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([*veille, "init", str(ws)], check=True, env=env, capture_output=True)
    n = 20_000
    f = tmp_path / "big.jsonl"
    with open(f, "w") as fh:
        for i in range(n):
            fh.write(json.dumps(_post(i, text=f"vends rdv préfecture numéro {i} contact 06 39 98 {i % 100:02d} 12"))
                     + "\n")
    proc = subprocess.Popen([*veille, "import", "jsonl", str(f), "-w", str(ws)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = ws / "veille.db"
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            count = con.execute("select count(*) from posts").fetchone()[0]
            con.close()
        except sqlite3.OperationalError:
            continue
        if count > 1000 or proc.poll() is not None:
            break
    assert proc.poll() is None, "import finished before it could be killed; make the input bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < count < n
    check = subprocess.run([*veille, "verify-store", "-w", str(ws)], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    again = subprocess.run([*veille, "import", "jsonl", str(f), "-w", str(ws)], env=env, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from posts").fetchone()[0] == n
    assert con.execute("select count(distinct dedupe_key) from posts").fetchone()[0] == n
    assert con.execute("select count(*) from captures").fetchone()[0] == n
    con.close()
    check = subprocess.run([*veille, "verify-store", "-w", str(ws)], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
