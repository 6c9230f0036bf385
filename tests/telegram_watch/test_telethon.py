"""Telethon route, offline: real TL objects, a never-connected client dispatching updates, a recorded seam."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest
from telethon import errors, utils
from telethon.sessions import MemorySession
from telethon.tl import types

from storage.errors import ConfigError, SourceError
from telegram_watch import commands
from telegram_watch.backfill import backfill
from telegram_watch.client import TelegramSeam, login, make_client, session_path
from telegram_watch.watch import register_handlers


def offline_client(workspace):
    client = make_client(workspace, session=MemorySession())
    client._mb_entity_cache.set_self_user(111, False, 0)
    return client


async def dispatch(client, update, channel):
    update._entities = {utils.get_peer_id(types.PeerChannel(channel.id)): channel}
    await client._dispatch_update(update)


def test_live_new_edit_delete(workspace, tgf):
    ch = tgf.tl_channel()
    client = offline_client(workspace)
    alerts, events_seen = [], []
    state = register_handlers(client, workspace, seam=None, chats=[ch], on_alert=alerts.append,
                              on_event=lambda k, i: events_seen.append((k, i)))

    async def scenario():
        await dispatch(client, types.UpdateNewChannelMessage(tgf.tl_message(7, tgf.OFFER), pts=1, pts_count=1), ch)
        await dispatch(client, types.UpdateNewChannelMessage(tgf.tl_message(8, tgf.NEUTRAL), pts=2, pts_count=1), ch)
        # a message of another channel is not watched
        other = tgf.tl_channel(cid=1_500_000_999, username="other_chan_test")
        await dispatch(client, types.UpdateNewChannelMessage(
            tgf.tl_message(9, tgf.OFFER, cid=other.id), pts=3, pts_count=1), other)
        edited = tgf.tl_message(7, tgf.OFFER.replace("80€", "120€"), edit_date=tgf.T0.replace(hour=12))
        await dispatch(client, types.UpdateEditChannelMessage(edited, pts=4, pts_count=1), ch)
        await dispatch(client, types.UpdateDeleteChannelMessages(channel_id=ch.id, messages=[7, 8, 55], pts=5,
                                                                 pts_count=3), ch)

    asyncio.run(scenario())
    assert state.new == 2 and state.edited == 1 and state.deleted == 2 and state.errors == 0
    rows = {r[0]: r[1:] for r in workspace.db.execute(
        "select external_id, version, status, status_at, text, url, category from posts")}
    assert set(rows) == {"rdv_express_test/7", "rdv_express_test/8"}
    v, status, at, text, url, cat = rows["rdv_express_test/7"]
    assert v == 2 and status == "deleted" and at and "120€" in text and cat == "appointment_resale"
    assert url == "https://t.me/rdv_express_test/7"
    pid = workspace.db.execute("select id from posts where external_id='rdv_express_test/7'").fetchone()[0]
    versions = workspace.db.execute("select version, text, edited_at from post_versions where post_id=? order by "
                                    "version", [pid]).fetchall()
    assert "80€" in versions[0][1] and "120€" in versions[1][1] and versions[1][2] == "2026-11-01T12:00:00Z"
    # alerts: the offer, then its edit; stored and printed
    assert [a["edit"] for a in alerts] == [False, True]
    assert workspace.db.execute("select count(*) from alerts where kind='offer'").fetchone()[0] == 2
    assert workspace.db.execute("select count(*) from alerts where kind='removed'").fetchone()[0] == 2
    # raw to_dict() JSON kept as evidence
    sha = workspace.db.execute("select a.sha256 from artifacts a join captures c on c.id=a.capture_id "
                               "where c.post_id=? and a.role='json' order by a.id limit 1", [pid]).fetchone()[0]
    raw = json.loads(workspace.store.read(sha))
    assert raw["_"] == "Message" and raw["id"] == 7 and raw["peer_id"]["channel_id"] == ch.id
    # the deletion update is evidence too, and the status points at it
    cap = workspace.db.execute("select c.outcome, c.kind from posts p join captures c on c.id=p.status_capture_id "
                               "where p.id=?", [pid]).fetchone()
    assert cap == ("removed", "event")


def seam_for(tgf, n=250, **kw):
    ch = tgf.tl_channel()
    msgs = [tgf.tl_message(i, tgf.OFFER if i % 50 == 0 else f"{tgf.NEUTRAL} #{i}") for i in range(1, n + 1)]
    return tgf.RecordedSeam(ch, msgs, **kw)


def counts(ws):
    posts = ws.db.execute("select count(*), count(distinct external_id) from posts").fetchone()
    caps = ws.db.execute("select count(*) from captures where kind='fetch'").fetchone()[0]
    return posts[0], posts[1], caps


def test_backfill_floodwait_mid_run(workspace, tgf):
    seam = seam_for(tgf, fail_before={120: errors.FloodWaitError(request=None, capture=37)})
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.status == "ok" and rep.flood_waits == [37] and seam.slept == [37]
    assert rep.fetched == 250 and rep.last_id == 250 and rep.positives == 5
    assert counts(workspace) == (250, 250, 250)
    # the iteration restarted after the last committed message, not from the start
    iters = [c for c in seam.calls if c[0] == "iter_messages"]
    assert [c[1] for c in iters] == [0, 119]
    run = workspace.db.execute("select status, items from runs where kind='backfill'").fetchone()
    assert run == ("ok", 250)


def test_backfill_floodwait_too_long_stops_then_resumes(workspace, tgf):
    seam = seam_for(tgf, fail_before={180: errors.FloodWaitError(request=None, capture=5000)})
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.status == "partial" and "max_flood_wait" in rep.error and seam.slept == []
    assert counts(workspace)[0] == 179
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.status == "ok" and rep.resumed_from == 179 and rep.fetched == 71
    assert counts(workspace) == (250, 250, 250)


def test_backfill_crash_then_resume_no_loss_no_duplicates(workspace, tgf):
    seam = seam_for(tgf, fail_before={163: ConnectionError("network dropped")})
    with pytest.raises(SourceError, match="run it again to resume"):
        asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert counts(workspace)[0] == 162  # what was read before the failure is kept
    assert workspace.db.execute("select status from runs").fetchone()[0] == "failed"
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.resumed_from == 162 and rep.fetched == 88
    assert counts(workspace) == (250, 250, 250)


def test_backfill_kill_mid_chunk_then_resume(workspace, tgf, monkeypatch):
    import telegram_watch.backfill as bf

    seam = seam_for(tgf)
    real = bf.message_to_capture

    async def killing(seam_, msg, *a, **kw):
        if msg.id == 140:
            raise KeyboardInterrupt  # killed while a chunk (101..139) is not committed yet
        return await real(seam_, msg, *a, **kw)

    monkeypatch.setattr(bf, "message_to_capture", killing)
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert counts(workspace)[0] == 100  # only whole committed chunks
    monkeypatch.setattr(bf, "message_to_capture", real)
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.resumed_from == 100
    assert counts(workspace) == (250, 250, 250)
    # a third run finds nothing new and stores nothing twice
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=1000))
    assert rep.fetched == 0 and counts(workspace) == (250, 250, 250)


def test_backfill_limit_since_and_edits(workspace, tgf):
    seam = seam_for(tgf)
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=30))
    assert rep.fetched == 30 and rep.first_id == 221 and rep.last_id == 250  # the 30 most recent
    # an edit seen on a later pass becomes a new version (re-read by a fresh backfill of the same ids)
    from storage.telegram_store import set_backfill_id

    workspace.db.execute("update telegram_sync set last_backfill_id = 240")
    seam.messages[-1] = tgf.tl_message(250, tgf.OFFER + " (modifié)", edit_date=tgf.T0.replace(hour=20))
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=30))
    assert rep.updated == 1 and rep.unchanged == 9
    assert workspace.db.execute("select version from posts where external_id='rdv_express_test/250'"
                                ).fetchone()[0] == 2
    set_backfill_id(workspace, "rdv_express_test", 10)  # never moves back
    assert workspace.db.execute("select last_backfill_id from telegram_sync").fetchone()[0] == 250


def test_backfill_since_date(workspace, tgf):
    from datetime import timedelta

    seam = seam_for(tgf)
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", since=tgf.T0 + timedelta(minutes=200),
                               limit=1000))
    assert rep.first_id == 201 and rep.fetched == 50


def test_unknown_channel_clear_message(workspace, tgf):
    seam = seam_for(tgf, n=3)
    with pytest.raises(SourceError, match="does not exist"):
        asyncio.run(backfill(workspace, seam, "nobody_here_test"))


class LoginSeam:
    def __init__(self, twofa=True):
        self.twofa = twofa
        self.signed = []

    async def connect(self):
        pass

    async def disconnect(self):
        pass

    async def is_user_authorized(self):
        return False

    async def send_code_request(self, phone):
        self.phone = phone

    async def sign_in(self, phone=None, code=None, password=None):
        self.signed.append((phone, code, password))
        if password is None and self.twofa:
            raise errors.SessionPasswordNeededError(request=None)
        if password is not None and password != "correct horse":
            raise errors.PasswordHashInvalidError(request=None)

    async def get_me(self):
        return types.User(id=111, username="enqueteur_test")


def test_login_flow_with_2fa():
    seam = LoginSeam()
    asked = []
    info = asyncio.run(login(seam, lambda: asked.append("phone") or "+33639981234",
                             lambda: asked.append("code") or "12345",
                             lambda: asked.append("pw") or "correct horse"))
    assert asked == ["phone", "code", "pw"] and info == {"user_id": 111, "username": "enqueteur_test",
                                                         "already": False}
    assert seam.signed == [("+33639981234", "12345", None), (None, None, "correct horse")]
    with pytest.raises(SourceError, match="wrong two-step"):
        asyncio.run(login(LoginSeam(), lambda: "+33639981234", lambda: "1", lambda: "nope"))


def test_make_client_session_file_private(workspace, monkeypatch):
    monkeypatch.delenv("VEILLE_TG_API_ID", raising=False)
    with pytest.raises(ConfigError, match="VEILLE_TG_API_ID"):
        make_client(workspace)
    monkeypatch.setenv("VEILLE_TG_API_ID", "12345")
    monkeypatch.setenv("VEILLE_TG_API_HASH", "ab" * 16)
    client = make_client(workspace)  # constructing it never connects
    path = session_path(workspace)
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert client.flood_sleep_threshold == 0
    client.session.close()


def test_cli_backfill_search_and_login(runner, cli_app, workspace, tgf, monkeypatch):
    seam = seam_for(tgf, n=60)
    monkeypatch.setattr(commands, "open_seam", lambda ws: (None, seam))
    res = runner.invoke(cli_app, ["telegram", "backfill", "@rdv_express_test", "--limit", "100",
                                  "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "60 read, 60 new" in res.output and res.output.count("ALERT appointment_resale") == 1
    res = runner.invoke(cli_app, ["telegram", "search", "rdv prefecture", "--json", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["name"] == "rdv_express_test"
    res = runner.invoke(cli_app, ["telegram", "backfill", "nobody_here_test", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "does not exist" in res.output and "Traceback" not in res.output
    seam.authorized = False
    res = runner.invoke(cli_app, ["telegram", "backfill", "rdv_express_test", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "telegram login" in res.output

    monkeypatch.setattr(commands, "open_seam", lambda ws: (None, LoginSeam(twofa=False)))
    res = runner.invoke(cli_app, ["telegram", "login", "-w", str(workspace.root)], input="+33639981234\n12345\n")
    assert res.exit_code == 0, res.output
    assert "logged in as @enqueteur_test" in res.output
    assert "12345" not in res.output.split("\n")[-2]


def test_seam_wraps_real_client_calls(workspace):
    """The seam passes pacing to iter_messages and refuses over-size media without downloading."""
    client = offline_client(workspace)
    seam = TelegramSeam(client, pace_seconds=2.5)
    it = seam.iter_messages(types.InputPeerChannel(1, 2), min_id=5, limit=10)
    assert it.wait_time == 2.5 and it.reverse is True and it.limit == 10

    class F:
        size = 99

    class M:
        media = object()
        file = F()

    assert asyncio.run(seam.download_media(M(), max_bytes=10)) is None


def test_backfill_channels_sync_for_daily(workspace, tgf, monkeypatch):
    from telegram_watch.backfill import backfill_channels

    seam = seam_for(tgf, n=40)
    monkeypatch.setattr(commands, "open_seam", lambda ws: (None, seam))
    run = backfill_channels(workspace, ["rdv_express_test", "nobody_here_test"])
    assert run.items == 40 and list(run.failed) == ["nobody_here_test"]
    with pytest.raises(SourceError, match="does not exist"):
        backfill_channels(workspace, "nobody_here_test")
    workspace.config.data["telegram"]["channels"] = ["@rdv_express_test"]
    assert backfill_channels(workspace).items == 0  # the watch list; nothing new


def test_client_created_in_one_place_only():
    """Telegram I/O stays in telegram_watch, and TelegramClient is constructed in make_client alone."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    hits = []
    for p in root.rglob("*.py"):
        if any(part in (".venv", "tests", "bench", "node_modules") for part in p.relative_to(root).parts):
            continue
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.search(r"\bTelegramClient\(", line):
                hits.append(f"{p.relative_to(root)}:{n}")
    assert len(hits) == 1 and hits[0].startswith("telegram_watch/client.py"), hits


