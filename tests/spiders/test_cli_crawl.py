"""The commands: veille crawl, veille profile test, veille profile list, veille import html."""

from __future__ import annotations

import json

from crawl_fixture_site import LBC_ADS, lbc_ad
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def _saved_page(tmp_path, i=0, name="annonce.html"):
    """A page as a browser's "Save page as" writes it: the URL in a comment, absolute links."""
    html = lbc_ad("", LBC_ADS[i]).replace("<head>", f"<!-- saved from url=(0044)https://www.leboncoin.fr/ad/services/"
                                                   f"{LBC_ADS[i]['id']} --><head>", 1)
    p = tmp_path / name
    p.write_text(html, "utf-8")
    return p


def test_profile_test_shows_found_and_missing_fields(tmp_path):
    page = _saved_page(tmp_path)
    res = runner.invoke(app, ["profile", "test", "leboncoin", str(page)])
    assert res.exit_code == 0, res.output
    assert "found   title" in res.output and "Vends rendez-vous préfecture Bobigny n°0" in res.output
    assert "<- next:props.pageProps.ad.subject" in res.output
    res = runner.invoke(app, ["profile", "test", "leboncoin", str(page), "--json"])
    data = json.loads(res.output)
    by = {f["field"]: f for f in data["fields"]}
    assert by["price"]["value"] == 100.0 and by["posted_at"]["found"]
    assert data["url"] == f"https://www.leboncoin.fr/ad/services/{LBC_ADS[0]['id']}"
    # the same page checked against the wrong profile: fields missing, said plainly
    res = runner.invoke(app, ["profile", "test", "tayara", str(page), "--json"])
    wrong = json.loads(res.output)
    assert "price" in wrong["missing"] and "author" in wrong["missing"]
    assert {f["field"]: f["source"] for f in wrong["fields"]}["title"] == "css:h1"
    bad = runner.invoke(app, ["profile", "test", "nosuch", str(page)])
    assert bad.exit_code == 1 and "unknown profile" in bad.output and "Traceback" not in bad.output


def test_profile_list():
    res = runner.invoke(app, ["profile", "list", "--json"])
    assert res.exit_code == 0
    names = {p["name"] for p in json.loads(res.output)}
    assert {"leboncoin", "vivastreet", "jemepropose", "avito_ma", "ouedkniss", "tayara"} <= names


def test_import_html_is_idempotent_and_keeps_the_saved_bytes(tmp_path, workspace):
    pages = [_saved_page(tmp_path, 0, "a.html"), _saved_page(tmp_path, 1, "b.html")]
    junk = tmp_path / "junk.html"
    junk.write_text("<html><body>rien</body></html>", "utf-8")
    args = ["import", "html", *map(str, pages), str(junk), "--profile", "leboncoin", "-w", str(workspace.root)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 imported, 0 updated, 0 unchanged, 1 failed" in res.output
    assert "junk.html" in res.output and "no ad found" in res.output
    again = runner.invoke(app, args)
    assert "0 imported, 0 updated, 2 unchanged" in again.output
    db = workspace.db
    assert db.execute("select count(*) from posts where platform = 'leboncoin'").fetchone()[0] == 2
    caps = db.execute("select id, kind, url from captures where kind = 'import'").fetchall()
    assert len(caps) == 2 and caps[0][2].startswith("https://www.leboncoin.fr/ad/services/")
    sha = db.execute("select sha256 from artifacts where capture_id = ? and role = 'raw_html'", [caps[0][0]]).fetchone()
    assert workspace.store.read(sha[0]) == pages[0].read_bytes()
    cat = db.execute("select category from posts where external_id = '1000'").fetchone()[0]
    assert cat == "appointment_resale"
    missing = runner.invoke(app, ["import", "html", str(tmp_path / "nope.html"), "-w", str(workspace.root)])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_crawl_command(site, fast_ws):
    root = str(fast_ws.root)
    res = runner.invoke(app, ["crawl", "tayara", "-k", "rdv", "--max-pages", "1", "--base-url",
                              f"tayara={site.base('tayara')}", "-w", root, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["sites"]["tayara"]["status"] == "ok" and data["items"] == 1
    assert data["sites"]["tayara"]["removed"] == 1
    bad = runner.invoke(app, ["crawl", "tayara", "--base-url", "tayara=ftp://x", "-w", root])
    assert bad.exit_code == 1 and "--base-url" in bad.output


def test_import_html_guesses_the_site_and_crawl_needs_a_workspace(tmp_path, workspace):
    page = _saved_page(tmp_path, 2, "c.html")
    res = runner.invoke(app, ["import", "html", str(page), "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["imported"] == 1
    plain = tmp_path / "plain.html"
    plain.write_text("<html><h1>Vends passeport</h1></html>", "utf-8")
    res = runner.invoke(app, ["import", "html", str(plain), "-w", str(workspace.root)])
    assert res.exit_code == 1 and "pass --profile" in res.output
    res = runner.invoke(app, ["crawl", "-w", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and "no veille workspace" in res.output and "Traceback" not in res.output
