"""Pseudonymised mode: third parties' identifiers never reach the posts/entities tables; sellers untouched."""

from __future__ import annotations

import os
import stat

from matchers.types import Entities, Entity
from storage.db import rows
from storage.post import Post
from storage.posts import save_post

from .daily_seed import configure

TEXT = "Bonjour, c'est Lina, mon numéro 06 39 98 00 11, écrivez à lina.m@mail.example, j'ai payé 20 €"


def _ents(text):
    out = Entities()
    for kind, raw, value in (("phone", "06 39 98 00 11", "+33639980011"),
                             ("email", "lina.m@mail.example", "lina.m@mail.example"),
                             ("price", "20 €", "20 EUR")):
        i = text.find(raw)
        out.append(Entity(kind, value, raw, i, i + len(raw)))
    return out


def _post(ext, role):
    return Post(platform="telegram", source="chat/1", external_id=f"chat/1/{ext}", author="Lina M.",
                author_handle="user7000000003", text=TEXT, extra={"role": role, "from_id": "user7000000003"})


def test_third_parties_pseudonymised_sellers_untouched(workspace):
    ws = configure(workspace, {"workspace.pseudonymise_third_parties": True})
    a = save_post(ws, _post(1, "third_party"), entities=_ents(TEXT))
    b = save_post(ws, _post(2, "third_party"), entities=_ents(TEXT))
    c = save_post(ws, _post(3, "seller"), entities=_ents(TEXT))
    dump = " ".join(str(v) for r in rows(ws.db, "select * from posts where id in (?, ?)", [a.post_id, b.post_id])
                    for v in r.values())
    dump += " ".join(str(v) for r in rows(ws.db, "select * from entities where post_id in (?, ?)",
                                          [a.post_id, b.post_id]) for v in r.values())
    dump += " ".join(str(v) for r in rows(ws.db, "select * from post_versions where post_id in (?, ?)",
                                          [a.post_id, b.post_id]) for v in r.values())
    for secret in ("06 39 98 00 11", "+33639980011", "lina.m@mail.example", "Lina M.", "user7000000003"):
        assert secret not in dump, secret
    pa = rows(ws.db, "select author, text from posts where id = ?", [a.post_id])[0]
    pb = rows(ws.db, "select author, text from posts where id = ?", [b.post_id])[0]
    assert pa == pb and pa["author"].startswith("[person-")  # consistent pseudonyms
    # entity spans point at the pseudonyms in the stored text
    for e in rows(ws.db, 'select kind, raw, start, "end" from entities where post_id = ?', [a.post_id]):
        assert pa["text"][e["start"]:e["end"]] == e["raw"]
    seller = rows(ws.db, "select author, text from posts where id = ?", [c.post_id])[0]
    assert seller["author"] == "Lina M." and seller["text"] == TEXT
    key = ws.path("keys/pseudonym.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    ws.close()


def test_off_by_default(workspace):
    r = save_post(workspace, _post(1, "third_party"), entities=_ents(TEXT))
    assert rows(workspace.db, "select author from posts where id = ?", [r.post_id])[0]["author"] == "Lina M."
