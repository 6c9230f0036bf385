"""veille daily: isolated sources, exit code, lock (concurrent and stale), inbox, due re-checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import storage.daily as daily
from storage.db import rows
from storage.lock import FileLock, LockedError

from .daily_seed import add_post, configure

PY = sys.executable


def _quiet():
    class R(daily.Reporter):
        def __init__(self):
            self.lines = []

        def _line(self, text):
            self.lines.append(text)

    return R()


def test_failing_source_does_not_stop_the_others(workspace, monkeypatch, tmp_path):
    ws = configure(workspace, {"collect.sites": ["leboncoin", "tayara"], "telegram.channels": ["chan_demo"]})
    calls = []

    def broken_crawl(ws_, sites, keywords, max_pages, base_urls):
        calls.append(("classifieds", sites))
        raise RuntimeError("site layout changed")

    def tme_crawl(ws_, channels, base_url=None):
        calls.append(("telegram", channels))
        return {"items": 3}

    monkeypatch.setattr(daily, "classifieds_crawler", lambda: broken_crawl)
    monkeypatch.setattr(daily, "telegram_web_crawler", lambda: tme_crawl)
    inbox = ws.path("inbox")
    inbox.mkdir()
    (inbox / "good.jsonl").write_text(json.dumps({"platform": "vivastreet", "external_id": "1",
                                                  "text": "Vélo enfant 20 €"}) + "\n", encoding="utf-8")
    rep = daily.run_daily(ws, reporter=_quiet(), send=False)
    by = {s.name: s for s in rep.steps}
    assert by["classifieds"].status == "failed" and "site layout changed" in by["classifieds"].error
    assert by["telegram t.me/s"].status == "ok" and by["telegram t.me/s"].items == 3
    assert by["inbox"].status == "ok" and by["inbox"].items == 1
    assert [c[0] for c in calls] == ["classifieds", "telegram"]
    assert rep.exit_code == 1
    # the later stages still ran and the digest lists the failed source
    assert by["digest"].status == "ok"
    assert any(s["name"] == "classifieds" and s["status"] == "failed" for s in rep.digest["data"]["sources"])
    assert "site layout changed" in open(rep.digest["html"], encoding="utf-8").read()
    # runs are recorded: each source, and the daily run itself
    runs = {r["source"]: r for r in rows(ws.db, "select * from runs")}
    assert runs["classifieds"]["status"] == "failed"
    assert runs["telegram t.me/s"]["status"] == "ok"
    assert runs["daily"]["status"] == "failed"
    # the inbox file was imported and moved
    assert not (inbox / "good.jsonl").exists()
    assert list((inbox / "done").rglob("good.jsonl"))
    ws.close()


def test_all_ok_exit_zero_and_blocked_policy(workspace, monkeypatch):
    from storage.errors import BlockedError

    ws = configure(workspace, {"collect.sites": ["leboncoin"]})

    def blocked(*a, **k):
        raise BlockedError("leboncoin answered with a DataDome challenge")

    monkeypatch.setattr(daily, "classifieds_crawler", lambda: blocked)
    rep = daily.run_daily(ws, reporter=_quiet(), send=False)
    assert rep.step("classifieds").status == "blocked"
    assert rep.exit_code == 0  # blocked is reported, not a failure, unless daily.fail_on_blocked
    assert rows(ws.db, "select status from runs where source = 'classifieds'")[0]["status"] == "blocked"
    ws = configure(ws, {"daily.fail_on_blocked": True})
    rep = daily.run_daily(ws, reporter=_quiet(), send=False)
    assert rep.exit_code == 1
    ws.close()


def test_missing_part_is_unavailable_not_failed(workspace, monkeypatch):
    ws = configure(workspace, {"collect.sites": ["leboncoin"]})

    def missing():
        raise daily.Unavailable("spiders.run is not installed")

    monkeypatch.setattr(daily, "classifieds_crawler", missing)
    rep = daily.run_daily(ws, reporter=_quiet(), send=False)
    assert rep.step("classifieds").status == "unavailable"
    assert rep.exit_code == 0
    ws.close()


def test_classify_stage_classifies_unverdicted_posts(workspace):
    from storage.jsonl import import_jsonl

    f = workspace.path("p.jsonl")
    f.write_text(json.dumps({"platform": "vivastreet", "external_id": "9",
                             "text": "RDV préfecture Bobigny dispo 90€ WhatsApp 06 39 98 41 27"}) + "\n", "utf-8")
    import_jsonl(workspace, f)
    workspace.db.execute("update posts set category = null, subtype = null, classified_at = null")
    rep = daily.run_daily(workspace, reporter=_quiet(), send=False, only=set())
    assert rep.step("classify").items == 1
    r = rows(workspace.db, "select category, classified_at from posts")[0]
    assert r["category"] == "appointment_resale" and r["classified_at"]


def test_lock_blocks_a_concurrent_run(workspace):
    lock = FileLock(workspace.path(daily.LOCK_NAME)).acquire()
    try:
        with pytest.raises(LockedError, match="another daily run is in progress"):
            daily.run_daily(workspace, reporter=_quiet(), send=False, only={"inbox"})
    finally:
        lock.release()
    assert not workspace.path(daily.LOCK_NAME).exists()
    daily.run_daily(workspace, reporter=_quiet(), send=False, only={"inbox"})  # free again


def test_lock_held_by_another_process_cli(workspace, runner, cli_app):
    holder = subprocess.Popen([PY, "-c", (
        "import sys, time; from storage.lock import FileLock; "
        f"l = FileLock({str(workspace.path(daily.LOCK_NAME))!r}).acquire(); print('locked', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = runner.invoke(cli_app, ["daily", "-w", str(workspace.root), "--no-send", "--only", "inbox"])
        assert res.exit_code == 1
        assert "another daily run is in progress" in res.output
        assert f"PID {holder.pid}" in res.output
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_dead_pid_is_taken_over(workspace):
    dead = subprocess.Popen([PY, "-c", "pass"])
    dead.wait()
    workspace.path(daily.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename,
                                                           "created": time.time(), "at": "2026-11-22T03:00:00Z"}))
    r = _quiet()
    rep = daily.run_daily(workspace, reporter=r, send=False, only={"inbox"})
    assert any("took over a stale lock" in m and f"process {dead.pid} is no longer running" in m
               for m in rep.messages)
    assert any("took over a stale lock" in line for line in r.lines)
    assert not workspace.path(daily.LOCK_NAME).exists()


def test_stale_lock_too_old_is_taken_over(workspace):
    # a live process (this one) but a lock older than daily.lock_stale_hours: a hung run
    workspace.path(daily.LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename,
                                                           "created": time.time() - 13 * 3600, "at": "old"}))
    rep = daily.run_daily(workspace, reporter=_quiet(), send=False, only={"inbox"})
    assert any("hours old" in m for m in rep.messages)


def test_unreadable_lock_is_stale(tmp_path):
    p = tmp_path / "daily.lock"
    p.write_text("{garbage")
    msgs = []
    lock = FileLock(p).acquire(on_takeover=msgs.append)
    assert lock.held and "unreadable" in msgs[0]
    lock.release()


def test_due_rechecks(workspace):
    a = add_post(workspace, "1")  # offer, captured now
    add_post(workspace, "2", category="none", subtype=None)
    assert daily.due_recheck_ids(workspace) == []  # captured less than 24 h ago
    ws = configure(workspace, {"collect.recapture_interval_hours": 0})
    assert daily.due_recheck_ids(ws) == [a.post_id]  # offers only, not the negative
    ws.close()


def test_inbox_bad_file_is_reported_and_kept(workspace):
    inbox = workspace.path("inbox")
    inbox.mkdir()
    (inbox / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    (inbox / "notes.docx").write_bytes(b"PK")
    rep = daily.run_daily(workspace, reporter=_quiet(), send=False, only={"inbox"})
    st = rep.step("inbox")
    assert st.status == "failed" and "bad.jsonl" in st.error and "notes.docx" in st.error
    assert (inbox / "bad.jsonl").exists()  # not moved: nothing lost
    assert rep.exit_code == 1


def test_parse_base_urls():
    from storage.errors import InputError

    assert daily.parse_base_urls(["leboncoin=http://127.0.0.1:8001/"]) == {"leboncoin": "http://127.0.0.1:8001"}
    with pytest.raises(InputError):
        daily.parse_base_urls(["leboncoin:8001"])


def test_plain_log_lines_when_not_a_terminal(workspace, runner, cli_app):
    res = runner.invoke(cli_app, ["daily", "-w", str(workspace.root), "--no-send", "--only", "inbox"])
    assert res.exit_code == 0, res.output
    assert "[stage] digest: OK" in res.output
    assert "digest " in res.output


def test_backfill_runs_only_with_a_session(workspace, monkeypatch):
    import telegram_watch.commands as tgc

    ws = configure(workspace, {"telegram.channels": ["chan_a", "chan_b"]})
    seen = []

    def fake_backfill(ws_, channels, **kw):
        seen.append(list(channels))
        return [{"chat": "chan_a", "status": "ok", "imported": 4, "updated": 1},
                {"chat": "chan_b", "status": "failed", "error": "FloodWait of 3600 s"}]

    monkeypatch.setattr(tgc, "backfill", fake_backfill)
    monkeypatch.setattr(daily, "telegram_web_crawler", lambda: (lambda ws_, ch, base_url=None: {"items": 0}))
    rep = daily.run_daily(ws, reporter=_quiet(), send=False, only={"backfill"})
    assert rep.step("telegram backfill") is None and seen == []  # no session file: no backfill
    ws.path("telegram.session").write_bytes(b"x")
    rep = daily.run_daily(ws, reporter=_quiet(), send=False, only={"backfill"})
    st = rep.step("telegram backfill")
    assert seen == [["chan_a", "chan_b"]] and st.items == 5
    assert st.status == "partial" and "FloodWait" in st.error
    ws.close()


def test_failed_rechecks_make_the_stage_partial(workspace, monkeypatch):
    """A re-check that could not be done (tool error, no answer) is not 'still online': the stage is partial,
    the run's exit code is 1 and the digest lists it."""
    import storage.recheck as recheck_mod

    a = add_post(workspace, "1")
    b = add_post(workspace, "2")
    ws = configure(workspace, {"collect.recapture_interval_hours": 0})

    def fake_recheck(ws_, post_ids=None, telegram_base=None, **kw):
        rep = recheck_mod.RecheckReport()
        rep.add({"post_id": a.post_id, "outcome": "live", "note": "HTTP 200"})
        rep.add({"post_id": b.post_id, "outcome": "error", "note": "ConnectionRefusedError: [Errno 111]"})
        return rep

    monkeypatch.setattr(recheck_mod, "recheck", fake_recheck)
    rep = daily.run_daily(ws, reporter=_quiet(), send=False, only=set())
    step = rep.step("recheck")
    assert step.status == "partial" and step.items == 2
    assert f"1 of 2 re-check(s) failed, first: post {b.post_id}: ConnectionRefusedError" in step.error
    assert rep.exit_code == 1
    assert any(s["name"] == "recheck" and s["status"] == "partial" for s in rep.digest["data"]["sources"])
    ws.close()