def test_resolve_honours_short_floodwait_and_reports_long_one(workspace, tgf):
    seam = seam_for(tgf, n=5)
    real = seam.get_entity
    waits = [errors.FloodWaitError(request=None, capture=12)]

    async def flaky(ref):
        if waits:
            raise waits.pop()
        return await real(ref)

    seam.get_entity = flaky
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test"))
    assert seam.slept == [12] and rep.fetched == 5
    waits.append(errors.FloodWaitError(request=None, capture=99999))
    with pytest.raises(SourceError, match="wait 99999 s"):
        asyncio.run(backfill(workspace, seam, "rdv_express_test"))


def test_cli_watch_end_to_end(runner, cli_app, workspace, tgf, monkeypatch):
    """`veille telegram watch`: resolve the watch list, attach handlers, print alerts and deletions."""
    ch = tgf.tl_channel()
    client = offline_client(workspace)
    seam = tgf.RecordedSeam(ch, [])

    async def run_until_disconnected():
        await dispatch(client, types.UpdateNewChannelMessage(tgf.tl_message(3, tgf.OFFER), pts=1, pts_count=1), ch)
        await dispatch(client, types.UpdateEditChannelMessage(
            tgf.tl_message(3, tgf.OFFER + " (dernier)", edit_date=tgf.T0), pts=2, pts_count=1), ch)
        await dispatch(client, types.UpdateDeleteChannelMessages(channel_id=ch.id, messages=[3], pts=3,
                                                                 pts_count=1), ch)

    seam.run_until_disconnected = run_until_disconnected
    monkeypatch.setattr(commands, "open_seam", lambda ws: (client, seam))
    cfg = workspace.root / "veille.toml"
    cfg.write_text(cfg.read_text().replace("channels = []", 'channels = ["@nobody_here_test", "@rdv_express_test"]',
                                           1))
    res = runner.invoke(cli_app, ["telegram", "watch", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "ALERT appointment_resale" in res.output and "edited: post 1 now version 2" in res.output
    assert "deleted: posts [1]" in res.output
    assert ("get_entity", "rdv_express_test") in seam.calls
    # a channel that does not exist is reported and the others are watched
    assert "not watched: Telegram channel 'nobody_here_test' does not exist" in res.output
    res = runner.invoke(cli_app, ["telegram", "watch", "-c", "nobody_here_test", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "nothing to watch: Telegram channel 'nobody_here_test' does not exist" in res.output
    assert seam.calls[-1] == ("disconnect",)
    seam.authorized = False
    res = runner.invoke(cli_app, ["telegram", "watch", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "telegram login" in res.output


def test_group_roles_live_and_backfill_third_parties_redacted(workspace, tgf):
    """In a group, the channel's own posts are 'channel', senders of telegram.sellers are 'seller', everybody
    else (people who asked or replied) 'third_party'; bundles then redact the third parties only."""
    from storage.bundle import build_redactor

    workspace.config.data["telegram"]["sellers"] = ["@Vendeur_RDV_Test"]
    group = types.Channel(id=1_500_000_077, title="Entraide RDV (fiction)", photo=types.ChatPhotoEmpty(), date=tgf.T0,
                          username="entraide_rdv_test", access_hash=7, megagroup=True)
    seller = types.User(id=5001, first_name="Vendeur", last_name="Fiction", username="vendeur_rdv_test",
                        access_hash=1)
    asker = types.User(id=5002, first_name="Camille", last_name="Exemple", username="camille_exemple_test",
                       access_hash=2)

    def gmsg(mid, user, text, **kw):
        return types.Message(id=mid, peer_id=types.PeerChannel(group.id), date=tgf.T0 + __import__("datetime")
                             .timedelta(minutes=mid), message=text, from_id=types.PeerUser(user.id) if user else None,
                             **kw)

    client = offline_client(workspace)
    register_handlers(client, workspace, seam=None, chats=[group])

    async def scenario():
        for m in (gmsg(1, asker, "Qui vend un RDV préfecture à Bobigny ? je paie 50€"),
                  gmsg(2, seller, tgf.OFFER, reply_to=types.MessageReplyHeader(reply_to_msg_id=1)),
                  gmsg(3, asker, "Merci, je te contacte @vendeur_rdv_test",
                       reply_to=types.MessageReplyHeader(reply_to_msg_id=2)),
                  gmsg(4, None, "Règles du groupe: pas de vente", post=False)):  # sent as the group (anonymous admin)
            upd = types.UpdateNewChannelMessage(m, pts=m.id, pts_count=1)
            upd._entities = {utils.get_peer_id(types.PeerChannel(group.id)): group,
                             utils.get_peer_id(seller): seller, utils.get_peer_id(asker): asker}
            await client._dispatch_update(upd)

    asyncio.run(scenario())
    rows = {r[0]: r[1:] for r in workspace.db.execute("select external_id, author_role, author_handle from posts")}
    assert rows["entraide_rdv_test/1"] == ("third_party", "camille_exemple_test")
    assert rows["entraide_rdv_test/2"] == ("seller", "vendeur_rdv_test")
    assert rows["entraide_rdv_test/3"][0] == "third_party"
    assert rows["entraide_rdv_test/4"][0] == "channel"
    # a broadcast channel's posts (backfill) are the channel's
    rep = asyncio.run(backfill(workspace, seam_for(tgf, n=3), "rdv_express_test", limit=10))
    assert rep.fetched == 3
    assert {r[0] for r in workspace.db.execute(
        "select author_role from posts where source='rdv_express_test'")} == {"channel"}
    # the bundle of the offer redacts the person who asked, never the seller
    pid = workspace.db.execute("select id from posts where external_id='entraide_rdv_test/2'").fetchone()[0]
    red = build_redactor(workspace, [pid])
    out = red.redact_text("camille_exemple_test et Camille Exemple ont écrit à vendeur_rdv_test")
    assert "camille_exemple_test" not in out and "Camille Exemple" not in out and "vendeur_rdv_test" in out


def test_telethon_json_import_roles(workspace, tmp_path, tgf):
    from telegram_watch.convert import tl_json
    from telegram_watch.export import import_export

    msgs = [tgf.tl_message(5, "RDV dispo"),
            types.Message(id=6, peer_id=types.PeerChannel(tgf.CHANNEL_ID), date=tgf.T0, message="je cherche",
                          from_id=types.PeerUser(777)),
            types.Message(id=7, peer_id=types.PeerChannel(tgf.CHANNEL_ID), date=tgf.T0, message="vends",
                          from_id=types.PeerUser(888))]
    f = tmp_path / "msgs.json"
    f.write_bytes(b"[" + b",".join(tl_json(m.to_dict()) for m in msgs) + b"]")
    rep = import_export(workspace, f, sellers=["user888"], channel="rdv_express_test")
    assert rep.roles == {"channel": 1, "third_party": 1, "seller": 1}
    rows = dict(workspace.db.execute("select external_id, author_role from posts"))
    assert rows == {"rdv_express_test/5": "channel", "rdv_express_test/6": "third_party",
                    "rdv_express_test/7": "seller"}


def test_restriction_reason_grouped_id_and_raw_json_kept(workspace, tgf):
    rr = [types.RestrictionReason(platform="all", reason="porn", text="Contenu restreint (fiction)")]
    msgs = [tgf.tl_message(1, tgf.OFFER, restriction_reason=rr, grouped_id=999, forwards=3),
            tgf.tl_message(2, "suite", grouped_id=999, edit_date=tgf.T0.replace(hour=11))]
    seam = tgf.RecordedSeam(tgf.tl_channel(), msgs)
    asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=10))
    pid, extra = workspace.db.execute("select id, extra from posts where external_id='rdv_express_test/1'").fetchone()
    extra = json.loads(extra)
    assert extra["restriction_reason"] == [{"platform": "all", "reason": "porn", "text": "Contenu restreint (fiction)"}]
    assert extra["grouped_id"] == 999 and extra["forwards"] == 3 and extra["views"] == 10
    raw = json.loads(workspace.store.read(workspace.db.execute(
        "select a.sha256 from artifacts a join captures c on c.id=a.capture_id where c.post_id=? and a.role='json'",
        [pid]).fetchone()[0]))
    assert raw["restriction_reason"][0]["_"] == "RestrictionReason" and raw["grouped_id"] == 999
    e2 = json.loads(workspace.db.execute("select extra from posts where external_id='rdv_express_test/2'").fetchone()[0])
    assert e2["edited_at"] == "2026-11-01T11:00:00Z"


def test_search_goes_through_contacts_search():
    """The seam sends a real contacts.SearchRequest (the client is a stand-in that records the request)."""
    from telethon.tl.functions.contacts import SearchRequest

    from telegram_watch.discover import search_public

    sent = []

    class Client:
        async def __call__(self, request):
            sent.append(request)
            ch = types.Channel(id=5, title="RDV (fiction)", photo=types.ChatPhotoEmpty(), date=None,
                               username="rdv_fiction_test", access_hash=1, broadcast=True, participants_count=12)
            return types.contacts.Found(my_results=[], results=[types.PeerChannel(5)], chats=[ch], users=[])

    out = asyncio.run(search_public(TelegramSeam(Client()), "rdv préfecture", limit=20))
    assert isinstance(sent[0], SearchRequest) and sent[0].q == "rdv préfecture" and sent[0].limit == 20
    assert out == [{"name": "rdv_fiction_test", "title": "RDV (fiction)", "id": 5, "kind": "channel", "members": 12,
                    "url": "https://t.me/rdv_fiction_test"}]


def test_live_forward_names_its_origin_for_discovery(workspace, tgf):
    from telegram_watch.discover import discover

    ch = tgf.tl_channel()
    src = tgf.tl_channel(cid=1_500_000_555, username="source_chan_test", title="Source (fiction)")
    client = offline_client(workspace)
    register_handlers(client, workspace, seam=None, chats=[ch])

    async def scenario():
        for mid in (11, 12):
            m = tgf.tl_message(mid, tgf.OFFER + f" #{mid}", fwd_from=types.MessageFwdHeader(
                date=tgf.T0, from_id=types.PeerChannel(src.id), channel_post=50 + mid))
            upd = types.UpdateNewChannelMessage(m, pts=mid, pts_count=1)
            upd._entities = {utils.get_peer_id(types.PeerChannel(ch.id)): ch,
                             utils.get_peer_id(types.PeerChannel(src.id)): src}
            await client._dispatch_update(upd)

    asyncio.run(scenario())
    fwd, extra = workspace.db.execute("select forwarded_from, extra from posts where external_id='rdv_express_test/11'"
                                      ).fetchone()
    assert fwd == "https://t.me/source_chan_test/61"
    assert json.loads(extra)["forwarded"]["channel"] == "source_chan_test"
    cands = {c.name: c for c in discover(workspace, min_refs=2)}
    assert cands["source_chan_test"].refs == 2 and cands["source_chan_test"].via["forward"] == 2


def test_live_keyword_alerts(workspace, tgf):
    workspace.config.data["telegram"]["alert_keywords"] = ["ANEF", "titre de séjour"]
    ch = tgf.tl_channel()
    client = offline_client(workspace)
    alerts = []
    state = register_handlers(client, workspace, seam=None, chats=[ch], on_alert=alerts.append)

    async def scenario():
        await dispatch(client, types.UpdateNewChannelMessage(
            tgf.tl_message(1, "Info: le site de l'Anef est en panne, TITRE DE SEJOUR en retard"), pts=1, pts_count=1), ch)
        await dispatch(client, types.UpdateNewChannelMessage(tgf.tl_message(2, tgf.NEUTRAL), pts=2, pts_count=1), ch)
        await dispatch(client, types.UpdateNewChannelMessage(tgf.tl_message(3, tgf.OFFER), pts=3, pts_count=1), ch)
        # the same message again (unchanged): no new alert
        await dispatch(client, types.UpdateNewChannelMessage(
            tgf.tl_message(1, "Info: le site de l'Anef est en panne, TITRE DE SEJOUR en retard"), pts=4, pts_count=1), ch)

    asyncio.run(scenario())
    kinds = [(a["kind"], a.get("keywords"), a["external_id"]) for a in alerts]
    assert kinds == [("keyword", ["ANEF", "titre de séjour"], "rdv_express_test/1"),
                     ("offer", None, "rdv_express_test/3"), ("keyword", ["titre de séjour"], "rdv_express_test/3")]
    stored = workspace.db.execute("select kind, count(*) from alerts group by kind order by kind").fetchall()
    assert stored == [("keyword", 2), ("offer", 1)] and state.alerts == 3


def test_cli_prints_keyword_alerts(capsys):
    from cli import _print_tg_alerts

    _print_tg_alerts([{"kind": "keyword", "keywords": ["ANEF"], "post_id": 4, "url": "https://t.me/x_test/1"}])
    assert capsys.readouterr().out.strip() == "ALERT keyword ANEF post 4 https://t.me/x_test/1"


def test_session_and_api_hash_never_in_bundle_or_logs(workspace, tgf, tmp_path, monkeypatch, caplog):
    import logging
    import zipfile

    from storage.bundle import build_bundle

    secret_hash = "f00dfeedf00dfeedf00dfeedf00dfeed"
    monkeypatch.setenv("VEILLE_TG_API_ID", "12345")
    monkeypatch.setenv("VEILLE_TG_API_HASH", secret_hash)
    client = make_client(workspace)  # the real session file of the workspace, 0600
    client.session.close()
    path = session_path(workspace)
    with open(path, "ab") as fh:
        fh.write(b"SESSION-SECRET-MARKER")
    caplog.set_level(logging.DEBUG)
    seam = seam_for(tgf, n=60)
    monkeypatch.setattr(commands, "open_seam", lambda ws: (None, seam))
    commands.backfill(workspace, ["rdv_express_test"])
    ids = [r[0] for r in workspace.db.execute("select id from posts where category != 'none'")]
    res = build_bundle(workspace, post_ids=ids, output=tmp_path / "b.zip", sign=False, timestamp=False)
    with zipfile.ZipFile(res.path) as zf:
        assert not any("session" in n.lower() for n in zf.namelist())
        for n in zf.namelist():
            data = zf.read(n)
            assert b"SESSION-SECRET-MARKER" not in data and secret_hash.encode() not in data, n
    logged = caplog.text
    assert secret_hash not in logged and str(path) not in logged and "SESSION-SECRET" not in logged


def test_backfill_media_sha_phash_and_floodwait_during_download(workspace, tgf):
    import hashlib
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, "JPEG")
    jpg = buf.getvalue()

    def photo_msg(mid):
        ph = types.Photo(id=900 + mid, access_hash=1, file_reference=b"", date=tgf.T0, sizes=[], dc_id=2)
        return tgf.tl_message(mid, f"{tgf.OFFER} photo {mid}", media=types.MessageMediaPhoto(photo=ph))

    class MediaSeam(tgf.RecordedSeam):
        def __init__(self, *a, script=None, **kw):
            super().__init__(*a, **kw)
            self.script = script or {}

        async def download_media(self, message, max_bytes):
            step = self.script.get(message.id, [jpg]).pop(0) if self.script.get(message.id) else jpg
            if isinstance(step, Exception):
                raise step
            return step if len(step) <= max_bytes else None

    seam = MediaSeam(tgf.tl_channel(), [photo_msg(1), photo_msg(2), photo_msg(3)], script={
        2: [errors.FloodWaitError(request=None, capture=12), jpg],
        3: [errors.FloodWaitError(request=None, capture=5000)]})
    rep = asyncio.run(backfill(workspace, seam, "rdv_express_test", limit=10))
    assert rep.fetched == 3 and seam.slept == [12] and rep.media_stored == 2
    media = {r[0]: json.loads(r[1])[0] for r in workspace.db.execute("select external_id, media from posts")}
    for key in ("rdv_express_test/1", "rdv_express_test/2"):
        m = media[key]
        assert m["kind"] == "photo" and m["sha256"] == hashlib.sha256(jpg).hexdigest() and len(m["phash"]) == 16
    assert workspace.store.read(media["rdv_express_test/1"]["sha256"]) == jpg
    # a FloodWait longer than telegram.max_flood_wait: the message is kept, its media recorded as not downloaded
    assert media["rdv_express_test/3"]["note"] == "not downloaded (FloodWait 5000 s)"
    assert "sha256" not in media["rdv_express_test/3"] or media["rdv_express_test/3"]["sha256"] is None


def test_seller_added_later_gets_the_seller_role_on_stored_messages(workspace, tgf, monkeypatch):
    group = types.Channel(id=1_500_000_078, title="Groupe (fiction)", photo=types.ChatPhotoEmpty(), date=tgf.T0,
                          username="groupe_rdv_test", access_hash=7, megagroup=True)
    users = [types.User(id=6001, first_name="V", username="v_fiction_test", access_hash=1),
             types.User(id=6002, first_name="Q", username="q_fiction_test", access_hash=2)]
    client = offline_client(workspace)
    register_handlers(client, workspace, seam=None, chats=[group])

    async def scenario():
        for mid, u in ((1, users[0]), (2, users[1])):
            m = types.Message(id=mid, peer_id=types.PeerChannel(group.id), date=tgf.T0, message=tgf.OFFER,
                              from_id=types.PeerUser(u.id))
            upd = types.UpdateNewChannelMessage(m, pts=mid, pts_count=1)
            upd._entities = {utils.get_peer_id(types.PeerChannel(group.id)): group,
                             **{utils.get_peer_id(x): x for x in users}}
            await client._dispatch_update(upd)

    asyncio.run(scenario())
    roles = lambda: dict(workspace.db.execute("select external_id, author_role from posts"))  # noqa: E731
    assert roles() == {"groupe_rdv_test/1": "third_party", "groupe_rdv_test/2": "third_party"}
    workspace.config.data["telegram"]["sellers"] = ["user6001"]
    monkeypatch.setattr(commands, "open_seam", lambda ws: (None, seam_for(tgf, n=0)))
    commands.backfill(workspace, ["rdv_express_test"])  # any Telethon run applies the list first
    assert roles() == {"groupe_rdv_test/1": "seller", "groupe_rdv_test/2": "third_party"}
    extra = json.loads(workspace.db.execute("select extra from posts where external_id='groupe_rdv_test/1'"
                                            ).fetchone()[0])
    assert extra["role"] == "seller"
    entry = workspace.db.execute("select action, subject_id, details from custody_log where details like "
                                 "'%author role set to seller%'").fetchall()
    assert len(entry) == 1 and entry[0][0] == "decision"
