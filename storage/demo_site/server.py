"""A small threaded HTTP server per demo site, on 127.0.0.1 only.

``DemoSite().start()`` serves each site (and the t.me previews) on its own free
port, so a spider whose base URL is ``https://www.leboncoin.fr`` can be pointed
at ``http://127.0.0.1:PORT`` unchanged. ``site.day`` moves the fictional world
on: on day 2 one ad is taken down (its page answers like a removed ad), the
reseller relists under a new account, and another seller shows up on a new
platform.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from . import render
from .data import SITES, TELEGRAM, DemoData, load_demo

log = logging.getLogger("veille.demo_site")
MAX_BODY = 64 * 1024
# Ports tried first (a re-run of `veille demo --workspace DIR` then keeps its URLs); any free port otherwise.
PREFERRED_PORTS = {name: 18761 + i for i, name in enumerate((*SITES, TELEGRAM))}


def _free_port(preferred: int | None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def _image(name: str) -> bytes | None:
    if not re.fullmatch(r"[a-z0-9_]+\.jpg", name):
        return None
    p = resources.files(__package__).joinpath("telegram_export", "photos", name)
    return p.read_bytes() if p.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "veille-demo/1"
    site: str = ""
    demo: DemoSite

    def log_message(self, fmt, *args):  # noqa: D401 - quiet by default
        log.debug("%s %s", self.site, fmt % args)

    def _send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8",
              headers: dict | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        self.demo.hits[self.site] = self.demo.hits.get(self.site, 0) + 1
        try:
            status, body, ctype, headers = self.demo.respond(self.site, "GET", self.path, None)
        except Exception:  # noqa: BLE001 - a demo page bug answers 500, never kills the server
            log.exception("demo site %s failed on %s", self.site, self.path)
            status, body, ctype, headers = 500, "internal error", "text/plain", {}
        self._send(status, body, ctype, headers)

    def do_POST(self):  # noqa: N802
        self.demo.hits[self.site] = self.demo.hits.get(self.site, 0) + 1
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length) if length else b""
        try:
            status, body, ctype, headers = self.demo.respond(self.site, "POST", self.path, raw)
        except Exception:  # noqa: BLE001
            log.exception("demo site %s failed on POST %s", self.site, self.path)
            status, body, ctype, headers = 500, "internal error", "text/plain", {}
        self._send(status, body, ctype, headers)


class DemoSite:
    """The fictional sites, served while the object is started (a context manager)."""

    def __init__(self, data: DemoData | None = None, day: int = 1, sites=(*SITES, TELEGRAM),
                 ports: dict[str, int] | None = None):
        self.data = data or load_demo()
        self.day = day
        self.sites = tuple(sites)
        # ports tried first per site (a resumed demo asks for the ones its stored URLs name)
        self.ports = {**PREFERRED_PORTS, **{k: int(v) for k, v in (ports or {}).items() if str(v).isdigit()}}
        self.base_urls: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        self._servers: list[ThreadingHTTPServer] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> DemoSite:
        for name in self.sites:
            handler = type(f"Handler_{name}", (_Handler,), {"site": name, "demo": self})
            port = _free_port(self.ports.get(name))
            try:
                srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
            except OSError:
                srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, name=f"demo-{name}", daemon=True).start()
            self._servers.append(srv)
            self.base_urls[name] = f"http://127.0.0.1:{srv.server_address[1]}"
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers.clear()

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ routing
    def respond(self, site: str, method: str, path: str, body: bytes | None):
        parts = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        p = parts.path
        base = self.base_urls.get(site, "")
        html = "text/html; charset=utf-8"
        if p == "/robots.txt":
            return 200, "User-agent: *\nAllow: /\n", "text/plain", {}
        if p.startswith("/img/"):
            img = _image(p[5:])
            return (200, img, "image/jpeg", {}) if img else (404, "not found", "text/plain", {})
        if site == TELEGRAM:
            return self._telegram(p, q)
        keyword = q.get("text") or q.get("q") or q.get("keywords") or q.get("query") or q.get("kw") or ""
        page = _int(q.get("page") or q.get("o") or "1")
        m = re.search(r"/t\+(\d+)", p)
        if m:
            page = int(m.group(1))
        ads = render.search(self.data.ads_for(site, self.day), keyword)
        gone = {a.id for a in self.data.removed_ads(self.day) if a.site == site}

        if site == "leboncoin":
            m = re.fullmatch(r"/ad/[^/]+/(\d+)/?|/[^/]+/(\d+)\.htm", p)
            if m:
                return self._ad(site, m.group(1) or m.group(2), gone, render.leboncoin_ad, base,
                                removed=(410, render.leboncoin_removed(), html, {}))
            if p.rstrip("/") in ("/recherche", "") or p.startswith("/recherche"):
                return 200, render.leboncoin_search(base, ads, page, keyword), html, {}
        elif site == "vivastreet":
            m = re.fullmatch(r"/[^/]+/[^/]+/[^/]+/(\d{9})/?", p)
            if m:
                return self._ad(site, m.group(1), gone, render.vivastreet_ad, base)
            return 200, render.vivastreet_search(base, ads, page, keyword), html, {}
        elif site == "jemepropose":
            m = re.fullmatch(r"/annonces/[^/]+/[^/+]+\+(\d+)/?", p)
            if m:
                return self._ad(site, m.group(1), gone, render.jemepropose_ad, base)
            return 200, render.jemepropose_search(base, ads, page, keyword), html, {}
        elif site == "avito_ma":
            m = re.search(r"_(\d+)\.htm$", p)
            if m:
                return self._ad(site, m.group(1), gone, render.avito_ad, base)
            return 200, render.avito_search(base, ads, page, keyword), html, {}
        elif site == "ouedkniss":
            if method == "POST" and p.rstrip("/") in ("/graphql", "/api/graphql"):
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    return 400, json.dumps({"errors": [{"message": "bad json"}]}), "application/json", {}
                out = render.ouedkniss_graphql(base, self.data, self.day, payload if isinstance(payload, dict) else {})
                return 200, json.dumps(out, ensure_ascii=False), "application/json", {}
            m = re.fullmatch(r"/[^/]+-d(\d+)/?", p)
            if m:
                return self._ad(site, m.group(1), gone, render.ouedkniss_ad, base)
            return 200, render.ouedkniss_search(base, ads, page, keyword), html, {}
        elif site == "tayara":
            m = re.fullmatch(r"/item/(?:[^/]+/)*([0-9a-f]{24})/?", p)
            if m:
                ad = self.data.ad(site, m.group(1))
                if ad is not None and m.group(1) in gone:
                    return 302, "", html, {"Location": f"/ads/c/{ad.category_slug}/"}
                return self._ad(site, m.group(1), gone, render.tayara_ad, base)
            return 200, render.tayara_search(base, ads, page, keyword), html, {}
        return 404, "<h1>Page introuvable</h1>", html, {}

    def _ad(self, site, ad_id, gone, renderer, base, removed=None):
        ad = self.data.ad(site, ad_id)
        if ad is None or not ad.published(self.day):
            return 404, "<h1>Page introuvable</h1>", "text/html; charset=utf-8", {}
        if ad_id in gone:
            return removed or (404, "<h1>Cette annonce a été supprimée</h1>", "text/html; charset=utf-8", {})
        return 200, renderer(base, ad), "text/html; charset=utf-8", {}

    def _telegram(self, p: str, q: dict):
        html = "text/html; charset=utf-8"
        m = re.fullmatch(r"/s/([A-Za-z0-9_]{3,64})/?", p)
        if m:
            ch = m.group(1)
            if ch not in self.data.channels:
                return 302, "", html, {"Location": f"/{ch}"}
            msgs = self.data.messages_for(ch, self.day)
            before = _int(q["before"]) if "before" in q else None
            return 200, render.tg_channel(self.data, ch, msgs, before), html, {}
        m = re.fullmatch(r"/([A-Za-z0-9_]{3,64})/(\d+)/?", p)
        if m:
            ch, mid = m.group(1), int(m.group(2))
            msg = next((x for x in self.data.messages_for(ch, self.day) if x.msg_id == mid), None)
            return 200, render.tg_embed(self.data, msg), html, {}
        m = re.fullmatch(r"/([A-Za-z0-9_]{3,64})/?", p)
        if m and m.group(1) in self.data.channels:
            return 200, render.tg_channel(self.data, m.group(1), [], None), html, {}
        return 404, "<h1>Not found</h1>", html, {}


def _int(value: str) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1
