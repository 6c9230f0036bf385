"""Loading the demo records and turning them into Posts (the JSONL version)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from ..post import iso, utcnow

SITES = ("leboncoin", "vivastreet", "jemepropose", "avito_ma", "ouedkniss", "tayara")
TELEGRAM = "telegram"


def slugify(text: str, sep: str = "-") -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", sep, t).strip(sep)[:60] or "annonce"


@dataclass
class DemoAd:
    site: str
    id: str
    title: str
    text: str
    seller: str = ""
    expect: str = "none"
    category_slug: str = "services"
    price: float | None = None
    currency: str | None = None
    author: str = ""
    author_id: str = ""
    city: str = ""
    zipcode: str = ""
    city_slug: str = ""
    governorate: str = ""
    delegation: str = ""
    phone: str = ""
    days_ago: int = 0
    day: int = 1
    removed_on: int | None = None
    images: list[str] = field(default_factory=list)
    posted_at: datetime = field(default_factory=utcnow)

    def online(self, day: int) -> bool:
        return self.day <= day and not (self.removed_on is not None and self.removed_on <= day)

    def published(self, day: int) -> bool:
        """Was ever put online by ``day`` (removed ads included)."""
        return self.day <= day

    @property
    def slug(self) -> str:
        return slugify(self.title)


@dataclass
class DemoMessage:
    channel: str
    msg_id: int
    text: str
    seller: str = ""
    expect: str = "none"
    views: str = ""
    days_ago: int = 0
    day: int = 1
    posted_at: datetime = field(default_factory=utcnow)


@dataclass
class DemoData:
    sellers: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    ads: list[DemoAd]
    messages: list[DemoMessage]
    now: datetime

    def ads_for(self, site: str, day: int, online_only: bool = True) -> list[DemoAd]:
        return [a for a in self.ads if a.site == site and (a.online(day) if online_only else a.published(day))]

    def ad(self, site: str, ad_id: str) -> DemoAd | None:
        for a in self.ads:
            if a.site == site and a.id == ad_id:
                return a
        return None

    def messages_for(self, channel: str, day: int) -> list[DemoMessage]:
        return sorted((m for m in self.messages if m.channel == channel and m.day <= day), key=lambda m: m.msg_id)

    def removed_ads(self, day: int) -> list[DemoAd]:
        return [a for a in self.ads if a.removed_on is not None and a.removed_on <= day]


def _when(now: datetime, days_ago: int, salt: int) -> datetime:
    # Spread the times of day so posts of one day do not share a timestamp.
    return (now - timedelta(days=days_ago, hours=(salt * 7) % 11, minutes=(salt * 13) % 60)).replace(second=0)


def load_demo(now: datetime | None = None) -> DemoData:
    """Load ``demo.toml``; dates are made relative to ``now`` (default: this minute)."""
    now = (now or utcnow()).astimezone(UTC)
    raw = tomllib.loads(resources.files(__package__).joinpath("demo.toml").read_text("utf-8"))
    ads = []
    for i, a in enumerate(raw.get("ad", [])):
        ad = DemoAd(**{k: v for k, v in a.items()})
        ad.posted_at = _when(now, ad.days_ago, i + 1)
        if ad.seller == "docs_pro":
            ad.images = ["specimen_1.jpg"]
        ads.append(ad)
    msgs = []
    for i, m in enumerate(raw.get("tg", [])):
        msg = DemoMessage(**m)
        msg.posted_at = _when(now, msg.days_ago, i + 3)
        msgs.append(msg)
    return DemoData(raw.get("sellers", {}), raw.get("telegram_channels", {}), ads, msgs, now)


def telegram_export_dir() -> Path:
    """Folder of the bundled demo Telegram Desktop export (``result.json`` + photos)."""
    return Path(str(resources.files(__package__).joinpath("telegram_export")))


def ad_url(base: str, ad: DemoAd) -> str:
    """The canonical URL of a demo ad on its (local) site, in the site's own URL shape."""
    base = base.rstrip("/")
    if ad.site == "leboncoin":
        return f"{base}/ad/{ad.category_slug}/{ad.id}"
    if ad.site == "vivastreet":
        return f"{base}/{ad.category_slug}/{ad.city_slug}/{ad.slug}/{ad.id}"
    if ad.site == "jemepropose":
        return f"{base}/annonces/{ad.category_slug}/{ad.slug}+{ad.id}/"
    if ad.site == "avito_ma":
        title = slugify(ad.title, "_") if ad.title.isascii() else "annonce"
        return f"{base}/fr/{ad.city_slug}/{ad.category_slug}/{title.title()}_{ad.id}.htm"
    if ad.site == "ouedkniss":
        return f"{base}/{ad.slug}-d{ad.id}"
    if ad.site == "tayara":
        return (f"{base}/item/{ad.category_slug}/{slugify(ad.governorate)}/{slugify(ad.delegation)}/"
                f"{ad.slug}/{ad.id}/")
    raise ValueError(f"unknown demo site {ad.site!r}")


def demo_posts(data: DemoData, base_urls: dict[str, str], day: int = 3) -> list[dict[str, Any]]:
    """Every record published by ``day`` as a JSONL Post dict (the demo without spiders).

    The URLs point at the local demo site described by ``base_urls``.
    """
    out: list[dict[str, Any]] = []
    for ad in data.ads:
        if not ad.published(day) or ad.site not in base_urls:
            continue
        out.append({
            "platform": ad.site, "source": base_urls[ad.site].split("//", 1)[-1], "url": ad_url(base_urls[ad.site], ad),
            "external_id": ad.id, "author": ad.author or None, "author_handle": ad.author_id or ad.author or None,
            "title": ad.title, "text": ad.text, "price": ad.price, "currency": ad.currency,
            "posted_at": iso(ad.posted_at), "lang": "ar" if not ad.title.isascii() and ad.site == "avito_ma" else None,
            "extra": {"demo": True, "city": ad.city},
        })
    tg = base_urls.get(TELEGRAM)
    for m in data.messages:
        if m.day > day or not tg:
            continue
        ch = data.channels.get(m.channel, {})
        out.append({
            "platform": "telegram", "source": m.channel, "url": f"https://t.me/{m.channel}/{m.msg_id}",
            "external_id": f"{m.channel}/{m.msg_id}", "author": ch.get("title", m.channel),
            "author_handle": m.channel, "title": "", "text": m.text, "posted_at": iso(m.posted_at),
            "extra": {"demo": True, "views": m.views},
        })
    return out
