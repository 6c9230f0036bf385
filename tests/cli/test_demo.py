"""End to end: `veille demo` in a temporary folder (killed once, then re-run), then the graph export and
Datasette on its workspace, and a re-run of the finished demo (nothing duplicated)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import networkx as nx
import pytest

VEILLE = str(Path(sys.executable).with_name("veille"))
ROOT = Path(__file__).resolve().parents[2]


def q(db: Path, sql: str, params=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


# Generous: the machine may be loaded by other jobs; the demo's own time is a figure of `make demo`, not a test.
TIMEOUT = 900


def _killed_during_day2(ws: Path) -> str:
    """Start `veille demo`, and kill it (SIGKILL: no clean-up at all) two seconds into day 2's daily job."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([VEILLE, "demo", "--workspace", str(ws)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    seen = []
    deadline = time.monotonic() + TIMEOUT
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("--- day 2"):
                time.sleep(2)
                break
            if time.monotonic() > deadline:
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    return "".join(seen)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, killed during day 2 and run again in the same folder: the re-run finishes the job."""
    ws = tmp_path_factory.mktemp("demo") / "ws"
    first = _killed_during_day2(ws)
    assert "--- day 2" in first, first
    p = subprocess.run([VEILLE, "demo", "--workspace", str(ws)], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=ROOT)
    return {"ws": ws, "db": ws / "veille.db", "out": p.stdout, "err": p.stderr, "code": p.returncode,
            "first": first}


def _printed(out: str, label: str) -> int:
    m = re.search(rf"^\s*{re.escape(label)}: (\d+)", out, re.M)
    assert m, f"{label!r} not printed:\n{out}"
    return int(m.group(1))


def test_demo_runs_and_counts_match_the_database(demo):
    out, db = demo["out"], demo["db"]
    assert demo["code"] == 0, demo["out"] + demo["err"]
    assert "resuming after day 1" in out  # the killed run had finished day 1
    assert _printed(out, "posts") == q(db, "select count(*) from posts")[0][0] > 30
    assert _printed(out, "offers") == q(db, "select count(*) from posts where category is not null "
                                            "and category != 'none'")[0][0]
    assert _printed(out, "hard negatives (classified none)") == q(db, "select count(*) from posts "
                                                                      "where category = 'none'")[0][0]
    assert _printed(out, "sellers") == q(db, "select count(*) from sellers")[0][0] >= 3
    m = re.search(r"of which on 2\+ platforms: (\d+)", out)
    assert int(m.group(1)) == q(db, "select count(*) from (select seller_id from posts where seller_id is not null "
                                    "group by seller_id having count(distinct platform) >= 2)")[0][0] >= 2
    assert _printed(out, "removed posts") == q(db, "select count(*) from posts where status in "
                                                   "('removed', 'deleted')")[0][0] == 1
    assert _printed(out, "relisting alerts") == q(db, "select count(*) from alerts where kind = 'relisting'")[0][0] >= 1
    assert re.search(r"custody entries: (\d+)", out)
    # every platform of the demo site, and the Telegram export, made it in
    platforms = {r[0] for r in q(db, "select distinct platform from posts")}
    assert {"leboncoin", "vivastreet", "jemepropose", "avito_ma", "ouedkniss", "tayara", "telegram"} <= platforms
    # the hard negatives stayed negatives
    for text in ("Recherche aide pour rendez-vous", "Étui passeport en cuir", "Avocate en droit des étrangers"):
        assert q(db, "select category from posts where title like ?", [f"%{text}%"])[0][0] == "none"
    # the removed ad is the one taken down on day 2, and proven by a capture
    r = q(db, "select external_id, status_capture_id from posts where status = 'removed'")[0]
    assert r[0] == "2890001002" and r[1]


def test_demo_bundle_verifies_independently(demo):
    bundle = re.search(r"^\s+bundle:\s+(/\S+\.zip)$", demo["out"], re.M).group(1)
    assert Path(bundle).is_file()
    p = subprocess.run([VEILLE, "verify", bundle], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr
    for label in ("DSA notice", "complaint"):
        path = re.search(rf"^\s+{label}:\s+(/\S+)$", demo["out"], re.M).group(1)
        assert Path(path).is_file() and Path(path).stat().st_size > 500


def test_demo_digests_name_sellers_and_cross_platform_links(demo):
    out = demo["out"]
    day1 = Path(re.search(r"digest day 1:\s+(\S+)", out).group(1)).read_text("utf-8")
    # fictional sellers' accounts are named, and one seller is shown linked across platforms
    for name in ("RdvExpress75", "Visa Sur", "Docs Pro"):
        assert name in day1, name
    cross = day1.split('id="cross"')[1].split('id="new-platform"')[0]
    row = next(r for r in cross.split("<tr>") if "+33639984127" in r)
    assert row.count('class="badge">') >= 3 and "leboncoin" in row and "telegram" in row
    day2 = Path(re.search(r"digest day 2:\s+(\S+)", out).group(1)).read_text("utf-8")
    removed = day2.split('id="removed"')[1].split('id="relisting"')[0]
    assert "2890001002" in removed or "naturalisation" in removed
    newplat = day2.split('id="new-platform"')[1].split('id="removed"')[0]
    assert "jemepropose" in newplat
    day3 = Path(re.search(r"digest day 3:\s+(\S+)", out).group(1)).read_text("utf-8")
    relist = day3.split('id="relisting"')[1].split('id="prices"')[0]
    assert "is back" in relist and "2890001003" in relist


def test_graph_export_matches_database(demo, tmp_path):
    db = demo["db"]
    for fmt in ("gexf", "graphml"):
        out = tmp_path / f"g.{fmt}"
        p = subprocess.run([VEILLE, "export", "graph", "--format", fmt, "-o", str(out), "-w", str(demo["ws"]),
                            "--json"], capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        g = nx.read_gexf(out) if fmt == "gexf" else nx.read_graphml(out)
        types = {}
        for _, d in g.nodes(data=True):
            types[d["type"]] = types.get(d["type"], 0) + 1
        seller_posts = ("seller_id is not null and coalesce(lower(author_role), '') in "
                        "('', 'seller', 'author', 'channel', 'admin', 'owner')")
        assert types["seller"] == q(db, "select count(*) from sellers")[0][0]
        accounts = q(db, f"select count(distinct platform || ':' || coalesce(author_handle, author)) from posts "  # noqa: S608
                         f"where {seller_posts} and coalesce(author_handle, author) is not null")[0][0]
        assert types["account"] == accounts
        assert types["platform"] == q(db, f"select count(distinct platform) from posts where {seller_posts}")[0][0]  # noqa: S608
        idents = q(db, "select count(distinct e.kind || ':' || e.value) from entities e join posts p on p.id = "  # noqa: S608
                       "e.post_id where e.kind in ('phone','whatsapp','telegram','snapchat','instagram','tiktok',"
                       "'email','wallet','iban') and p." + seller_posts.replace(" author", " p.author")
                       .replace("(author", "(p.author"))[0][0]
        assert types["identifier"] == idents
        etypes = {}
        for _, _, d in g.edges(data=True):
            etypes[d["link_type"]] = etypes.get(d["link_type"], 0) + 1
        assert etypes["has_account"] == accounts  # one seller per account here
        assert etypes["on_platform"] == accounts
        assert g.number_of_nodes() == json.loads(p.stdout)["nodes"]
        assert g.number_of_edges() == json.loads(p.stdout)["edges"]
        assert any(d["link_type"] not in ("has_account", "on_platform", "uses_identifier")
                   for _, _, d in g.edges(data=True))
        assert all(float(d["weight"]) > 0 for _, _, d in g.edges(data=True))
        # third parties from the Telegram export never appear
        labels = " ".join(str(d.get("label", "")) for _, d in g.nodes(data=True))
        assert "Karim" not in labels and "Lina" not in labels


def _get(url: str):
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def _start_datasette(ws_path: Path):
    """Datasette on a free port; another port if that one was taken meanwhile (checked: it serves our file)."""
    from storage.browse import prepare
    from storage.workspace import Workspace

    problems = []
    for _attempt in range(3):
        ws = Workspace.open(ws_path)
        cmd, _meta, port = prepare(ws)
        ws.close()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # a loaded machine can take long to start Datasette
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                _, _, body = _get(base + "/-/databases.json")
            except OSError:
                time.sleep(0.3)
                continue
            if proc.poll() is None and any(Path(d.get("path") or "").resolve() == (ws_path / "veille.db").resolve()
                                           for d in json.loads(body)):
                return proc, base
            break  # another server answers on that port
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        problems.append(f"port {port}: exit {proc.returncode}: {(err or '')[-300:]}")
    pytest.fail("datasette did not start: " + " | ".join(problems))


def test_datasette_canned_queries(demo):
    db = demo["db"]
    proc, base = _start_datasette(demo["ws"])
    try:
        def canned(name, extra=""):
            status, _, body = _get(f"{base}/veille/{name}.json?_shape=array{extra}")
            assert status == 200
            return json.loads(body)

        multi = canned("sellers_multi_platform")
        expected = {r[0] for r in q(db, "select seller_id from posts where seller_id is not null group by seller_id "
                                        "having count(distinct platform) >= 2")}
        assert {r["seller_id"] for r in multi} == expected and expected
        removed = canned("removed_posts")
        assert [r["post_id"] for r in removed] == [r[0] for r in q(db, "select id from posts where status in "
                                                                  "('removed', 'deleted')")]
        today = canned("new_offers_today")
        n_today = q(db, "select count(*) from posts where category != 'none' and category is not null "
                        "and first_seen_at >= strftime('%Y-%m-%dT00:00:00Z', 'now')")[0][0]
        assert len(today) == n_today
        # the demo's offers were first seen today, unless UTC midnight passed since the demo ran
        demo_day = q(db, "select substr(max(first_seen_at), 1, 10) from posts")[0][0]
        assert n_today > 0 or demo_day < time.strftime("%Y-%m-%d", time.gmtime())
        shared = canned("shared_identifiers")
        exp = q(db, "select count(*) from (select e.kind, e.value from entities e join posts p on p.id = e.post_id "
                    "where p.seller_id is not null and e.kind in ('phone','whatsapp','telegram','snapchat',"
                    "'instagram','tiktok','email','wallet','iban') group by e.kind, e.value "
                    "having count(distinct p.seller_id) >= 2)")[0][0]
        assert len(shared) == exp
        # evidence of a post, and the file itself served inert
        pid = removed[0]["post_id"]
        ev = canned("post_evidence", f"&post_id={pid}")
        assert ev and all(len(r["sha256"]) == 64 for r in ev)
        html_sha = next(r["sha256"] for r in ev if r["role"] == "raw_html")
        status, headers, body = _get(f"{base}/-/evidence/{html_sha}")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        assert "sandbox" in headers["content-security-policy"]
        # the links are rendered: post ids -> their evidence list, SHA-256 -> the file
        _, _, page = _get(f"{base}/veille/removed_posts")
        assert f'href="/veille/post_evidence?post_id={pid}"'.encode() in page
        _, _, page = _get(f"{base}/veille/post_evidence?post_id={pid}")
        assert f'href="/-/evidence/{html_sha}"'.encode() in page
        # full-text search on posts
        _, _, body = _get(base + "/veille/posts.json?_shape=array&_search=" + urllib.request.quote("passeport"))
        hits = json.loads(body)
        assert hits and all("passeport" in (h["title"] + h["text"]).lower() for h in hits)
        # every table and column is described
        _, _, body = _get(base + "/-/metadata.json")
        md = json.loads(body)["databases"]["veille"]["tables"]
        missing = [f"{t}.{c}" for t, d in md.items() for c, v in d["columns"].items() if "not described" in v]
        assert missing == []
        # read-only: a write through SQL is refused
        n = q(db, "select count(*) from posts")[0][0]
        try:
            _get(base + "/veille.json?sql=" + urllib.request.quote("delete from posts"))  # noqa: S608
        except urllib.error.HTTPError as exc:
            assert exc.code in (400, 403)
        assert q(db, "select count(*) from posts")[0][0] == n
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_rerun_of_a_finished_demo_duplicates_nothing(demo):
    """Runs last: it runs the demo a third time in the same folder."""
    db = demo["db"]
    counts = ("select count(*) from posts", "select count(*) from posts where status in ('removed', 'deleted')",
              "select count(*) from alerts", "select count(*) from notices", "select count(*) from sellers",
              "select count(*) from captures", "select count(*) from digests")
    before = [q(db, sql)[0][0] for sql in counts]
    p = subprocess.run([VEILLE, "demo", "--workspace", str(demo["ws"])], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "already ran the demo's days 1-3" in p.stdout
    assert [q(db, sql)[0][0] for sql in counts] == before
    assert _printed(p.stdout, "removed posts") == 1
    # the same outputs are named: digests of the three days, the bundle, the drafts
    for label in ("digest day 1", "digest day 3", "bundle", "DSA notice", "complaint"):
        old = re.search(rf"^\s+{label}:\s+(\S+)$", demo["out"], re.M).group(1)
        assert re.search(rf"^\s+{label}:\s+(\S+)$", p.stdout, re.M).group(1) == old
    assert "drafted by an earlier run" in p.stdout


def test_demo_refuses_a_real_workspace(runner, cli_app, workspace, tmp_path):
    """The demo writes fictional data and settings: never into a workspace it did not create."""
    cfg = workspace.root / "veille.toml"
    before = cfg.read_bytes()
    posts = q(workspace.root / "veille.db", "select count(*) from posts")[0][0]
    res = runner.invoke(cli_app, ["demo", "--workspace", str(workspace.root)])
    assert res.exit_code == 1 and "the demo did not create" in res.output, res.output
    assert cfg.read_bytes() == before and not (workspace.root / "demo").exists()
    assert q(workspace.root / "veille.db", "select count(*) from posts")[0][0] == posts
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("x")
    res = runner.invoke(cli_app, ["demo", "--workspace", str(other)])
    assert res.exit_code == 1 and "is not empty and is not a veille workspace" in res.output
