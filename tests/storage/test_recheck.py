"""Re-checks against a local 127.0.0.1 server (live, 404 removed, changed, deleted), and relisting alerts."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drafting_seed import _post, seed  # noqa: E402

from storage import cases, custody, recheck, relisting  # noqa: E402
from storage.status import workspace_status  # noqa: E402

PAGES: dict[str, tuple[int, str]] = {
    "/robots.txt": (200, "User-agent: *\nDisallow: /private/\n"),
    # t.me embed of message 101: still there
    "/rdv_prefecture_75/101?embed=1": (200, """<html><body><div class="tgme_widget_message" data-post="rdv_prefecture_75/101">
      <div class="tgme_widget_message_text">RDV préfecture Bobigny titre de séjour dispo cette semaine 150€, contact
      WhatsApp +33 6 39 98 12 34</div></div></body></html>"""),
    # message 140: deleted
    "/rdv_prefecture_75/140?embed=1": (200, """<html><body><div class="tgme_widget_message_error">Post not found
      </div></body></html>"""),
    # leboncoin ad 2400000001: gone
    "/ad/2400000001": (404, "<html><body>Page introuvable</body></html>"),
    # ad 2400000999: still online but rewritten
    "/ad/2400000999": (200, "<html><body><h1>Vélo d'occasion</h1><p>Très bon état, 80 euros.</p></body></html>"),
    "/ad/live": (200, "<html><body><p>Faux permis de conduire, 300€</p></body></html>"),
    "/ad/marker": (200, "<html><body><p>Cette annonce n'est plus disponible</p></body></html>"),
    "/ad/captcha": (403, "<html><body>Please solve the captcha (DataDome)</body></html>"),
}
HITS: list[tuple[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        HITS.append((self.path, self.headers.get("User-Agent", "")))
        status, body = PAGES.get(self.path, (404, "not found"))
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


class Rewriter:
    """The test seam: the real polite fetcher, with the platforms' hosts mapped to the local server."""

    def __init__(self, ws, base):
        self.inner = recheck.HttpFetcher.from_config(ws.config)
        self.base = base

    def fetch(self, url):
        for host in ("https://t.me", "https://www.leboncoin.example"):
            if url.startswith(host):
                url = self.base + url[len(host):]
        return self.inner.fetch(url)


@pytest.fixture
def ws(workspace):
    ids = seed(workspace)
    workspace.ids = ids
    cases.create_case(workspace, "c")
    cases.add_to_case(workspace, "c", seller_ids=[1, 2])
    return workspace


@pytest.mark.parametrize("use_external", [{"telegram"}, set()], ids=["telegram_watch.preview", "builtin"])
def test_recheck_live_removed_changed(ws, server, use_external):
    HITS.clear()
    rep = recheck.recheck(ws, case="c", fetcher=Rewriter(ws, server), telegram_base=server,
                          use_external=use_external)
    by = {r["post_id"]: r for r in rep.results}
    ids = ws.ids
    assert by[ids["t1"]]["outcome"] in ("live", "changed") if use_external else by[ids["t1"]]["outcome"] == "live"
    assert by[ids["t2"]]["outcome"] == "removed"
    assert by[ids["lbc"]]["outcome"] == "removed" and by[ids["lbc"]]["http_status"] == 404
    assert by[ids["other"]]["outcome"] == "changed"
    # message 141 is not served: the Telegram package calls an HTTP 404 an error, the built-in path a removal
    assert by[ids["buyer"]]["outcome"] == ("error" if use_external else "removed")
    st = dict(ws.db.execute("select id, status from posts").fetchall())
    assert st[ids["t2"]] == "deleted" and st[ids["lbc"]] == "removed"
    assert st[ids["t1"]] == "live" and st[ids["other"]] == "live"
    # each fetch is kept as proof: a capture with the raw page, linked from the rechecks row
    for pid in (ids["t2"], ids["lbc"], ids["other"]):
        rc = cases.rechecks_for_post(ws, pid)[-1]
        cap = ws.db.execute("select kind, http_status, outcome from captures where id = ?",
                            [rc["capture_id"]]).fetchone()
        assert cap[0] in ("recapture", "embed")
        arts = ws.db.execute("select sha256 from artifacts where capture_id = ? and role = 'raw_html'",
                             [rc["capture_id"]]).fetchall()
        assert arts and ws.store.has(arts[0][0])
    assert ws.db.execute("select status_capture_id from posts where id = ?", [ids["lbc"]]).fetchone()[0]
    # polite: the configured user agent, robots.txt read once per host
    assert all(ua.startswith("veille/") for _, ua in HITS)
    assert [p for p, _ in HITS].count("/robots.txt") <= 1
    kinds = {r[0] for r in ws.db.execute("select kind from alerts")}
    assert "removed" in kinds
    assert custody.verify_chain(ws.db)[1] == []
    assert len(list(custody.iter_entries(ws.db, "where action = 'recheck'"))) >= 5


