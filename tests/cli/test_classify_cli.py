"""veille classify / lexicon check / eval classify."""

from __future__ import annotations

import json

from storage.post import Post


def _out(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_classify_jsonl_with_bad_lines_keeps_order(runner, cli_app, tmp_path):
    f = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "RDV préfecture dispo 50€, contactez moi"}).encode(),
        b"{not json",
        b"\xff\xfe invalid utf-8",
        b"",
        json.dumps([1, 2]).encode(),
        json.dumps({"id": 5, "text": 12}).encode(),
        json.dumps({"text": "Je cherche un rdv svp"}).encode(),
        json.dumps({"id": "e", "text": "\u200b\u200b"}).encode(),
        json.dumps({"id": "big", "text": "passeport " * 110_000}).encode(),
        json.dumps({"id": "f", "text": "Vends faux passeport, livraison rapide"}).encode(),
    ]
    f.write_bytes(b"\n".join(lines) + b"\n")
    r = runner.invoke(cli_app, ["classify", str(f)])
    assert r.exit_code == 0, r.output
    out = _out(r)
    assert len(out) == len(lines)
    assert out[0]["id"] == "a" and out[0]["category"] == "appointment_resale"
    assert out[0]["subtype"] == "prefecture"
    assert {"id", "category", "subtype", "score", "reasons", "entities"} <= set(out[0])
    assert all(x["start"] < x["end"] for x in out[0]["reasons"] if x["kind"] != "context")
    assert "invalid JSON" in out[1]["error"] and out[1]["line"] == 2
    assert "UTF-8" in out[2]["error"]
    assert out[3]["error"] == "empty line"
    assert "object" in out[4]["error"]
    assert out[5]["id"] == 5 and "text" in out[5]["error"]
    assert out[6]["category"] == "none"
    assert out[7]["category"] == "none"
    assert out[8]["id"] == "big" and out[8]["category"] == "none"
    assert out[9]["category"] == "forged_documents"


def test_classify_plain_from_stdin(runner, cli_app):
    r = runner.invoke(cli_app, ["classify", "-", "--plain"],
                      input="Vendo cita extranjería 40€\n\nbonjour\n😀😀😀\n")
    assert r.exit_code == 0, r.output
    out = _out(r)
    assert [o["category"] for o in out] == ["appointment_resale", "none", "none", "none"]
    assert [o["id"] for o in out] == [1, 2, 3, 4]


def test_classify_missing_file_is_one_clear_line(runner, cli_app, tmp_path):
    r = runner.invoke(cli_app, ["classify", str(tmp_path / "nope.jsonl")])
    assert r.exit_code == 1
    assert "cannot read" in r.output and "Traceback" not in r.output


def test_lexicon_check(runner, cli_app, tmp_path):
    r = runner.invoke(cli_app, ["lexicon", "check"])
    assert r.exit_code == 0, r.output
    assert "lexicon OK" in r.output
    bad = tmp_path / "lex"
    bad.mkdir()
    (bad / "rules.toml").write_text("[rules]\n", encoding="utf-8")
    r = runner.invoke(cli_app, ["lexicon", "check", str(bad)])
    assert r.exit_code == 1
    assert r.output.startswith("error:") and "Traceback" not in r.output


def test_eval_classify_json_and_borderline(runner, cli_app, tmp_path):
    c = tmp_path / "c.jsonl"
    rows = [
        {"text": "RDV préfecture dispo 50€", "label": "slot_resale"},
        {"text": "Vends faux passeport", "label": "forged_documents"},
        {"text": "Je cherche un rdv", "label": "negative"},
        {"text": "Rendez-vous au cabinet", "label": "slot_resale", "borderline": True},
        {"text": "x", "label": "weird"},
    ]
    c.write_text("\n".join(json.dumps(x) for x in rows) + "\nnot json\n", encoding="utf-8")
    r = runner.invoke(cli_app, ["eval", "classify", str(c), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["n"] == 4
    assert rep["per_category"]["forged_documents"]["precision"] == 1.0
    assert rep["confusion"]["appointment_resale"]["none"] == 1
    assert len(rep["problems"]) == 2
    r = runner.invoke(cli_app, ["eval", "classify", str(c), "--json", "--no-borderline"])
    rep = json.loads(r.stdout)
    assert rep["n"] == 3 and rep["accuracy"] == 1.0
    r = runner.invoke(cli_app, ["eval", "classify", str(c)])
    assert "precision" in r.output and "confusion" in r.output and "misclassified" in r.output


def test_classify_db_reclassifies_and_records_the_lexicon_version(runner, cli_app, workspace):
    from matchers.classify import get_lexicon
    from storage.posts import find_post, save_post

    save_post(workspace, Post(platform="test", url="https://a.example/1", text="RDV préfecture dispo 50€"))
    save_post(workspace, Post(platform="test", url="https://a.example/2", text="Je cherche un rdv"))
    root = str(workspace.root)
    r = runner.invoke(cli_app, ["classify", "--db", "-w", root])
    assert r.exit_code == 0, r.output
    assert "2 post(s) re-classified" in r.output
    p1 = find_post(workspace, url="https://a.example/1")
    assert p1["category"] == "appointment_resale"
    assert p1["lexicon_version"] == get_lexicon().version
    assert json.loads(p1["reasons"])
    # already at this version: nothing to do, unless --all
    r = runner.invoke(cli_app, ["classify", "--db", "-w", root])
    assert "0 post(s) re-classified" in r.output
    r = runner.invoke(cli_app, ["classify", "--db", "--all", "-w", root])
    assert "2 post(s) re-classified" in r.output


def test_classify_from_a_pipe_answers_each_line_before_the_next_arrives(tmp_path):
    """``tail -f posts.jsonl | veille classify -``: a line read from a pipe is answered at once, not after
    a chunk of 256 lines (bulk analysis batches files, not live streams)."""
    import os
    import selectors
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, str(root / "cli.py"), "classify", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        for i, text in enumerate(["RDV préfecture dispo 50€, contactez moi au 06 39 98 00 12",
                                  "Je cherche un rendez-vous, quelqu'un peut m'aider ?"]):
            proc.stdin.write(json.dumps({"id": i, "text": text}).encode() + b"\n")
            proc.stdin.flush()  # the pipe stays open: more lines could follow
            assert sel.select(timeout=60), f"no answer to line {i + 1} while the pipe is open"
            got = json.loads(proc.stdout.readline())
            assert got["id"] == i
        assert got["category"] == "none"
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read().decode()
