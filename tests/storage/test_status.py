"""veille status: a source whose last run was only partly blocked is still named."""

from __future__ import annotations

from datetime import timedelta

from storage.post import utcnow
from storage.posts import Capture, add_capture, finish_run, start_run
from storage.status import workspace_status


def _blocked_capture(ws, site: str, when) -> None:
    add_capture(ws, Capture(kind="fetch", url=f"https://{site}.example/ad/1", fetched_at=when, http_status=403,
                            outcome="blocked", note="captcha", extra={"site": site}))


def test_partly_blocked_run_names_its_source(workspace):
    ws = workspace
    # an old blocked page of site-a, before its last run: not counted
    _blocked_capture(ws, "site-a", utcnow() - timedelta(days=2))
    run_a = start_run(ws, "site-a", "crawl")
    finish_run(ws, run_a, "ok", items=10)
    run_b = start_run(ws, "site-b", "crawl")
    _blocked_capture(ws, "site-b", utcnow())
    _blocked_capture(ws, "site-b", utcnow())
    finish_run(ws, run_b, "partial", items=3)
    run_c = start_run(ws, "site-c", "crawl")
    finish_run(ws, run_c, "blocked")
    st = workspace_status(ws)
    assert st["blocked_pages"] == {"site-b": 2}
    assert st["blocked_sources"] == ["site-b", "site-c"]


def test_a_crawl_is_not_hidden_by_the_recheck_after_it(workspace):
    ws = workspace
    crawl_run = start_run(ws, "site-d", "crawl")
    _blocked_capture(ws, "site-d", utcnow())
    finish_run(ws, crawl_run, "blocked")
    recheck_run = start_run(ws, "site-d", "recheck")
    finish_run(ws, recheck_run, "ok", items=4)
    st = workspace_status(ws)
    assert [(r["source"], r["kind"], r["status"]) for r in st["last_runs"]] == [
        ("site-d", "crawl", "blocked"), ("site-d", "recheck", "ok")]
    assert st["blocked_sources"] == ["site-d"] and st["blocked_pages"] == {"site-d": 1}


def test_status_without_runs(workspace):
    st = workspace_status(workspace)
    assert st["blocked_sources"] == [] and st["blocked_pages"] == {}
