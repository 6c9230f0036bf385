"""A local fixture site on 127.0.0.1 for the crawler tests (all content fictional).

Sections, each served under its own path prefix so one server plays several
sites (the profiles' base URL is overridden to ``http://127.0.0.1:PORT/<prefix>``):

- ``/lbc``: leboncoin-style pages (``__NEXT_DATA__`` + ``data-qa-id``): 3 result
  pages of 4 ads, one listed ad that answers 410 "Cette annonce n'est plus en
  ligne", PNG images;
- ``/viva``: vivastreet-style pages, one ad in windows-1252, one with malformed HTML;
- ``/avito``: avito.ma-style JSON-LD, one ad in Arabic;
- ``/tayara``: tayara-style ``__NEXT_DATA__``; a removed ad answers 302 to ``/ads/c/...``;
- ``/ouedkniss``: a GraphQL endpoint (``/ouedkniss/graphql``); one ad is ``null``;
- ``/blocked``: every page is a DataDome-style 403 captcha page;
- ``/storm``: ads answer 429 (``Retry-After: 0``) a few times before 200; one always 429;
- ``/big``: a listing whose one ad page weighs 20 MB;
- ``/js``: pages whose ad is rendered by JavaScript (only a browser can read them).

Phone numbers are ARCEP fiction numbers; domains are ``.example``/``.test``.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

POSITIVE = [
    ("Vends rendez-vous préfecture Bobigny", "Je vends un rendez-vous à la préfecture de Bobigny pour titre de "
     "séjour, créneau garanti cette semaine. 150 euros, contact WhatsApp +33 6 39 98 12 34."),
    ("RDV préfecture Nanterre dispo", "Rendez-vous préfecture Nanterre disponible pour renouvellement de titre de "
     "séjour. Prix 120 €. Appelez le 06 39 98 45 67."),
    ("Créneau naturalisation à vendre", "Créneau de dépôt naturalisation préfecture de Créteil à vendre, "
     "200 euros, paiement à la remise. Tel +33 6 39 98 77 01."),
]
NEGATIVE = [
    ("Vélo de course Décathlon", "Vélo de course très bon état, taille M, révisé. 180 euros."),
    ("Cours de guitare à domicile", "Professeur diplômé donne cours de guitare tous niveaux, 25 euros l'heure."),
    ("Canapé trois places", "Canapé gris trois places, à venir chercher sur place."),
]


def _png(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (64, 64), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    d = ImageDraw.Draw(im)
    for i in range(0, 64, 8 + seed % 5):
        d.line([(i, 0), (63 - i, 63)], fill=(255 - seed * 17 % 256, 20, 200), width=3)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _ad(i: int) -> dict:
    title, text = (POSITIVE + NEGATIVE)[i % 6]
    return {"id": 1000 + i, "title": f"{title} n°{i}", "text": text, "price": 100 + i * 10,
            "author": f"Vendeur Fictif {i}", "user_id": f"u-{i:04d}", "city": "Bobigny 93000",
            "date": f"2026-11-{10 + i % 9:02d} 14:30:00"}


LBC_ADS = [_ad(i) for i in range(12)]
LBC_REMOVED = 1099


@dataclass
class State:
    removed: set[int] = field(default_factory=set)
    hits: dict[str, int] = field(default_factory=dict)
    storm: dict[str, int] = field(default_factory=dict)
    storm_failures: int = 3


def _page(title: str, body: str, head: str = "", charset: str = "utf-8", lang: str = "fr") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="{charset}"><title>{escape(title)}</title>'
            f"{head}</head><body>{body}</body></html>")


def _json_script(obj, **attrs) -> str:
    a = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f"<script {a}>" + json.dumps(obj, ensure_ascii=False).replace("</", "<\\/") + "</script>"


# ------------------------------------------------------------------ leboncoin-style
def lbc_obj(prefix_url: str, ad: dict) -> dict:
    return {"list_id": ad["id"], "subject": ad["title"], "body": ad["text"], "price": [ad["price"]],
            "url": f"https://www.leboncoin.fr/ad/services/{ad['id']}",
            "first_publication_date": ad["date"], "status": "active",
            "images": {"urls_large": [f"https://img.leboncoin.fr/img/{ad['id']}.png"]},
            "location": {"city_label": ad["city"]},
            "owner": {"user_id": ad["user_id"], "name": ad["author"], "type": "private"}}


def lbc_search(base: str, page: int, ads: list[dict], extra_links: list[str] = (), per_page: int = 4) -> str:
    chunk = ads[(page - 1) * per_page: page * per_page]
    more = len(ads) > page * per_page
    cards = "".join(f'<article data-test-id="ad"><a data-qa-id="aditem_container" href="/ad/services/{a["id"]}">'
                    f'<p data-qa-id="aditem_title">{escape(a["title"])}</p></a></article>' for a in chunk)
    cards += "".join(f'<article data-test-id="ad"><a data-qa-id="aditem_container" href="{u}">x</a></article>'
                     for u in extra_links)
    nxt = f'<a data-qa-id="pagination_next" href="/recherche?text=rdv&amp;page={page + 1}">Suivante</a>' if more else ""
    data = {"props": {"pageProps": {"searchData": {"ads": [lbc_obj(base, a) for a in chunk], "total": len(ads)}}}}
    return _page("Résultats - leboncoin (fixture)", f"<main>{cards}</main>{nxt}"
                 + _json_script(data, id="__NEXT_DATA__", type="application/json"))


def lbc_ad(base: str, ad: dict, padding: int = 0) -> str:
    data = {"props": {"pageProps": {"ad": lbc_obj(base, ad)}}}
    body = (f'<h1 data-qa-id="adview_title">{escape(ad["title"])}</h1>'
            f'<div data-qa-id="adview_price">{ad["price"]} €</div>'
            f'<div data-qa-id="adview_description_container"><p>{escape(ad["text"])}</p></div>'
            f'<a data-qa-id="adview_contact_name" href="/profile/{ad["user_id"]}">{escape(ad["author"])}</a>'
            f'<img data-qa-id="slideshow_image" src="/img/{ad["id"]}.png">')
    if padding:
        body += "<div hidden>" + ("remplissage " * (padding // 12)) + "</div>"
    return _page(f"{ad['title']} - leboncoin (fixture)", body + _json_script(data, id="__NEXT_DATA__",
                                                                              type="application/json"))


REMOVED_PAGE = _page("Annonce introuvable", "<h1>Cette annonce n'est plus en ligne</h1>")
DATADOME = ('<html><head><title>leboncoin.fr</title></head><body><p>Please enable JS and disable any ad blocker</p>'
            '<script>var dd={"rt":"c","cid":"AHrlqAAAAAMA","hsh":"ABCDEF","t":"fe","host":"geo.captcha-delivery.com"}'
            '</script><script src="https://ct.captcha-delivery.com/c.js"></script></body></html>')


# ------------------------------------------------------------------ vivastreet-style
def viva_search() -> str:
    rows = "".join(f'<li class="kiwii-clad-row"><a class="clad__wrapper" href="{u}"><h2>{t}</h2></a></li>'
                   for u, t in [("/annonces-services/paris-75001/rdv-prefecture/123456781", "RDV"),
                                ("/annonces-services/lyon-69001/cours/123456782", "Cours"),
                                ("/annonces-services/lille-59000/malforme/123456783", "Malformé")])
    return _page("Vivastreet (fixture)", f'<ul id="classified_table">{rows}</ul>')


def viva_ad(ad_id: str) -> bytes:
    if ad_id == "123456781":  # windows-1252
        html = _page("Rendez-vous préfecture", '<div id="classified-detail-block"><h1 class="kiwii-font-xlarge">'
                     "Vends rendez-vous préfecture Évry – titre de séjour</h1><div class=\"vs-price\">130 €</div>"
                     '<div class="vs-description-wrapper"><p>Créneau garanti à la préfecture d\'Évry pour '
                     "titre de séjour, 130 euros, paiement à la remise.</p></div>"
                     '<div class="kiwii-poster-details"><span class="kiwii-poster-name">Agence Rapide Fictive</span>'
                     '<div class="vs-phone-button"><span class="phone_link" data-phone-number="06 39 98 12 35">'
                     "06 39 98 12 35</span></div></div></div>", charset="windows-1252")
        return html.encode("cp1252")
    if ad_id == "123456783":  # malformed: unclosed tags, stray </div>, bad nesting
        return ("<html><head><meta charset=utf-8><title>Malformé</title></head><body></div><div id=classified-detail-block>"
                "<h1>RDV préfecture Cergy <b>urgent</h1><div class=vs-price>90 €<div class=vs-description-wrapper>"
                "<p>Rendez-vous préfecture de Cergy à vendre pour titre de séjour <p>90 euros <table><td>x"
                "</body>").encode()
    return _page("Cours", '<div id="classified-detail-block"><h1>Cours de piano</h1><div class="vs-price">20 €</div>'
                 '<div class="vs-description-wrapper"><p>Cours de piano pour enfants.</p></div></div>').encode()


# ------------------------------------------------------------------ avito-style
def avito_search() -> str:
    scripts = "".join(_json_script({"@type": "Product", "name": n, "url": f"https://www.avito.ma{u}",
                                    "offers": {"price": 1, "priceCurrency": "DH"}},
                                   id=f"search-ad-schema-{i}", type="application/ld+json")
                      for i, (u, n) in enumerate([("/ar/casablanca/services/موعد_فيزا_5551001.htm", "موعد"),
                                                  ("/fr/rabat/services/Cours_5551002.htm", "Cours")]))
    return _page("Avito (fixture)", "<div>résultats</div>" + scripts)


def avito_ad(ad_id: str) -> str:
    if ad_id == "5551001":
        ld = {"@context": "https://schema.org", "@type": "Product", "name": "موعد فيزا فرنسا متوفر",
              "description": "بيع موعد فيزا فرنسا في القنصلية بالدار البيضاء، الثمن 2000 درهم، واتساب",
              "datePublished": "2026-11-18T10:00:00+01:00",
              "offers": {"@type": "Offer", "price": "2000", "priceCurrency": "DH"}}
        return _page("موعد فيزا", '<div id="__next"><h1>موعد فيزا فرنسا متوفر</h1></div>'
                     '<script>window.__AD__={"seller_name":"محل الخدمات الوهمي","seller_type":"private"};</script>',
                     head=_json_script(ld, type="application/ld+json"), lang="ar")
    ld = {"@type": "Product", "name": "Cours de maths", "description": "Cours de maths niveau lycée à Rabat.",
          "offers": {"price": "150", "priceCurrency": "DH"}}
    return _page("Cours", "<h1>Cours de maths</h1>", head=_json_script(ld, type="application/ld+json"))


# ------------------------------------------------------------------ tayara-style
TAYARA_LIVE = "64b7f1a2c3d4e5f6a7b8c9d0"
TAYARA_GONE = "64b7f1a2c3d4e5f6a7b8c9d1"


def tayara_search() -> str:
    hits = [{"id": TAYARA_LIVE, "link": f"/item/services/tunis/ariana/rdv-visa/{TAYARA_LIVE}/"},
            {"id": TAYARA_GONE, "link": f"/item/services/tunis/ariana/vieux/{TAYARA_GONE}/"}]
    data = {"props": {"pageProps": {"searchedListingsAction": {"newHits": hits}}}}
    return _page("Tayara (fixture)", _json_script(data, id="__NEXT_DATA__", type="application/json"))


def tayara_ad() -> str:
    details = {"id": TAYARA_LIVE, "title": "Rendez-vous visa France disponible",
               "description": "Vends rendez-vous visa France au centre TLS de Tunis, 300 dinars, contact WhatsApp.",
               "phone": "+216 20 000 000", "price": 300, "images": [], "publishedOn": "2026-11-19T08:00:00.000Z",
               "deleted": False, "location": {"governorate": "Tunis"}, "publisher": {"id": "pub-1"}}
    data = {"props": {"pageProps": {"adDetails": details, "adUserData": {"fullname": "Services Fictifs Tunis"}}}}
    return _page("Tayara", "<h1>Rendez-vous visa</h1>" + _json_script(data, id="__NEXT_DATA__",
                                                                      type="application/json"))


# ------------------------------------------------------------------ ouedkniss-style GraphQL
def ouedkniss_graphql(payload: dict) -> dict:
    v = payload.get("variables") or {}
    if payload.get("operationName") == "AnnouncementGet":
        if str(v.get("id")) == "7770002":
            return {"data": {"announcement": None}}
        return {"data": {"announcement": {
            "id": "7770001", "slug": "rendez-vous-visa-france", "title": "Rendez-vous visa France VFS Alger",
            "description": "Je vends des rendez-vous visa France chez VFS Alger, prix 30000 DA, contact Viber.",
            "createdAt": "2026-11-20T09:15:00.000Z", "price": 30000, "priceUnit": "UNIT",
            "user": {"id": "9001", "username": "agence_fictive", "displayName": "Agence Fictive"},
            "cities": [{"name": "Alger", "region": {"name": "Alger"}}], "medias": []}}}
    page = int((v.get("filter") or {}).get("page") or 1)
    data = [{"id": "7770001", "slug": "rendez-vous-visa-france"}, {"id": "7770002", "slug": "ancienne-annonce"}]
    return {"data": {"search": {"announcements": {"data": data if page == 1 else [],
                                                  "paginatorInfo": {"hasMorePages": False}}}}}


# ------------------------------------------------------------------ JS-rendered
def js_search() -> str:
    return _page("Annonces JS (fixture)", '<div id="list"></div><script>document.getElementById("list").innerHTML='
                 '\'<a class="ad" href="/annonce/4242">Annonce</a>\';</script>')


def js_ad() -> str:
    script = ("document.addEventListener('DOMContentLoaded', function () {"
              "var d = document.getElementById('app');"
              "var h = document.createElement('h1'); h.className = 'title';"
              "h.textContent = 'Vends rendez-vous préfecture ' + 'Bobigny (rendu JS)'; d.appendChild(h);"
              "var p = document.createElement('p'); p.className = 'desc';"
              "p.textContent = 'Rendez-vous préfecture pour titre de séjour, 150 euros, WhatsApp +33 6 39 98 12 36.';"
              "d.appendChild(p); });")
    return _page("Chargement…", f'<div id="app"></div><script>{script}</script>')


JS_PROFILE = """
name = "jsfixture"
platform = "jsfixture"
title = "annonces-js.test"
base_url = "https://annonces-js.test"
written_on = "2026-11-22"
basis = "test fixture"
javascript = true
currency = "EUR"
[search]
urls = ["{base}/recherche?q={keyword}&page={page}"]
[keywords]
fr = ["rdv"]
[listing]
ad_links = ["css:a.ad::attr(href)"]
ad_url_pattern = "^/annonce/\\\\d+$"
[ad.fields]
title = ["css:h1.title"]
text = ["css:p.desc"]
[politeness]
robots_override = false
"""


# ------------------------------------------------------------------ server
class _Handler(BaseHTTPRequestHandler):
    state: State
    pngs: dict[int, bytes]

    def log_message(self, fmt, *args):
        pass

    def _send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8", headers=None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", "session=secret-cookie-value; Path=/")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        n = min(int(self.headers.get("Content-Length") or 0), 65536)
        raw = self.rfile.read(n)
        if urlsplit(self.path).path == "/ouedkniss/graphql":
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                return self._send(400, '{"errors":[{"message":"bad json"}]}', "application/json")
            return self._send(200, json.dumps(ouedkniss_graphql(payload), ensure_ascii=False), "application/json")
        self._send(404, "not found", "text/plain")

    def do_GET(self):  # noqa: N802, PLR0911, PLR0912
        parts = urlsplit(self.path)
        p, q = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        st = self.state
        st.hits[p] = st.hits.get(p, 0) + 1
        if p == "/robots.txt":
            return self._send(200, "User-agent: *\nDisallow: /lbc/private/\n", "text/plain")
        m = re.fullmatch(r"/(lbc|storm|big)/img/(\d+)\.png", p)
        if m:
            return self._send(200, self.pngs[int(m.group(2)) % 12], "image/png")
        page = int(q.get("page") or 1)
        # leboncoin-style
        if p == "/lbc/recherche":
            extra = [f"/ad/services/{LBC_REMOVED}"] if page == 1 else []
            return self._send(200, lbc_search("/lbc", page, LBC_ADS, extra))
        m = re.fullmatch(r"/lbc/ad/services/(\d+)", p)
        if m:
            i = int(m.group(1))
            if i == LBC_REMOVED or i in st.removed:
                return self._send(410, REMOVED_PAGE)
            ad = next((a for a in LBC_ADS if a["id"] == i), None)
            return self._send(200, lbc_ad("/lbc", ad)) if ad else self._send(404, "<h1>Page introuvable</h1>")
        if p.startswith("/blocked/"):
            return self._send(403, DATADOME, headers={"X-DataDome": "protected"})
        # 429 storm
        if p == "/storm/recherche":
            return self._send(200, lbc_search("/storm", 1, LBC_ADS[:2], ["/ad/services/1011"]))
        m = re.fullmatch(r"/storm/ad/services/(\d+)", p)
        if m:
            n = st.storm[p] = st.storm.get(p, 0) + 1
            if m.group(1) == "1011" or n <= st.storm_failures:
                return self._send(429, "Too Many Requests", "text/plain", {"Retry-After": "0"})
            ad = next(a for a in LBC_ADS if a["id"] == int(m.group(1)))
            return self._send(200, lbc_ad("/storm", ad))
        # 20 MB page
        if p == "/big/recherche":
            return self._send(200, lbc_search("/big", 1, LBC_ADS[:2]))
        m = re.fullmatch(r"/big/ad/services/(\d+)", p)
        if m:
            ad = next(a for a in LBC_ADS if a["id"] == int(m.group(1)))
            return self._send(200, lbc_ad("/big", ad, padding=20_000_000 if ad["id"] == 1000 else 0))
        # vivastreet-style
        if p.startswith("/viva/annonces/"):
            return self._send(200, viva_search())
        m = re.fullmatch(r"/viva/[^/]+/[^/]+/[^/]+/(\d{9})", p)
        if m:
            body = viva_ad(m.group(1))
            ctype = "text/html" if m.group(1) == "123456781" else "text/html; charset=utf-8"
            return self._send(200, body, ctype)
        # avito-style
        if p == "/avito/fr/maroc/services":
            return self._send(200, avito_search())
        m = re.search(r"^/avito/.*_(\d+)\.htm$", p)
        if m:
            return self._send(200, avito_ad(m.group(1)))
        # tayara-style
        if p == "/tayara/search/":
            return self._send(200, tayara_search())
        if p.startswith("/tayara/item/") and TAYARA_GONE in p:
            self.send_response(302)
            self.send_header("Location", "/tayara/ads/c/services/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if p.startswith("/tayara/item/"):
            return self._send(200, tayara_ad())
        if p.startswith("/tayara/ads/c/"):
            return self._send(200, _page("Services | Tayara", "<h1>Services</h1>"))
        # JS-rendered
        if p == "/js/recherche":
            return self._send(200, js_search())
        if p == "/js/annonce/4242":
            return self._send(200, js_ad())
        return self._send(404, "<h1>Page introuvable</h1>")


class FixtureSite:
    def __init__(self):
        self.state = State()
        pngs = {i: _png(i) for i in range(12)}
        handler = type("H", (_Handler,), {"state": self.state, "pngs": pngs})
        # a listen backlog of 128, not socketserver's 5: several crawls connecting at once would otherwise see
        # connection attempts dropped and retried by the kernel seconds later
        self.server = type("S", (ThreadingHTTPServer,), {"request_queue_size": 128})(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.root = f"http://127.0.0.1:{self.port}"

    def base(self, prefix: str) -> str:
        return f"{self.root}/{prefix}"

    def start(self) -> FixtureSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
