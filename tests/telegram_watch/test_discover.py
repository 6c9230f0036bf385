"""Snowball discovery from positive posts; the watch list; CLI."""

from __future__ import annotations

import json

from storage import Post, ingest
from telegram_watch.discover import discover, refs_in


def add(ws, chan, mid, text, fwd=None, extra=None):
    p = Post(platform="telegram", source=chan, url=f"https://t.me/{chan}/{mid}", external_id=f"{chan}/{mid}",
             text=text, forwarded_from=fwd, extra=dict(extra or {}, message_id=mid))
    return ingest(ws, p)


OFFER = "Vends RDV préfecture titre de séjour 80€, dispo demain"


def test_refs_in():
    refs = refs_in("voir t.me/Chan_Alpha et https://t.me/s/chan_beta/12 ou @Vendeur_Gamma, mail a@b.example "
                   "t.me/joinchat/abcdef t.me/+AbCdEf")
    assert refs == {"chan_alpha", "chan_beta", "vendeur_gamma"}
    assert refs_in("", extra={"forwarded": {"channel": "Src_Chan"}}) == {"src_chan"}
    assert refs_in("", extra={"entities": [{"type": "text_link", "href": "https://t.me/hidden_chan"}]}) == \
        {"hidden_chan"}


def test_discover_rank_threshold_depth_and_add(workspace, runner, cli_app):
    workspace.config.data["telegram"]["channels"] = ["seed_chan"]
    add(workspace, "seed_chan", 1, OFFER + " contact t.me/chan_alpha @chan_beta")
    add(workspace, "seed_chan", 2, OFFER + " encore t.me/chan_alpha")
    add(workspace, "seed_chan", 3, OFFER, extra={"forwarded": {"channel": "chan_alpha"}})
    add(workspace, "seed_chan", 4, OFFER + " @chan_beta")
    add(workspace, "seed_chan", 5, OFFER + " @once_only")
    add(workspace, "seed_chan", 6, "Météo: beau temps, voir t.me/chan_meteo t.me/chan_meteo")  # not positive
    add(workspace, "seed_chan", 7, "Météo: t.me/chan_meteo")
    add(workspace, "seed_chan", 8, OFFER + " t.me/seed_chan")  # self-reference
    cands = discover(workspace, min_refs=2, max_depth=2)
    assert [(c.name, c.refs, c.depth) for c in cands] == [("chan_alpha", 3, 1), ("chan_beta", 2, 1)]
    assert cands[0].via == {"link_or_mention": 2, "forward": 1}
    assert [c.name for c in discover(workspace, min_refs=1, max_depth=2)] == ["chan_alpha", "chan_beta",
                                                                               "once_only"]
    # --add writes the watch list with the depth; the next round goes one hop further
    from telegram_watch.discover import add_candidates

    assert add_candidates(workspace, cands) == 2
    add(workspace, "chan_alpha", 1, OFFER + " t.me/deeper_chan")
    add(workspace, "chan_alpha", 2, OFFER + " t.me/deeper_chan")
    names = {c.name: c.depth for c in discover(workspace, min_refs=2, max_depth=2)}
    assert names == {"deeper_chan": 2}
    assert discover(workspace, min_refs=2, max_depth=1) == []  # depth limit


def test_cli_discover_prints_then_adds(workspace, runner, cli_app):
    for i in range(3):
        add(workspace, "seed_chan", i, OFFER + " t.me/chan_alpha")
    w = ["-w", str(workspace.root)]
    res = runner.invoke(cli_app, ["telegram", "discover", *w])
    assert res.exit_code == 0 and "https://t.me/chan_alpha" in res.output and "--add" in res.output
    res = runner.invoke(cli_app, ["telegram", "channels", "--json", *w])
    assert json.loads(res.output) == []  # nothing added without --add
    res = runner.invoke(cli_app, ["telegram", "discover", "--add", "--json", *w])
    assert json.loads(res.output)["added"] == 1
    res = runner.invoke(cli_app, ["telegram", "channels", "--json", *w])
    assert [c["name"] for c in json.loads(res.output)] == ["chan_alpha"]
    res = runner.invoke(cli_app, ["telegram", "discover", "--json", *w])
    assert json.loads(res.output)["candidates"] == []  # already watched
