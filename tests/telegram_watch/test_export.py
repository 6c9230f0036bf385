"""Telegram Desktop exports and Telethon JSON lists: formats, media safety, roles, streaming, resume."""

from __future__ import annotations

import io
import json
import os

import pytest

from storage.errors import InputError
from telegram_watch import export as export_mod
from telegram_watch.export import import_export
from telegram_watch.jsonstream import JsonStream

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def chat_export(messages, ctype="personal_chat", cid=4242, name="Vendeur RDV"):
    return {"name": name, "type": ctype, "id": cid, "messages": messages}


def base_messages():
    return [
        {"id": 1, "type": "service", "date": "2026-10-01T10:00:00", "date_unixtime": "1790848800",
         "actor": "Camille Témoin", "actor_id": "user111", "action": "invite_members", "members": ["Camille"],
         "text": "", "text_entities": []},
        {"id": 2, "type": "message", "date": "2026-10-01T10:01:00", "date_unixtime": "1790848860",
         "from": "Vendeur RDV", "from_id": "user4242",
         "text": ["Vends ", {"type": "bold", "text": "RDV préfecture"},
                  " titre de séjour 80€, voir ", {"type": "text_link", "text": "ici", "href": "https://rdv.example/x"}],
         "text_entities": [{"type": "plain", "text": "Vends "}, {"type": "bold", "text": "RDV préfecture"},
                           {"type": "plain", "text": " titre de séjour 80€, voir "},
                           {"type": "text_link", "text": "ici", "href": "https://rdv.example/x"}],
         "edited": "2026-10-01T10:05:00", "edited_unixtime": "1790849100",
         "photo": "photos/photo_1.jpg", "width": 1, "height": 1},
        {"id": 3, "type": "message", "date": "2026-10-01T10:02:00", "from": "Camille Témoin", "from_id": "user111",
         "text": "C'est combien pour Bobigny ?", "reply_to_message_id": 2},
        {"id": 4, "type": "message", "date": "2026-10-01T10:03:00", "from": "Vendeur RDV", "from_id": "user4242",
         "forwarded_from": "Canal RDV (fiction)", "text": "Dispo aussi 06 39 98 12 34",
         "file": "../../etc/passwd"},
        {"id": 5, "type": "message", "date": "2026-10-01T10:04:00", "from": "Vendeur RDV", "from_id": "user4242",
         "text": "", "file": "/etc/hostname", "thumbnail": "files/link_out", "media_type": "video_file"},
        {"id": 6, "type": "message", "date": "2026-10-01T10:05:00", "from": "Vendeur RDV", "from_id": "user4242",
         "text": "", "photo": "(File not included. Change data exporting settings to download.)"},
    ]


@pytest.fixture
def export_dir(tmp_path):
    d = tmp_path / "ChatExport_2026-10-02"
    (d / "photos").mkdir(parents=True)
    (d / "files").mkdir()
    (d / "photos" / "photo_1.jpg").write_bytes(PNG)
    secret = tmp_path / "outside_secret.txt"
    secret.write_text("not yours")
    os.symlink(secret, d / "files" / "link_out")
    (d / "result.json").write_text(json.dumps(chat_export(base_messages()), ensure_ascii=False, indent=1),
                                   encoding="utf-8")
    return d