def test_recheck_other_markers_blocked_robots_and_down(ws, server):
    extra = {}
    for i, path in enumerate(("/ad/marker", "/ad/captcha", "/private/x", "/ad/live")):
        extra[path] = _post(ws, platform="leboncoin", ext=f"x{i}", url=server + path, text="Faux permis de "
                            "conduire, 300€", cat="forged_documents", sub="driving_licence",
                            posted=datetime(2026, 10, 20, 10, 0, tzinfo=UTC), source="lbc", handle=f"h{i}")
    down = _post(ws, platform="vivastreet", ext="down", url="http://127.0.0.1:9/ad/1", text="x", cat="forged_documents",
                 sub="other", posted=datetime(2026, 10, 20, tzinfo=UTC), source="v", handle="v")
    rep = recheck.recheck(ws, post_ids=[*extra.values(), down], relisting=False, use_external=set())
    by = {r["post_id"]: r for r in rep.results}
    assert by[extra["/ad/marker"]]["outcome"] == "removed" and "plus disponible" in by[extra["/ad/marker"]]["note"]
    assert by[extra["/ad/captcha"]]["outcome"] == "blocked"
    assert by[extra["/private/x"]]["outcome"] == "error" and "robots" in by[extra["/private/x"]]["note"]
    assert by[extra["/ad/live"]]["outcome"] == "live"
    assert by[down]["outcome"] == "error"
    st = dict(ws.db.execute("select id, status from posts").fetchall())
    assert st[extra["/ad/captcha"]] == "live" and st[down] == "live"  # never claimed removed without proof


def test_removed_post_back_online_is_marked_live(ws, server):
    from storage import mark_status

    mark_status(ws, ws.ids["other"], "removed", reason="test")
    PAGES["/ad/2400000999"], saved = (200, "<p>Faux permis de conduire, 300€</p>"), PAGES["/ad/2400000999"]
    try:
        recheck.recheck(ws, post_ids=[ws.ids["other"]], fetcher=Rewriter(ws, server), relisting=False,
                        use_external=set())
    finally:
        PAGES["/ad/2400000999"] = saved
    assert ws.db.execute("select status from posts where id = ?", [ws.ids["other"]]).fetchone()[0] == "live"


def test_politeness_delay_between_requests_to_one_host():
    slept = []
    f = recheck.HttpFetcher("veille-test", delay=5.0, obey_robots=False, sleep=slept.append)
    f._wait("a.example")
    f._wait("b.example")
    f._wait("a.example")
    assert len(slept) == 1 and 4.0 < slept[0] <= 5.0


def test_embed_url():
    assert recheck.embed_url({"external_id": "chan_1/42", "url": ""}) == "https://t.me/chan_1/42?embed=1"
    assert recheck.embed_url({"external_id": None, "url": "https://t.me/s/chan_1/42"}) == \
        "https://t.me/chan_1/42?embed=1"
    assert recheck.embed_url({"external_id": "-100123:5", "url": ""}) is None


