"""Helpers for the daily/digest/purge tests (issue 9): fictional posts saved without the matchers."""

from __future__ import annotations

from datetime import timedelta

from matchers.types import Entity, Verdict
from storage.config import CONFIG_NAME
from storage.demo import set_config_values
from storage.post import Post, utcnow
from storage.posts import Artifact, Capture, save_post
from storage.workspace import Workspace


def configure(ws: Workspace, values: dict) -> Workspace:
    """Set veille.toml values and return the re-opened workspace (the old handle is closed)."""
    cfg = ws.path(CONFIG_NAME)
    cfg.write_text(set_config_values(cfg.read_text("utf-8"), values), encoding="utf-8")
    root = ws.root
    ws.close()
    return Workspace.open(root)


def add_post(ws, ext_id: str, *, platform: str = "leboncoin", category: str = "appointment_resale",
             subtype: str | None = "prefecture", text: str = "RDV préfecture 90€", price: float | None = 90,
             currency: str | None = "EUR", phone: str | None = None, html: bytes | None = None,
             days_ago: int = 0, author: str = "vendeur", role: str | None = None):
    post = Post(platform=platform, source="test", url=f"https://{platform}.test/ad/{ext_id}", external_id=ext_id,
                author=author, author_handle=author, title=f"annonce {ext_id}", text=text, price=price,
                currency=currency, posted_at=utcnow() - timedelta(days=days_ago),
                extra={"role": role} if role else {})
    verdict = Verdict(category=category, subtype=subtype, score=0.9 if category != "none" else 0.0,
                      lexicon_version="test")
    ents = []
    if phone:
        i = text.find(phone)
        ents.append(Entity("phone", phone, phone, max(i, 0), max(i, 0) + len(phone)))
    cap = Capture(url=post.url, http_status=200, artifacts=[Artifact(role="raw_html", data=html or
                                                                     f"<html>{ext_id}</html>".encode())])
    return save_post(ws, post, cap, verdict=verdict, entities=ents)