def test_single_chat_export(workspace, export_dir):
    rep = import_export(workspace, export_dir, sellers=["peer"])
    assert rep.format == "desktop" and rep.messages == 6 and rep.imported == 6 and not rep.rejected
    assert rep.service == 1 and rep.media_stored == 1 and rep.media_not_included == 1
    refused = {(r[1], r[2].split(" ")[0]) for r in rep.refused}
    assert ("../../etc/passwd", "path") in refused
    assert ("/etc/hostname", "absolute") in refused
    assert ("files/link_out", "symlink") in refused
    assert all("message" in r[0] and "byte" in r[0] for r in rep.refused)  # the place is named
    rows = {r[0]: r for r in workspace.db.execute(
        "select external_id, text, author_role, reply_to, forwarded_from, media, extra, posted_at, version "
        "from posts order by id")}
    p2 = rows["chat/4242/2"]
    assert p2[1] == "Vends RDV préfecture titre de séjour 80€, voir ici"
    assert p2[2] == "seller"  # the peer of a one-to-one chat, with --seller peer
    assert p2[7] == "2026-10-01T10:01:00Z"
    extra = json.loads(p2[6])
    assert extra["edited_at"] == "2026-10-01T10:05:00Z"
    assert {"type": "bold", "offset": 6, "length": 14, "text": "RDV préfecture"} in extra["entities"]
    media = json.loads(p2[5])[0]
    assert media["kind"] == "photo" and workspace.store.read(media["sha256"]) == PNG
    assert rows["chat/4242/3"][2] == "third_party" and rows["chat/4242/3"][3] == "chat/4242/2"
    assert rows["chat/4242/1"][2] == "third_party"
    assert json.loads(rows["chat/4242/1"][6])["service"]["action"] == "invite_members"
    assert rows["chat/4242/4"][4] == "Canal RDV (fiction)"
    # nothing from outside the folder reached the evidence store
    for _, p in workspace.store.iter_blobs():
        assert p.read_bytes() not in (b"not yours",)
    # the raw export file is evidence; each capture names its message and offset
    cap = workspace.db.execute("select extra from captures order by id limit 1").fetchone()[0]
    assert "message 0" in json.loads(cap)["place"]


def test_reimport_adds_nothing(workspace, export_dir):
    import_export(workspace, export_dir)
    n_caps = workspace.db.execute("select count(*) from captures").fetchone()[0]
    rep = import_export(workspace, export_dir / "result.json")
    assert rep.imported == 0 and rep.skipped_already_imported == 6
    assert workspace.db.execute("select count(*) from captures").fetchone()[0] == n_caps
    assert workspace.db.execute("select count(*) from posts").fetchone()[0] == 6


def test_roles_without_sellers_everyone_is_third_party(workspace, export_dir):
    rep = import_export(workspace, export_dir)
    assert rep.roles == {"third_party": 6}
    rep = import_export(workspace, export_dir, sellers=["user4242"])  # same content: nothing changes
    assert rep.imported == 0


def test_whole_account_export_and_channel(workspace, tmp_path):
    data = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 111, "first_name": "Camille"},
        "contacts": {"about": "x", "list": [{"first_name": "A", "phone_number": "+33 6 39 98 00 01"}]},
        "chats": {"about": "y", "list": [
            chat_export(base_messages()[:3], cid=4242),
            {"name": "Canal RDV (fiction)", "type": "public_channel", "id": 777,
             "messages": [{"id": 10, "type": "message", "date": "2026-10-02T08:00:00", "from": "Canal RDV (fiction)",
                           "from_id": "channel777", "text": "RDV préfecture dispo 60€"}]},
        ]},
        "left_chats": {"about": "z", "list": [chat_export([{"id": 1, "type": "message", "date": "2026-01-01T00:00:00",
                                                             "text": "old"}], ctype="private_group", cid=9)]},
    }
    f = tmp_path / "result.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    rep = import_export(workspace, f, sellers=["Vendeur RDV"])
    assert rep.chats == 3 and rep.messages == 5 and rep.imported == 5
    rows = dict(workspace.db.execute("select external_id, author_role from posts"))
    assert rows["c/777/10"] == "channel" and rows["chat/4242/2"] == "seller" and rows["chat/4242/3"] == "third_party"
    url = workspace.db.execute("select url from posts where external_id='c/777/10'").fetchone()[0]
    assert url == "https://t.me/c/777/10"
    assert rows["chat/9/1"] == "third_party"


