"""Fictional seed data for the evidence-bundle tests (issue 7).

Built only with ``storage.save_post`` + ``Capture``/``Artifact`` (and direct
inserts into ``sellers``/``seller_links``, which clustering fills in real use).
Phones are ARCEP fiction numbers, domains ``.example``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage import Artifact, Capture, Post, save_post

AT = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


@dataclass
class Verdict:
    category: str
    subtype: str | None
    score: float = 0.91
    reasons: list = field(default_factory=list)
    lexicon_version: str = "test-1"


@dataclass
class Reason:
    rule: str
    term: str
    start: int
    end: int
    kind: str = "topic"
    weight: float = 0.5

    def to_dict(self):
        return dict(self.__dict__)


@dataclass
class Entity:
    kind: str
    value: str
    raw: str
    start: int
    end: int
    extra: dict = field(default_factory=dict)


def png_bytes(seed: int = 0, size=(64, 48)) -> bytes:
    from PIL import Image

    img = Image.new("RGB", size, (seed * 37 % 255, 120, 200))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# Third parties' identifiers, in every written form the seed uses.
THIRD_PARTY_STRINGS = [
    "Jeanne Acheteuse", "jeanne_b_77", "06 39 98 12 34", "+33639981234", "0639981234", "06.39.98.12.34",
    "Karim Victime", "karim_v_test", "karim.victime@mail.example",
    "Lucie Membre", "lucie_m_test", "01.99.00.45.67", "+33199004567", "+33 1 99 00 45 67",
    "Zoé Témoin", "zoe_temoin", "Zo\\u00e9 T\\u00e9moin",
    "Paul Tiers", "5550001234", "user5550001234", "Autre Personne",
]
SELLER_STRINGS = ["rdv_express_75", "+33639980101", "06 39 98 01 01"]


def _verdict(text: str, term: str) -> Verdict:
    i = text.lower().find(term.lower())
    return Verdict("appointment_resale", "prefecture",
                   reasons=[Reason("rdv_prefecture", term, max(i, 0), max(i, 0) + len(term))])


def seed(ws) -> dict:
    """A seller with 3 posts (one in a private chat), a buyer, a victim, a replier; returns ids."""
    ids: dict = {"seller_posts": [], "third_party_posts": []}
    seller_texts = [
        ("leboncoin", "lbc-1001", "https://www.leboncoin.example/ad/1001",
         "RDV préfecture Bobigny titre de séjour dispo 80€, contact 06 39 98 01 01 ou @rdv_express_75", None),
        ("telegram", "rdvexpress/55", "https://t.me/rdvexpress/55",
         "Créneaux VFS dispo. Merci @jeanne_b_77 pour ta confiance ! Appelez 06 39 98 01 01", None),
        ("telegram", "chat-vente/12", "",
         "Je vends le RDV préfecture 60€, écris-moi (RDV Express)", "personal_chat"),
    ]
    for n, (platform, ext, url, text, chat_type) in enumerate(seller_texts):
        when = AT + timedelta(days=n)
        extra = {"chat_type": chat_type, "role": "seller"} if chat_type else {}
        if chat_type:
            extra["chat_members"] = [{"name": "Lucie Membre", "handle": "lucie_m_test", "phone": "+33 1 99 00 45 67"},
                                     {"name": "RDV Express", "handle": "rdv_express_75", "role": "seller"}]
        p = Post(platform=platform, external_id=ext, url=url, text=text, title=f"Annonce {n}", price=80.0,
                 currency="EUR", posted_at=when, fetched_at=when, author="RDV Express",
                 author_handle="rdv_express_75", source="chat:vente-rdv" if chat_type else platform, extra=extra)
        html = (f"<html><head><title>Annonce {n}</title></head><body><p>{text}</p>"
                "<div class='members'>Membres : Lucie Membre (01.99.00.45.67), Jeanne Acheteuse</div>"
                "</body></html>")
        arts = [Artifact(role="raw_html", data=html.encode("utf-8"), mime="text/html", name="page.html"),
                Artifact(role="screenshot", data=png_bytes(n), mime="image/png", name="shot.png")]
        cap = Capture(kind="fetch" if url else "import", url=url or None, http_status=200 if url else None,
                      headers={"Content-Type": "text/html; charset=utf-8", "Server": "demo"},
                      fetched_at=when + timedelta(hours=1), user_agent="veille-test/1", artifacts=arts)
        ents = [Entity("phone", "+33639980101", "06 39 98 01 01", 0, 14)]
        # matchers give spans in Post.full_text (title + "\n" + text)
        r = save_post(ws, p, cap, verdict=_verdict(p.full_text, "RDV" if "RDV" in text else "VFS"), entities=ents)
        ids["seller_posts"].append(r.post_id)
    # third parties
    tps = [
        ("buyer", "Jeanne Acheteuse", "jeanne_b_77", "chat-vente/13",
         "Bonjour, mon numéro 06 39 98 12 34, je veux le RDV. Jeanne", [("phone", "+33639981234", "06 39 98 12 34")]),
        ("victim", "Karim Victime", "karim_v_test", "chat-vente/14",
         "J'ai payé et rien reçu, écrivez-moi karim.victime@mail.example",
         [("email", "karim.victime@mail.example", "karim.victime@mail.example")]),
        ("replier", "Zoé Témoin", "zoe_temoin", "chat-vente/15", "Attention arnaque, le vendeur est 06 39 98 01 01",
         [("phone", "+33639980101", "06 39 98 01 01")]),
    ]
    for n, (role, author, handle, ext, text, ents) in enumerate(tps):
        when = AT + timedelta(days=5, hours=n)
        p = Post(platform="telegram", external_id=ext, text=text, posted_at=when, fetched_at=when, author=author,
                 author_handle=handle, source="chat:vente-rdv", extra={"role": role, "chat_type": "personal_chat"})
        raw = {"id": n + 13, "from": author, "from_id": f"user{handle}", "text": text, "type": "message",
               "phone": "06.39.98.12.34" if role == "buyer" else None}
        arts = [Artifact(role="import_record", data=json.dumps(raw, ensure_ascii=True).encode(), mime="application/json",
                         name=f"../../{handle}.json")]
        if role == "victim":
            arts.append(Artifact(role="media", data=png_bytes(99), mime="image/png", name="../../../etc/id_card.png"))
        cap = Capture(kind="import", fetched_at=when + timedelta(hours=1), artifacts=arts)
        r = save_post(ws, p, cap, entities=[Entity(k, v, raw_, 0, len(raw_)) for k, v, raw_ in ents])
        ids["third_party_posts"].append(r.post_id)
    # a message from a Telegram Desktop export (issue 5 marks non-sellers "third_party"); the capture
    # carries the whole export file, which also holds an unrelated conversation
    whole = {"chats": {"list": [
        {"name": "RDV Express", "type": "personal_chat", "id": 777, "messages": [
            {"id": 1, "from": "Paul Tiers", "from_id": "user5550001234", "text": "combien le RDV ?"}]},
        {"name": "Famille", "type": "personal_chat", "id": 888, "messages": [
            {"id": 1, "from": "Autre Personne", "from_id": "user5550009999", "text": "rien à voir"}]}]}}
    p = Post(platform="telegram", external_id="chat/777/1", text="combien le RDV ? Paul", posted_at=AT,
             fetched_at=AT, author="Paul Tiers", author_handle="5550001234", source="chat/777",
             extra={"role": "third_party", "chat": "chat/777", "chat_type": "personal_chat",
                    "sender_id": 5550001234, "sender_name": "Paul Tiers", "from_id": "user5550001234"})
    cap = Capture(kind="import", fetched_at=AT, capture_key="tgexport:test:1", artifacts=[
        Artifact(role="import_file", data=json.dumps(whole).encode(), mime="application/json", name="result.json")])
    r = save_post(ws, p, cap)
    ids["third_party_posts"].append(r.post_id)
    # seller and links (clustering fills these in real use)
    now = "2026-11-10T00:00:00Z"
    ws.db.execute("insert into sellers(id, label, created_at, updated_at, platforms, accounts, identifiers, "
                  "first_seen, last_seen, post_count) values (1, 'RDV Express', ?, ?, ?, ?, ?, ?, ?, 3)",
                  [now, now, json.dumps(["leboncoin", "telegram"]), json.dumps(["@rdv_express_75"]),
                   json.dumps([{"kind": "phone", "value": "+33639980101"}]), AT.isoformat(), now])
    for pid in ids["seller_posts"]:
        ws.db.execute("update posts set seller_id = 1 where id = ?", [pid])
    a, b, c = ids["seller_posts"]
    for x, y, typ, ev in ((a, b, "identifier", {"kind": "phone", "value": "+33639980101", "authors": 1}),
                          (b, c, "same_account", {"account": "rdv_express_75"})):
        ws.db.execute("insert into seller_links(post_a, post_b, type, weight, evidence, created_at) "
                      "values (?,?,?,?,?,?)", [x, y, typ, 1.0, json.dumps(ev), now])
    ids["seller_id"] = 1
    return ids
