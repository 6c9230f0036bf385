"""The digest: windows, content, hostile text, delivery (SMTP, webhook), Chromium without console errors."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storage import digest
from storage.db import rows, transaction
from storage.post import iso, utcnow
from storage.posts import mark_status

from .daily_seed import add_post, configure

HOSTILE = ('<script>alert(1)</script><img src=x onerror="alert(2)"> {{ 7*7 }} {% for x in y %} '
           '[click](javascript:alert(3)) ‮evil')


def _seller(ws, label, post_ids):
    now = iso(utcnow())
    with transaction(ws.db):
        cur = ws.db.execute("insert into sellers(label, created_at, updated_at, post_count) values (?,?,?,?)",
                            [label, now, now, len(post_ids)])
        sid = cur.lastrowid
        for p in post_ids:
            ws.db.execute("update posts set seller_id = ? where id = ?", [sid, p])
        for a, b in zip(post_ids, post_ids[1:], strict=False):
            ws.db.execute("insert into seller_links(post_a, post_b, type, weight, evidence, created_at) "
                          "values (?,?,?,?,?,?)", [a, b, "phone", 1.0, "{}", now])
    return sid


def test_windows_count_each_thing_once(workspace):
    a = add_post(workspace, "a1", text="RDV préfecture 06 39 98 41 27", phone="06 39 98 41 27")
    b = add_post(workspace, "b1", platform="vivastreet", text="RDV préfecture 06 39 98 41 27",
                 phone="06 39 98 41 27")
    add_post(workspace, "n1", category="none", subtype=None, text="cherche aide")
    sid = _seller(workspace, "Rdv Express (fictif)", [a.post_id, b.post_id])
    d1 = digest.write_digest(workspace)
    c1 = d1["counts"]
    assert c1["new_offers"] == 2 and c1["new_sellers"] == 1 and c1["cross_platform_sellers"] == 1
    html = Path(d1["html"]).read_text("utf-8")
    assert "Rdv Express (fictif)" in html and "leboncoin" in html and "vivastreet" in html
    # a second digest right away (same second) lists nothing again
    d2 = digest.write_digest(workspace)
    assert d2["counts"]["new_offers"] == 0 and d2["counts"]["new_sellers"] == 0
    assert Path(d2["html"]).name != Path(d1["html"]).name
    # new platform for a known seller, a removal
    c = add_post(workspace, "c1", platform="telegram", text="RDV préfecture 06 39 98 41 27", phone="06 39 98 41 27")
    workspace.db.execute("update posts set seller_id = ? where id = ?", [sid, c.post_id])
    mark_status(workspace, a.post_id, "removed", reason="404")
    d3 = digest.write_digest(workspace)
    c3 = d3["counts"]
    assert c3["new_offers"] == 1 and c3["removed"] == 1 and c3["new_platform_sellers"] == 1
    np = d3["data"]["new_platform"][0]
    assert np["new_platforms"] == ["telegram"] and set(np["known_platforms"]) == {"leboncoin", "vivastreet"}
    md = Path(d3["md"]).read_text("utf-8")
    assert "now on telegram" in md
    assert len(digest.list_digests(workspace)) == 3
    # recorded with hashes and a custody entry
    r = rows(workspace.db, "select html_sha256 from digests order by id desc limit 1")[0]
    import hashlib

    assert hashlib.sha256(Path(d3["html"]).read_bytes()).hexdigest() == r["html_sha256"]
    assert rows(workspace.db, "select count(*) as n from custody_log where action = 'export' and "
                              "subject_type = 'digest'")[0]["n"] == 3


def test_hostile_text_is_inert(workspace):
    add_post(workspace, "h1", text=HOSTILE)
    workspace.db.execute("update posts set url = 'javascript:alert(4)' where external_id = 'h1'")
    d = digest.write_digest(workspace)
    html = Path(d["html"]).read_text("utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert "{{ 7*7 }}" in html  # shown as data, never evaluated
    md = Path(d["md"]).read_text("utf-8")
    assert "<script>" not in md and "](javascript" not in md
    assert "\\[click\\]" in md




def test_price_trends_per_currency(workspace):
    for i, (p, days) in enumerate([(80, 20), (90, 15), (120, 1), (130, 2)]):
        add_post(workspace, f"p{i}", price=p, days_ago=days)
    add_post(workspace, "m1", price=1500, currency="MAD", days_ago=1)
    t = {(x["category"], x["currency"]): x for x in digest.price_trends(workspace, iso(utcnow()))}
    eur = t[("appointment_resale", "EUR")]
    assert eur["n"] == 4 and eur["last_week_median"] == 125 and eur["change_pct"] == pytest.approx(47.1, abs=0.1)
    assert t[("appointment_resale", "MAD")]["median"] == 1500


class _FakeSMTP:
    sent: list = []

    def __init__(self, host, port, timeout=None):
        self.host, self.port = host, port
        self.logged = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def starttls(self, context=None):
        pass

    def login(self, user, password):
        self.logged = (user, password)
        _FakeSMTP.sent.append(("login", user, password))

    def send_message(self, msg):
        _FakeSMTP.sent.append(("msg", msg))


def test_email_password_from_env_never_logged(workspace, monkeypatch, caplog):
    ws = configure(workspace, {"digest.email_to": ["ngo@asso.example"], "smtp.host": "smtp.asso.example",
                               "smtp.username": "veille", "smtp.from_address": "veille@asso.example",
                               "smtp.password_env": "VEILLE_TEST_SMTP_PW"})
    add_post(ws, "e1")
    res = digest.write_digest(ws)
    # no password in the environment: a clear error naming the variable, not the value
    monkeypatch.delenv("VEILLE_TEST_SMTP_PW", raising=False)
    with caplog.at_level(logging.DEBUG):
        out = digest.deliver(ws, res)
    assert out["email"].startswith("failed") and "VEILLE_TEST_SMTP_PW" in out["email"]
    monkeypatch.setenv("VEILLE_TEST_SMTP_PW", "s3cret-pw-123")
    _FakeSMTP.sent = []
    with caplog.at_level(logging.DEBUG):
        assert digest.send_email(ws, res, smtp_factory=_FakeSMTP) == "sent"
    assert ("login", "veille", "s3cret-pw-123") in _FakeSMTP.sent
    msg = [m for m in _FakeSMTP.sent if m[0] == "msg"][0][1]
    assert msg["To"] == "ngo@asso.example" and "new offer" in msg["Subject"]
    assert "s3cret-pw-123" not in msg.as_string()
    assert "s3cret-pw-123" not in caplog.text
    ws.close()


def test_webhook_posts_to_local_server(workspace):
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        ws = configure(workspace, {"digest.webhook_url": f"http://127.0.0.1:{srv.server_address[1]}/hook"})
        add_post(ws, "w1")
        res = digest.write_digest(ws)
        out = digest.deliver(ws, res)
        assert out == {"email": "not configured", "webhook": "sent"}
        assert got[0]["counts"]["new_offers"] == 1 and "veille daily digest" in got[0]["text"]
        ws.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_webhook_bad_url_is_a_clear_error(workspace):
    ws = configure(workspace, {"digest.webhook_url": "file:///etc/passwd"})
    res = digest.write_digest(ws)
    out = digest.deliver(ws, res)
    assert out["webhook"].startswith("failed") and "digest.webhook_url" in out["webhook"]
    ws.close()


@pytest.mark.browser
def test_digest_loads_in_chromium_without_console_errors(workspace):
    playwright = pytest.importorskip("playwright.sync_api")
    a = add_post(workspace, "c1", text=HOSTILE)
    b = add_post(workspace, "c2", platform="telegram")
    _seller(workspace, "Vendeur <b>fictif</b>", [a.post_id, b.post_id])
    mark_status(workspace, b.post_id, "deleted")
    d = digest.write_digest(workspace)
    errors, dialogs, requests = [], [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda dlg: (dialogs.append(dlg.message), dlg.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(Path(d["html"]).as_uri())
        assert page.title().startswith("veille digest")
        body = page.inner_text("body")
        browser.close()
    assert errors == [] and dialogs == []
    assert all(u.startswith("file://") for u in requests)
    assert "Vendeur <b>fictif</b>" in body  # shown as text
    assert "New offers by category" in body