def test_telethon_list(workspace, tmp_path, tgf):
    msgs = [tgf.tl_message(5, "RDV préfecture dispo 60€ @rdv_rapide_vendeur"), tgf.tl_message(6, "bonjour")]
    from telegram_watch.convert import tl_json

    f = tmp_path / "msgs.json"
    f.write_bytes(b"[" + b",\n".join(tl_json(m.to_dict()) for m in msgs) + b"]")
    rep = import_export(workspace, f, channel="rdv_express_test")
    assert rep.format == "telethon" and rep.imported == 2
    row = workspace.db.execute("select url, text, extra from posts where external_id='rdv_express_test/5'").fetchone()
    assert row[0] == "https://t.me/rdv_express_test/5"
    assert json.loads(row[2])["views"] == 50
    arts = workspace.db.execute("select count(*) from artifacts where role='json'").fetchone()[0]
    assert arts == 2  # the raw to_dict() of each message
    bad = tmp_path / "bad.json"
    bad.write_text('[{"_": "Message", "id": "x", "peer_id": {"_": "PeerChannel", "channel_id": 1}}, 3]')
    rep = import_export(workspace, bad)
    assert [r[0].split(" (")[0] for r in rep.rejected] == ["element 0", "element 1"]


@pytest.mark.parametrize("content, expect", [
    ('{"name": "x", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "type": "message", "text": "a"}, '
     '{"id": 2, "type": "mess', "message 1 of chat 'x'"),
    ('{"name": "x", "messages": {"id": 1}}', "must be an array"),
    ('{"name": "x", "messages": [1, 2', "expected ',' or ']'"),
    ('"hello"', "not a Telegram export"),
    ('{"name": "x"}', "no 'messages' array"),
    ('', "not a Telegram export"),
])
def test_bad_files_named_place(workspace, tmp_path, content, expect):
    f = tmp_path / "result.json"
    f.write_text(content)
    with pytest.raises(InputError) as ei:
        import_export(workspace, f)
    assert expect in str(ei.value)
    assert "result.json" in str(ei.value)


def test_truncated_names_byte_offset_and_keeps_committed(workspace, tmp_path):
    msgs = [{"id": i, "type": "message", "date": "2026-10-01T10:00:00", "text": f"message {i}"} for i in range(1, 40)]
    text = json.dumps(chat_export(msgs))
    cut = text.index('"message 30"')
    f = tmp_path / "result.json"
    f.write_text(text[:cut])
    with pytest.raises(InputError) as ei:
        import_export(workspace, f, batch_size=10)
    msg = str(ei.value)
    assert "message 29" in msg and "byte" in msg and "truncated" in msg
    assert workspace.db.execute("select count(*) from posts").fetchone()[0] == 20  # two committed batches


def test_wrongly_typed_messages_rejected_with_place(workspace, tmp_path):
    msgs = [{"id": 1, "type": "message", "text": 5}, {"id": "2", "type": "message", "text": "x"},
            "not an object", {"id": 4, "type": "message", "text": "ok", "date": "2026-10-01T10:00:00"}]
    f = tmp_path / "result.json"
    f.write_text(json.dumps(chat_export(msgs)))
    rep = import_export(workspace, f)
    assert rep.imported == 1 and len(rep.rejected) == 3
    assert "message 0" in rep.rejected[0][0] and "'text' must be a string or an array" in rep.rejected[0][1]
    assert "'id' must be an integer" in rep.rejected[1][1]


def test_kill_mid_import_resumes_without_duplicates(workspace, tmp_path, monkeypatch):
    msgs = [{"id": i, "type": "message", "date": "2026-10-01T10:00:00", "from": "A", "from_id": "user1",
             "text": f"RDV préfecture numéro {i}"} for i in range(1, 1201)]
    f = tmp_path / "result.json"
    f.write_text(json.dumps(chat_export(msgs)))
    real = export_mod.ingest_many

    def killed(ws, items, batch_size=500):
        for n, res in enumerate(real(ws, items, batch_size=batch_size)):
            if n == 700:
                raise KeyboardInterrupt  # a kill between two batches' commits
            yield res

    monkeypatch.setattr(export_mod, "ingest_many", killed)
    with pytest.raises(KeyboardInterrupt):
        import_export(workspace, f)
    assert workspace.db.execute("select count(*) from posts").fetchone()[0] == 1000
    monkeypatch.setattr(export_mod, "ingest_many", real)
    rep = import_export(workspace, f)
    assert rep.skipped_already_imported == 1000 and rep.imported == 200
    assert workspace.db.execute("select count(*) from posts").fetchone()[0] == 1200
    assert workspace.db.execute("select count(*) from captures").fetchone()[0] == 1200


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_stream_parser_small_chunks(chunk):
    doc = {"name": "é😀\"x", "id": 12345678901234, "messages": [
        {"id": i, "text": ["a", {"type": "bold", "text": "é" * i}], "n": 1.5e3, "z": None, "t": True}
        for i in range(30)]}
    raw = ("\ufeff" + json.dumps(doc, ensure_ascii=False, indent=2)).encode("utf-8")
    js = JsonStream(io.BytesIO(raw), chunk_size=chunk)
    got = {}
    for key in js.iter_object():
        if key == "messages":
            got["messages"] = []
            for _ in js.iter_array():
                off = js.byte_offset() if js.peek() else None
                m, text = js.value(raw=True)
                assert raw[off:off + len(text.encode())].decode() == text
                got["messages"].append(m)
        else:
            got[key] = js.value()
    assert got == doc and js.at_end()


