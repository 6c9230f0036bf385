"""Pages of the demo site, in the markup style of each profiled site.

Every string from ``demo.toml`` is escaped (``html.escape``) or embedded as JSON
with ``</`` neutralised, as a real page would. These pages only imitate the
*structure* that site profiles read (see ``/work/shared/sites/NOTES.md`` for the
facts they rely on); all content is fictional.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..post import iso
from .data import DemoAd, DemoData, DemoMessage, ad_url

PAGE_SIZE = 4


def _json_script(obj: Any, **attrs: str) -> str:
    body = json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")
    attr = " ".join(f'{k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f"<script {attr}>{body}</script>"


def _page(title: str, body: str, head: str = "", lang: str = "fr") -> str:
    return (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta property="og:title" content="{escape(title)}">{head}</head>\n<body>\n'
            '<p class="demo-banner">Site de démonstration veille : annonces fictives.</p>\n'
            f"{body}\n</body></html>\n")


def _paras(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())


def _price(ad: DemoAd) -> str:
    if ad.price is None:
        return ""
    cur = {"EUR": "€", "MAD": "DH", "DZD": "DA", "TND": "DT"}.get(ad.currency or "", ad.currency or "")
    return f"{ad.price:,.0f}".replace(",", " ") + f" {cur}"


def paginate(items: list, page: int) -> tuple[list, bool]:
    page = max(page, 1)
    chunk = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return chunk, len(items) > page * PAGE_SIZE


# ---------------------------------------------------------------- leboncoin
def _lbc_ad_obj(base: str, ad: DemoAd) -> dict:
    return {
        "list_id": int(ad.id), "subject": ad.title, "body": ad.text, "url": ad_url(base, ad),
        "price": [int(ad.price)] if ad.price is not None else [], "price_cents": int((ad.price or 0) * 100),
        "first_publication_date": ad.posted_at.strftime("%Y-%m-%d %H:%M:%S"),
        "index_date": ad.posted_at.strftime("%Y-%m-%d %H:%M:%S"), "status": "active",
        "category_name": ad.category_slug, "ad_type": "offer", "has_phone": False,
        "images": {"nb_images": len(ad.images), "urls": [f"{base}/img/{i}" for i in ad.images]},
        "location": {"city_label": f"{ad.city} {ad.zipcode}", "city": ad.city, "zipcode": ad.zipcode},
        "owner": {"user_id": ad.author_id, "type": "private", "name": ad.author},
    }


def leboncoin_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    cards = "".join(
        f'<article data-test-id="ad"><a data-qa-id="aditem_container" href="/ad/{a.category_slug}/{a.id}">'
        f'<p data-qa-id="aditem_title">{escape(a.title)}</p><span data-qa-id="aditem_price">{escape(_price(a))}</span>'
        f'<p data-qa-id="aditem_location">{escape(a.city)} {escape(a.zipcode)}</p></a></article>' for a in chunk)
    nxt = (f'<a data-qa-id="pagination_next" rel="next" href="/recherche?text={escape(keyword)}&amp;page={page + 1}">'
           "Page suivante</a>") if more else ""
    data = {"props": {"pageProps": {"searchData": {"ads": [_lbc_ad_obj(base, a) for a in chunk], "total": len(ads),
                                                   "max_pages": (len(ads) + PAGE_SIZE - 1) // PAGE_SIZE}}},
            "page": "/recherche"}
    return _page(f"Annonces {keyword} - leboncoin (démo)", f"<main>{cards}</main><nav>{nxt}</nav>"
                 + _json_script(data, id="__NEXT_DATA__", type="application/json"))


def leboncoin_ad(base: str, ad: DemoAd) -> str:
    data = {"props": {"pageProps": {"ad": _lbc_ad_obj(base, ad)}}, "page": "/ad/[category]/[id]"}
    imgs = "".join(f'<img data-qa-id="slideshow_image" src="/img/{escape(i)}">' for i in ad.images)
    body = (f'<h1 data-qa-id="adview_title">{escape(ad.title)}</h1>'
            f'<div data-qa-id="adview_price">{escape(_price(ad))}</div>'
            f'<p data-qa-id="adview_date">{ad.posted_at.strftime("%d/%m/%Y à %Hh%M")}</p>{imgs}'
            f'<div data-qa-id="adview_description_container">{_paras(ad.text)}</div>'
            f'<div data-qa-id="adview_location_informations">{escape(ad.city)} {escape(ad.zipcode)}</div>'
            f'<a data-qa-id="adview_contact_name" href="/profile/{escape(ad.author_id)}">{escape(ad.author)}</a>')
    return _page(f"{ad.title} - leboncoin (démo)", body + _json_script(data, id="__NEXT_DATA__", type="application/json"))


def leboncoin_removed() -> str:
    return _page("Annonce introuvable - leboncoin (démo)",
                 "<h1>Cette annonce n'est plus en ligne</h1><p>Cette annonce a été désactivée.</p>")


# ---------------------------------------------------------------- vivastreet
def vivastreet_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    rows = "".join(
        f'<li class="kiwii-clad-row"><div class="clad"><a class="clad__wrapper" '
        f'href="/{a.category_slug}/{a.city_slug}/{a.slug}/{a.id}"><h2>{escape(a.title)}</h2>'
        f'<div class="clad__price">{escape(_price(a))}</div><div class="clad__shortdesc">{escape(a.text[:120])}</div>'
        f'<div class="clad__first_geo">{escape(a.city)}</div></a></div></li>' for a in chunk)
    nxt = (f'<a class="kiwii-pagination-next" href="/annonces/fr/t+{page + 1}?keywords={escape(keyword)}">Suivante</a>'
           if more else "")
    return _page(f"Annonces {keyword} - Vivastreet (démo)",
                 f'<div id="toolbar"><span class="toolbar_tab_selected">{len(ads)} annonces</span></div>'
                 f'<ul id="classified_table">{rows}</ul><div class="kiwii-pagination">{nxt}</div>')


def vivastreet_ad(base: str, ad: DemoAd) -> str:
    phone = (f'<div class="vs-phone-button"><span class="phone_link" data-phone-number="{escape(ad.phone)}">'
             f"{escape(ad.phone)}</span></div>") if ad.phone else ""
    imgs = "".join(f'<img src="/img/{escape(i)}">' for i in ad.images)
    body = (f'<div id="classified-detail-block"><h1 class="kiwii-font-xlarge kiwii-font-weight-semibold">'
            f"{escape(ad.title)}</h1><div class=\"vs-price\">{escape(_price(ad))}</div>"
            f'<div id="kiwii-details-carousel-block">{imgs}</div>'
            f'<div class="vs-description-wrapper">{_paras(ad.text)}</div>'
            '<table id="details-tbl-specs"><tr><td class="kiwii-font-dark">Ville/Code postal</td>'
            f"<td>{escape(ad.city)} {escape(ad.zipcode)}</td></tr>"
            f'<tr><td class="kiwii-font-dark">Date de publication</td><td>{iso(ad.posted_at)}</td></tr></table>'
            f'<div class="kiwii-poster-details"><span class="kiwii-poster-name">{escape(ad.author)}</span>{phone}</div>'
            f'<ul class="kiwii-description-footer"><li>Annonce n° {ad.id}</li></ul></div>')
    return _page(f"{ad.title} - Vivastreet (démo)", body)


# ---------------------------------------------------------------- jemepropose
def jemepropose_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    cards = "".join(
        f'<div class="col s12 popout-card p-unset" data-url="/annonces/{a.category_slug}/{a.slug}+{a.id}/">'
        f'<span class="card-title">{escape(a.title)}</span><a class="grey_jmp_text">{escape(a.city)}</a>'
        f'<div><b class="orange_jmp_text">{escape(_price(a))}</b><small></small></div>'
        f'<p class="card-text">{escape(a.text[:140])}</p></div>' for a in chunk)
    nxt = f'<a class="next" href="/annonces/?keywords={escape(keyword)}&amp;page={page + 1}">Suivant</a>' if more else ""
    return _page(f"Annonces {keyword} - Jemepropose (démo)", f'<div class="row">{cards}</div>{nxt}')


def jemepropose_ad(base: str, ad: DemoAd) -> str:
    body = (f'<div class="card"><div class="card-body"><h1 class="card-title">{escape(ad.title)}</h1>'
            f'<b class="orange_jmp_text">{escape(_price(ad))}</b>{_paras(ad.text)}'
            f'<a class="grey_jmp_text">{escape(ad.city)}</a>'
            f'<div class="member-name">{escape(ad.author)}</div>'
            f'<time datetime="{iso(ad.posted_at)}">{ad.posted_at.strftime("%d/%m/%Y")}</time></div></div>')
    return _page(f"{ad.title} - Jemepropose (démo)", body)


# ---------------------------------------------------------------- avito.ma
def avito_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    cards, scripts = [], []
    for n, a in enumerate(chunk):
        url = ad_url(base, a)
        path = url[len(base.rstrip("/")):]
        cards.append(f'<a class="sc-1jge648-0" href="{escape(path)}"><h3>{escape(a.title)}</h3>'
                     f"<p>{escape(a.category_slug)} dans {escape(a.city)}</p><span>{escape(_price(a))}</span></a>")
        scripts.append(_json_script({"@context": "https://schema.org", "@type": "Product", "name": a.title, "url": url,
                                     "offers": {"@type": "Offer", "price": a.price, "priceCurrency": "DH", "url": url,
                                                "seller": {"@type": "Person", "name": a.author}}},
                                    id=f"search-ad-schema-{n}", type="application/ld+json"))
    nxt = f'<a rel="next" href="/fr/maroc/services?q={escape(keyword)}&amp;o={page + 1}">Suivant</a>' if more else ""
    return _page(f"Annonces {keyword} - Avito (démo)", "".join(cards) + nxt + "".join(scripts))


def avito_ad(base: str, ad: DemoAd) -> str:
    ld = _json_script({"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": []},
                      type="application/ld+json") + _json_script(
        {"@context": "https://schema.org", "@type": "Product", "name": ad.title, "description": ad.text,
         "datePublished": iso(ad.posted_at), "image": [f"{base}/img/{i}" for i in ad.images],
         "offers": {"@type": "Offer", "price": ad.price, "priceCurrency": "DH"}}, type="application/ld+json")
    seller = json.dumps({"seller_name": ad.author, "seller_type": "private"}, ensure_ascii=False).replace("</", "<\\/")
    body = (f'<div id="__next"><h1>{escape(ad.title)}</h1><div class="header"><span>{escape(ad.city)}</span>'
            f'<span><time datetime="{iso(ad.posted_at)}">{ad.posted_at.strftime("%d/%m/%Y")}</time></span></div>'
            f'<p class="price">{escape(_price(ad))}</p><div class="description">{_paras(ad.text)}</div>'
            f'<p class="seller">{escape(ad.author)}</p></div><script>window.__AD__ = {seller};</script>')
    return _page(f"{ad.title} | Avito (démo)", body, head=ld,
                 lang="ar" if not ad.title.isascii() else "fr")


# ---------------------------------------------------------------- ouedkniss
def ouedkniss_item(base: str, ad: DemoAd) -> dict:
    return {
        "id": ad.id, "title": ad.title, "slug": ad.slug, "description": ad.text, "refreshedAt": iso(ad.posted_at),
        "createdAt": iso(ad.posted_at), "price": ad.price, "pricePreview": ad.price, "priceUnit": "UNIT",
        "currency": ad.currency, "url": ad_url(base, ad), "status": "PUBLISHED",
        "category": {"slug": ad.category_slug, "name": ad.category_slug},
        "cities": [{"name": ad.city, "slug": ad.city_slug, "region": {"name": ad.city}}],
        "user": {"id": ad.author, "username": ad.author, "displayName": ad.author}, "store": None,
        "medias": [{"mediaUrl": f"{base}/img/{i}"} for i in ad.images],
    }


def ouedkniss_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    cards = "".join(f'<a class="o-announ-card" href="/{a.slug}-d{a.id}"><h3 class="o-announ-card-title">'
                    f"{escape(a.title)}</h3><span class=\"price\">{escape(_price(a))}</span></a>" for a in chunk)
    nxt = f'<a rel="next" href="/annonces/index.php?keywords={escape(keyword)}&amp;page={page + 1}">Suivant</a>' \
        if more else ""
    data = {"announcements": {"data": [ouedkniss_item(base, a) for a in chunk],
                              "paginatorInfo": {"hasMorePages": more, "total": len(ads)}}}
    return _page(f"Annonces {keyword} - Ouedkniss (démo)", f'<div id="app">{cards}{nxt}</div>'
                 + _json_script(data, id="__OUEDKNISS_DATA__", type="application/json"))


def ouedkniss_ad(base: str, ad: DemoAd) -> str:
    item = ouedkniss_item(base, ad)
    ld = _json_script({"@context": "https://schema.org", "@type": "Product", "name": ad.title,
                       "description": ad.text, "datePublished": iso(ad.posted_at),
                       "offers": {"@type": "Offer", "price": ad.price, "priceCurrency": ad.currency}},
                      type="application/ld+json")
    body = (f'<div id="app"><h1>{escape(ad.title)}</h1><div class="price">{escape(_price(ad))}</div>'
            f'<div class="description">{_paras(ad.text)}</div><span class="username">{escape(ad.author)}</span></div>'
            + _json_script({"announcement": item}, id="__OUEDKNISS_DATA__", type="application/json"))
    return _page(f"{ad.title} - Ouedkniss (démo)", body, head=ld)


def ouedkniss_graphql(base: str, data: DemoData, day: int, payload: dict) -> dict:
    op = payload.get("operationName") or ""
    variables = payload.get("variables") or {}
    if op == "AnnouncementGet" or "id" in variables and "q" not in variables:
        ad = data.ad("ouedkniss", str(variables.get("id", "")))
        ok = ad is not None and ad.online(day)
        return {"data": {"announcement": ouedkniss_item(base, ad) if ok else None}}
    q = variables.get("q") or ""
    flt = variables.get("filter") or {}
    page = int(flt.get("page") or 1)
    ads = search(data.ads_for("ouedkniss", day), q)
    chunk, more = paginate(ads, page)
    return {"data": {"search": {"announcements": {
        "data": [ouedkniss_item(base, a) for a in chunk],
        "paginatorInfo": {"lastPage": (len(ads) + PAGE_SIZE - 1) // PAGE_SIZE, "hasMorePages": more,
                          "total": len(ads), "count": len(chunk)}}}}}


# ---------------------------------------------------------------- tayara.tn
def _tayara_hit(base: str, ad: DemoAd) -> dict:
    return {"id": ad.id, "title": ad.title, "description": ad.text, "price": ad.price,
            "images": [f"{base}/img/{i}" for i in ad.images], "link": ad_url(base, ad)[len(base.rstrip("/")):],
            "location": {"governorate": ad.governorate, "delegation": ad.delegation},
            "metadata": {"publisher": {"id": ad.author, "name": ad.author, "isShop": False},
                         "subCategory": ad.category_slug, "publishedOn": iso(ad.posted_at), "state": 2}}


def tayara_search(base: str, ads: list[DemoAd], page: int, keyword: str) -> str:
    chunk, more = paginate(ads, page)
    links = "".join(f'<article><a href="{escape(ad_url(base, a)[len(base.rstrip("/")):])}"><h2>{escape(a.title)}</h2>'
                    f"<data value=\"{a.price or ''}\">{escape(_price(a))}</data></a></article>" for a in chunk)
    nxt = f'<a rel="next" href="/search/?q={escape(keyword)}&amp;page={page + 1}">Suivant</a>' if more else ""
    data = {"props": {"pageProps": {"searchedListingsAction": {
        "newHits": [_tayara_hit(base, a) for a in chunk], "totalHitsCount": len(ads), "pageNum": page,
        "query": keyword}}}, "page": "/listing/c/[category]"}
    return _page(f"{keyword} | Tayara (démo)", links + nxt + _json_script(data, id="__NEXT_DATA__",
                                                                          type="application/json"))


def tayara_ad(base: str, ad: DemoAd) -> str:
    details = {"id": ad.id, "title": ad.title, "description": ad.text, "phone": ad.phone, "price": ad.price,
               "images": [f"{base}/img/{i}" for i in ad.images],
               "location": {"governorate": ad.governorate, "delegation": ad.delegation},
               "category": ad.category_slug, "publishedOn": iso(ad.posted_at), "sold": False, "deleted": False,
               "state": 2, "publisher": {"id": ad.author}}
    data = {"props": {"pageProps": {"adDetails": details,
                                    "adUserData": {"fullname": ad.author, "phonenumber": ad.phone, "isShop": False}}},
            "page": "/item/[[...slug]]"}
    ld = _json_script({"@context": "https://schema.org", "@type": "Product", "name": ad.title,
                       "description": ad.text, "datePublished": iso(ad.posted_at),
                       "offers": {"@type": "Offer", "priceCurrency": "TND", "price": ad.price},
                       "address": {"addressLocality": ad.delegation, "addressRegion": ad.governorate}},
                      type="application/ld+json")
    tel = f'<a href="tel:{escape(ad.phone)}">{escape(ad.phone)}</a>' if ad.phone else ""
    body = (f'<h1 class="text-gray-700">{escape(ad.title)}</h1><data value="{ad.price or ""}">{escape(_price(ad))}</data>'
            f'<p class="text-sm"><span>{escape(ad.text)}</span></p>{tel}'
            + _json_script(data, id="__NEXT_DATA__", type="application/json"))
    return _page(f"{ad.title} | Tayara", body, head=ld)


# ---------------------------------------------------------------- t.me/s
def _tg_text(text: str) -> str:
    return "<br/>".join(escape(line) for line in text.splitlines())


def tg_message(data: DemoData, m: DemoMessage) -> str:
    ch = data.channels.get(m.channel, {})
    title = escape(ch.get("title", m.channel))
    return (
        f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
        f'text_not_supported_wrap js-widget_message" data-post="{escape(m.channel)}/{m.msg_id}" '
        f'data-view="demo"><div class="tgme_widget_message_user"><a href="https://t.me/{escape(m.channel)}">'
        f'<i class="tgme_widget_message_user_photo bgcolor1" data-content="D"></i></a></div>'
        f'<div class="tgme_widget_message_bubble"><div class="tgme_widget_message_author accent_color">'
        f'<a class="tgme_widget_message_owner_name" href="https://t.me/{escape(m.channel)}"><span dir="auto">'
        f"{title}</span></a></div>"
        f'<div class="tgme_widget_message_text js-message_text" dir="auto">{_tg_text(m.text)}</div>'
        f'<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info '
        f'short js-message_info"><span class="tgme_widget_message_views">{escape(m.views)}</span>'
        f'<span class="copyonly"> views</span><span class="tgme_widget_message_meta">'
        f'<a class="tgme_widget_message_date" href="https://t.me/{escape(m.channel)}/{m.msg_id}">'
        f'<time datetime="{m.posted_at.isoformat()}" class="time">{m.posted_at.strftime("%H:%M")}</time></a>'
        "</span></div></div></div></div></div>\n")


def tg_channel(data: DemoData, channel: str, messages: list[DemoMessage], before: int | None,
               page_size: int = 3) -> str:
    ch = data.channels.get(channel, {})
    if before is not None:
        messages = [m for m in messages if m.msg_id < before]
    shown = messages[-page_size:]
    more = ""
    if len(messages) > len(shown) and shown:
        first = shown[0].msg_id
        more = (f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{escape(channel)}'
                f'?before={first}" class="tme_messages_more js-messages_more" data-before="{first}"></a></div>')
    info = (f'<div class="tgme_channel_info"><div class="tgme_channel_info_header"><div '
            f'class="tgme_channel_info_header_title"><span dir="auto">{escape(ch.get("title", channel))}</span></div>'
            f'<div class="tgme_channel_info_header_username"><a href="https://t.me/{escape(channel)}">@'
            f'{escape(channel)}</a></div></div><div class="tgme_channel_info_counters"><div '
            f'class="tgme_channel_info_counter"><span class="counter_value">{escape(ch.get("subscribers", "0"))}'
            '</span> <span class="counter_type">subscribers</span></div></div>'
            f'<div class="tgme_channel_info_description">{escape(ch.get("description", ""))}</div></div>')
    body = (f'<header class="tgme_header"><section class="tgme_right_column">{info}</section></header>'
            f'<main class="tgme_main"><section class="tgme_channel_history js-message_history">{more}'
            + "".join(tg_message(data, m) for m in shown) + "</section></main>")
    head = f'<link rel="canonical" href="/s/{escape(channel)}">'
    return _page(f"{ch.get('title', channel)} – Telegram", body, head=head)


def tg_embed(data: DemoData, m: DemoMessage | None) -> str:
    if m is None:
        return _page("Telegram", '<div class="tgme_widget_message_error">Post not found</div>')
    return _page("Telegram", f'<div class="tgme_widget_message_embed">{tg_message(data, m)}</div>')


def search(ads: list[DemoAd], keyword: str) -> list[DemoAd]:
    """The demo's search engine: an ad matches when any keyword word occurs in it."""
    words = [w for w in _fold(keyword or "").split() if len(w) >= 3]
    if not words:
        return list(ads)
    out = []
    for a in ads:
        hay = " " + _fold(f"{a.title} {a.text}") + " "
        if any(f" {w}" in hay for w in words):
            out.append(a)
    return out


def _fold(text: str) -> str:
    """Lower case, accents removed, any script kept (Arabic keywords find Arabic ads)."""
    import re
    import unicodedata

    t = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", t))
