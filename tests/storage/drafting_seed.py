"""Fictional seed data for the drafting, cases and recheck tests (issue 8).

Posts are saved with ``storage.save_post``; the seller row and fixed
first/last-seen dates are written directly so drafts are deterministic.
Phone numbers are ARCEP fiction numbers; domains are .example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage import Artifact, Capture, Post, save_post


# Duck-typed stand-ins for matchers.types (kept local so these tests never depend
# on the matchers package, which is written in parallel).
@dataclass
class Verdict:
    category: str
    subtype: str | None
    score: float = 0.9
    reasons: list = field(default_factory=list)
    lexicon_version: str = "test"


@dataclass
class Entity:
    kind: str
    value: str
    raw: str
    start: int
    end: int
    extra: dict = field(default_factory=dict)

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REF = "VEILLE-20261120-0001"
HOSTILE = "{{ 7*7 }} {% for x in y %}boucle{% endfor %} <script>alert(1)</script> | # titre [lien](javascript:x)"


def _cap(url: str, html: str, when: datetime, kind: str = "fetch") -> Capture:
    return Capture(kind=kind, url=url, http_status=200, fetched_at=when,
                   headers={"content-type": "text/html; charset=utf-8"},
                   artifacts=[Artifact(role="raw_html", data=html.encode("utf-8"), mime="text/html")])


def _verdict(cat: str, sub: str | None) -> Verdict:
    return Verdict(category=cat, subtype=sub)


def _post(ws, *, platform, ext, url, text, cat, sub, posted, source, handle, author=None, price=None,
          currency=None, title="", phones=(), role=None, base_url=None):
    extra = {"role": role} if role else {}
    p = Post(platform=platform, external_id=ext, url=url, text=text, title=title, price=price, currency=currency,
             posted_at=posted, fetched_at=posted, source=source, author_handle=handle, author=author or handle,
             extra=extra)
    ents = [Entity("phone", ph, ph, 0, len(ph)) for ph in phones]
    html = f"<html><body><div class='msg'>{text}</div></body></html>"
    r = save_post(ws, p, _cap(url, html, posted + timedelta(hours=2)), verdict=_verdict(cat, sub) if cat else None,
                  entities=ents)
    ws.db.execute("update posts set first_seen_at = ?, last_seen_at = ? where id = ?",
                  [posted.strftime("%Y-%m-%dT12:00:00Z"), posted.replace(day=min(posted.day + 3, 28))
                   .strftime("%Y-%m-%dT12:00:00Z"), r.post_id])
    return r.post_id


def configure(ws, notifier=True, complaint=True):
    cfg = ws.config.data
    if notifier:
        cfg["notifier"].update(organisation="Association Droits Fictifs", email="signalements@asso.example",
                               address="1 rue de l'Exemple, 75000 Paris")
    if complaint:
        cfg["complaint"].update(reporter_name="Association Droits Fictifs", reporter_capacity="association",
                                tribunal="Tribunal judiciaire de Paris")
    cfg["drafting"]["recheck_delay"] = 0


def seed(ws, hostile: bool = False, base_url: str = "https://t.me") -> dict:
    """Seller 1 with three offers (2 Telegram, 1 leboncoin) and one buyer message; seller 2 elsewhere."""
    configure(ws)
    extra_text = f"\n{HOSTILE}" if hostile else ""
    t1 = _post(ws, platform="telegram", ext="rdv_prefecture_75/101", url=f"{base_url}/rdv_prefecture_75/101",
               text="RDV préfecture Bobigny titre de séjour dispo cette semaine 150€, contact WhatsApp "
                    "+33 6 39 98 12 34" + extra_text,
               cat="appointment_resale", sub="prefecture", posted=datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
               source="rdv_prefecture_75", handle="rdv_prefecture_75", price=150, currency="EUR",
               phones=["+33639981234"])
    t2 = _post(ws, platform="telegram", ext="rdv_prefecture_75/140", url=f"{base_url}/rdv_prefecture_75/140",
               text="Titre de séjour 10 ans, vrai faux garanti, livraison 72h, 900€. +33 6 39 98 12 34",
               cat="forged_documents", sub="residence_permit", posted=datetime(2026, 10, 9, 19, 5, tzinfo=UTC),
               source="rdv_prefecture_75", handle="rdv_prefecture_75", price=900, currency="EUR",
               phones=["+33639981234"])
    lbc = _post(ws, platform="leboncoin", ext="2400000001", url="https://www.leboncoin.example/ad/2400000001",
                title="Rendez-vous préfecture garanti",
                text="Je vous trouve un rendez-vous en préfecture sous 48h, 120 euros. Tel 06 39 98 12 34. "
                     "Déjà servi : Karim Benali, très satisfait.",
                cat="appointment_resale", sub="prefecture", posted=datetime(2026, 10, 15, 10, 0, tzinfo=UTC),
                source="www.leboncoin.example", handle="RDV Express", price=120, currency="EUR",
                phones=["+33639981234"])
    buyer = _post(ws, platform="telegram", ext="rdv_prefecture_75/141", url="",
                  text="Bonjour, je cherche un rdv, Karim Benali, mon numéro +33 1 99 00 55 66",
                  cat=None, sub=None, posted=datetime(2026, 10, 10, 7, 0, tzinfo=UTC),
                  source="rdv_prefecture_75", handle="karim_b", author="Karim Benali", role="buyer",
                  phones=["+33199005566"])
    other = _post(ws, platform="leboncoin", ext="2400000999", url="https://www.leboncoin.example/ad/2400000999",
                  text="Faux permis de conduire, 300€", cat="forged_documents", sub="driving_licence",
                  posted=datetime(2026, 10, 20, 10, 0, tzinfo=UTC), source="www.leboncoin.example",
                  handle="permis_rapide", price=300, currency="EUR", phones=["+33199001122"])
    now = "2026-11-01T00:00:00Z"
    for sid, label, posts in ((1, "rdv_prefecture_75", [t1, t2, lbc, buyer]), (2, "permis_rapide", [other])):
        ws.db.execute("insert into sellers(id, label, created_at, updated_at, platforms, accounts, identifiers, "
                      "post_count, status) values (?,?,?,?,?,?,?,?, 'active')",
                      [sid, label, now, now, json.dumps(["telegram", "leboncoin"]), json.dumps([label]),
                       json.dumps([{"kind": "phone", "value": "+33639981234"}] if sid == 1 else []), len(posts)])
        for pid in posts:
            ws.db.execute("update posts set seller_id = ? where id = ?", [sid, pid])
    return {"t1": t1, "t2": t2, "lbc": lbc, "buyer": buyer, "other": other}