# -------------------------------------------------------------- relisting
def test_relisting_alert_when_a_removed_seller_comes_back(ws, server):
    recheck.recheck(ws, case="c", fetcher=Rewriter(ws, server), telegram_base=server, relisting=False,
                    use_external={"telegram"})
    # a post seen before the removal does not count; a new one with the same phone does
    new = _post(ws, platform="ouedkniss", ext="oued-1", url="https://www.ouedkniss.example/1",
                text="Rendez-vous VFS disponibles, WhatsApp +33 6 39 98 12 34", cat="appointment_resale",
                sub="visa_center", posted=datetime(2026, 10, 30, tzinfo=UTC), source="ouedkniss", handle="new_seller",
                phones=["+33639981234"])
    ws.db.execute("update posts set first_seen_at = '2099-01-01T00:00:00Z' where id = ?", [new])
    same_account = _post(ws, platform="telegram", ext="rdv_prefecture_75/300", url="https://t.me/rdv_prefecture_75/300",
                         text="Nouveaux créneaux", cat="appointment_resale", sub="prefecture",
                         posted=datetime(2026, 10, 30, tzinfo=UTC), source="rdv_prefecture_75",
                         handle="rdv_prefecture_75")
    ws.db.execute("update posts set first_seen_at = '2099-01-02T00:00:00Z' where id = ?", [same_account])
    unrelated = _post(ws, platform="ouedkniss", ext="oued-2", url="https://www.ouedkniss.example/2", text="Vélo",
                      cat="none", sub=None, posted=datetime(2026, 10, 30, tzinfo=UTC), source="ouedkniss",
                      handle="velo", phones=["+33199009999"])
    ws.db.execute("update posts set first_seen_at = '2099-01-02T00:00:00Z' where id = ?", [unrelated])
    warning = _post(ws, platform="telegram", ext="entraide/9", url="https://t.me/entraide/9",
                    text="Attention, le +33 6 39 98 12 34 est un arnaqueur", cat="none", sub=None,
                    posted=datetime(2026, 10, 30, tzinfo=UTC), source="entraide", handle="entraide_admin",
                    phones=["+33639981234"])
    ws.db.execute("update posts set first_seen_at = '2099-01-02T00:00:00Z' where id = ?", [warning])
    alerts = relisting.detect_relisting(ws)
    got = {(a["seller_id"], a["post_id"]) for a in alerts}
    assert (1, new) in got and (1, same_account) in got
    assert not any(pid in (unrelated, warning) for _, pid in got)  # a warning quoting the phone is no relisting
    a = next(a for a in alerts if a["post_id"] == new)
    assert {"kind": "phone", "value": "+33639981234"} in a["matched"]
    assert relisting.detect_relisting(ws) == []  # idempotent
    st = workspace_status(ws)
    assert {"kind": "relisting", "n": len(got)} in st["alerts"]


def test_relisting_from_a_notice_marked_removed(ws):
    n = cases.record_notice(ws, ref="VEILLE-20261101-0001", kind="notice", platform="leboncoin", lang="fr",
                            fmt="md", path=None, sha256=None, post_ids=[ws.ids["other"]],
                            at=datetime(2026, 11, 1, tzinfo=UTC))
    cases.mark_notice(ws, n["ref"], "sent", "2026-11-01T01:00:00Z")
    assert relisting.detect_relisting(ws) == []
    cases.mark_notice(ws, n["ref"], "removed", "2026-11-02")
    back = _post(ws, platform="leboncoin", ext="2400001000", url="https://www.leboncoin.example/ad/2400001000",
                 text="Permis de conduire rapide", cat="forged_documents", sub="driving_licence",
                 posted=datetime(2026, 11, 10, tzinfo=UTC), source="lbc", handle="someone_else",
                 phones=["+33199001122"])
    ws.db.execute("update posts set first_seen_at = '2026-11-10T12:00:00Z' where id = ?", [back])
    alerts = relisting.detect_relisting(ws)
    assert [(a["seller_id"], a["post_id"]) for a in alerts] == [(2, back)]
    assert alerts[0]["removed_at"] == "2026-11-02T00:00:00Z"


def test_recheck_through_the_spiders_path(ws, server):
    """The spiders engineer's spiders.run.recheck (a Scrapy run in a worker) records the 404 as a removal;
    a platform without a site profile goes through Scrapy too (its page_check spider)."""
    run = pytest.importorskip("spiders.run")
    if not hasattr(run, "recheck"):
        pytest.skip("spiders.run.recheck is not available")
    ws.db.execute("update posts set url = ? where id = ?", [server + "/ad/2400000001", ws.ids["lbc"]])
    noprof = _post(ws, platform="myclassifieds", ext="m1", url=server + "/ad/live", text="Faux permis de conduire, "
                   "300€", cat="forged_documents", sub="driving_licence", posted=datetime(2026, 10, 20, tzinfo=UTC),
                   source="m", handle="m")
    rep = recheck.recheck(ws, post_ids=[ws.ids["lbc"], noprof], relisting=False, use_external={"spiders"})
    by = {r["post_id"]: r for r in rep.results}
    assert by[ws.ids["lbc"]]["via"] == "spiders.run" and by[ws.ids["lbc"]]["outcome"] == "removed"
    assert by[noprof]["via"] == "spiders.run" and by[noprof]["outcome"] == "live"
    assert ws.db.execute("select status from posts where id = ?", [ws.ids["lbc"]]).fetchone()[0] == "removed"
    assert [r["outcome"] for r in cases.rechecks_for_post(ws, ws.ids["lbc"])] == ["removed"]
