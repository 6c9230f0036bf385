"""veille cluster / sellers / seller show|merge|split / eval sellers through the CLI."""

from __future__ import annotations

import json

from matchers.types import Entity, Verdict
from storage.post import Post
from storage.posts import save_post

OFFER = Verdict(category="appointment_resale", subtype="prefecture", score=0.9)


def _seed(ws):
    ids = []
    for pid, platform, handle, phone in [("1", "telegram", "rdv_pref75", "+33639981234"),
                                         ("2", "leboncoin", "u2", "+33639981234"),
                                         ("3", "snapchat", "other.one", "+33199004455")]:
        text = f"RDV préfecture dispo, contact {phone}"
        post = Post(platform=platform, external_id=pid, url=f"https://{platform}.example/{pid}", author_handle=handle,
                    text=text)
        start = text.index(phone)
        ids.append(save_post(ws, post, verdict=OFFER,
                             entities=[Entity("phone", phone, phone, start, start + len(phone))]).post_id)
    return ids


def test_cluster_sellers_show_merge_split(workspace, runner, cli_app, tmp_path):
    ids = _seed(workspace)
    w = ["-w", str(workspace.root)]
    r = runner.invoke(cli_app, ["cluster", *w])
    assert r.exit_code == 0, r.output
    assert "3 post(s) clustered" in r.output and "2 new" in r.output
    # the JSONL export gives every clustered post its seller
    r = runner.invoke(cli_app, ["export", "jsonl", *w])
    exported = {o["id"]: o["seller_id"] for o in map(json.loads, r.stdout.splitlines())}
    db_sellers = dict(workspace.db.execute("select id, seller_id from posts").fetchall())
    assert exported == db_sellers and None not in exported.values()
    assert exported[ids[0]] == exported[ids[1]] != exported[ids[2]]
    r = runner.invoke(cli_app, ["sellers", "--json", *w])
    sellers = json.loads(r.stdout)
    assert [s["post_count"] for s in sellers] == [2, 1]
    big, small = sellers[0]["id"], sellers[1]["id"]
    assert sellers[0]["platforms"] == ["leboncoin", "telegram"]
    r = runner.invoke(cli_app, ["sellers", "--platform", "snapchat", "--json", *w])
    assert [s["id"] for s in json.loads(r.stdout)] == [small]
    r = runner.invoke(cli_app, ["seller", "show", str(big), *w])
    assert r.exit_code == 0, r.output
    assert "both give the phone +33 6 39 98 12 34" in r.output
    assert "timeline:" in r.output
    r = runner.invoke(cli_app, ["seller", "show", str(big), "--json", *w])
    assert json.loads(r.stdout)["links"][0]["types"] == ["identifier"]

    r = runner.invoke(cli_app, ["seller", "merge", str(big), "999", *w])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == "error: no seller 999 (see `veille sellers`)"
    assert "Traceback" not in r.output

    r = runner.invoke(cli_app, ["seller", "split", str(big), "--post", str(ids[1]), "--note", "not them", "--json",
                                *w])
    assert r.exit_code == 0, r.output
    split = json.loads(r.stdout)
    assert split["seller"] == big and split["posts"] == [ids[1]] and split["new_seller"] not in (big, small)
    r = runner.invoke(cli_app, ["cluster", "--full", "--json", *w])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["mode"] == "full"
    r = runner.invoke(cli_app, ["sellers", "--json", *w])
    assert sorted(s["post_count"] for s in json.loads(r.stdout)) == [1, 1, 1]

    r = runner.invoke(cli_app, ["seller", "merge", str(big), str(small), *w])
    assert r.exit_code == 0, r.output
    assert f"seller {small} merged into {big}" in r.output
    r = runner.invoke(cli_app, ["seller", "merge", str(big), str(split["new_seller"]), "--json", *w])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["merged"] == split["new_seller"]

    truth = tmp_path / "truth.jsonl"
    truth.write_text('{"url": "https://telegram.example/1", "seller": "a"}\n'
                     '{"url": "https://snapchat.example/3", "seller": "a"}\n')
    r = runner.invoke(cli_app, ["eval", "sellers", str(truth), *w])
    assert r.exit_code == 0, r.output
    assert "B-cubed   P 1.0000  R 1.0000  F1 1.0000" in r.output
    r = runner.invoke(cli_app, ["eval", "sellers", str(tmp_path / "nope.jsonl"), *w])
    assert r.exit_code == 1 and "error: cannot read" in r.output


def test_help_has_examples(runner, cli_app):
    for cmd in (["cluster"], ["sellers"], ["seller", "show"], ["seller", "merge"], ["seller", "split"],
                ["eval", "sellers"]):
        r = runner.invoke(cli_app, [*cmd, "--help"])
        assert r.exit_code == 0 and "Example" in r.output