def test_cli_import_export(runner, cli_app, workspace, export_dir):
    res = runner.invoke(cli_app, ["import", "telegram-export", str(export_dir), "--seller", "peer",
                                  "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "refused media" in res.output and "../../etc/passwd" in res.output
    assert "6 new" in res.output and "seller 4" in res.output
    res = runner.invoke(cli_app, ["import", "telegram-export", str(export_dir / "nope.json"), "-w",
                                  str(workspace.root)])
    assert res.exit_code == 1 and "no such file" in res.output and "Traceback" not in res.output


def test_repeated_ids_kept_apart(workspace, tmp_path):
    msgs = [{"id": 7, "type": "message", "date": "2026-10-01T10:00:00", "text": t} for t in ("a", "b", "a")]
    msgs.append({"id": 2**40, "type": "message", "date": "2026-10-01T10:00:00", "text": "big id"})
    f = tmp_path / "result.json"
    f.write_text(json.dumps(chat_export(msgs, ctype="public_supergroup", cid=55)))
    rep = import_export(workspace, f)
    assert rep.duplicate_ids == 2 and rep.imported == 4
    rows = dict(workspace.db.execute("select external_id, url from posts"))
    assert rows == {"c/55/7": "https://t.me/c/55/7", "c/55/7~2": "", "c/55/7~3": "",
                    f"c/55/{2**40}": f"https://t.me/c/55/{2**40}"}


def test_entity_names_match_the_other_routes():
    msg = {"text": ["Lire ", {"type": "link", "text": "https://rdv.example/a"}, " ",
                    {"type": "strikethrough", "text": "80€"}]}
    text, ents = export_mod._text_and_entities(msg, "here")
    assert text == "Lire https://rdv.example/a 80€"
    assert [(e["type"], e["text"]) for e in ents] == [("url", "https://rdv.example/a"), ("strike", "80€")]
    for e in ents:
        assert text[e["offset"]:e["offset"] + e["length"]] == e["text"]


def test_stream_buffer_stays_bounded(tmp_path):
    """Memory does not grow with the file: the parser's buffer stays near one chunk + one message."""
    f = tmp_path / "result.json"
    msg = {"id": 0, "type": "message", "date": "2026-10-01T10:00:00", "from": "X", "from_id": "user1",
           "text": "RDV préfecture " * 20}
    with open(f, "w", encoding="utf-8") as fh:
        fh.write('{"name": "big", "type": "private_group", "id": 1, "messages": [')
        for i in range(40_000):
            fh.write(("," if i else "") + json.dumps(dict(msg, id=i), ensure_ascii=False))
        fh.write("]}")
    size = f.stat().st_size
    assert size > 15_000_000
    with open(f, "rb") as fh:
        js = JsonStream(fh, chunk_size=256 * 1024)
        biggest = n = 0
        for key in js.iter_object():
            if key != "messages":
                js.value()
                continue
            for _ in js.iter_array():
                js.value()
                n += 1
                biggest = max(biggest, len(js.buf))
    assert n == 40_000 and biggest < 3 * 1024 * 1024, biggest  # < 3 MB of buffer for a 15+ MB file
