"""Declarative site profiles (``spiders/profiles/<name>.toml``) and the parser that applies them.

A profile says where a site's search pages are, how to find ad links and the
next page on them, and how to read each field of an ad page. It is data: a
user fixes a profile after a redesign without touching code, checks it with
``veille profile test PROFILE SAVED.html`` and imports browser-saved pages
with ``veille import html FILE… --profile NAME``. The format is documented in
``docs/crawling.md``; the parser below is pure (no network, no database) so
the spiders, ``profile test`` and ``import html`` all share it.

A field is a list of *sources* tried in order; the first that yields a value
wins. Structured data comes first in the shipped profiles because it survives
redesigns better than CSS classes:

==========================  ====================================================
``next:PATH``               JSON of ``<script id="__NEXT_DATA__">``
``script:ID:PATH``          JSON of ``<script id="ID">`` (any embedded JSON)
``ld:TYPE:PATH``            JSON-LD objects whose ``@type`` is TYPE (``*``: any)
``json:PATH``               the response body itself is JSON (API answers)
``css:SELECTOR``            parsel CSS (``::text``, ``::attr(x)``); a bare
                            element gives its whole visible text
``xpath:EXPR``              parsel XPath
``meta:NAME``               ``<meta property|name=NAME content=…>``
``re:REGEX``                first group of REGEX over the raw HTML
``url:REGEX``               first group of REGEX over the page URL
``const:VALUE``             a fixed value
==========================  ====================================================

``PATH`` is dotted (``props.pageProps.ad.subject``); an integer picks a list
element and ``*`` maps over a list (``ads.*.url``).
"""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urljoin, urlsplit
from zoneinfo import ZoneInfo

from parsel import Selector

from storage.errors import ConfigError, InputError
from storage.post import Post, to_utc, utcnow

PROFILE_DIR = "profiles"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
FIELDS = ("external_id", "title", "text", "price", "currency", "author", "author_handle", "author_url",
          "posted_at", "location", "images", "phone")
#: Fields an ad page is expected to show; ``profile test`` reports the ones not found.
EXPECTED = ("title", "text", "price", "author", "posted_at", "images")
CURRENCY_ALIASES = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "dh": "MAD", "dhs": "MAD",
                    "mad": "MAD", "درهم": "MAD", "da": "DZD", "dzd": "DZD", "دج": "DZD", "dt": "TND",
                    "tnd": "TND", "د.ت": "TND", "$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP"}
#: Markers of challenge / captcha / access-denied pages (lower-case, searched in the first 300 kB).
BLOCK_MARKERS = (
    "captcha-delivery.com", "geo.captcha-delivery", "datadome", "_cf_chl_opt", "cf-chl-bypass",
    "challenge-platform", "<title>just a moment...</title>", "attention required! | cloudflare",
    "g-recaptcha", "h-captcha", "hcaptcha.com/1/api.js", "www.google.com/recaptcha/api.js",
    "<title>access denied</title>", "<h1>access denied</h1>", "accès refusé", "are you a robot",
    "vous êtes un robot", "pardon our interruption", "request unsuccessful. incapsula",
)
BLOCK_STATUSES = (401, 403, 407, 429, 451)
MAX_FIELD_CHARS = 200_000
MAX_IMAGES = 20


class ProfileError(ConfigError):
    """A profile file that cannot be used; the message names the file and the key."""


@dataclass
class Profile:
    name: str
    platform: str
    base_url: str
    written_on: str
    basis: str
    path: Path | None = None
    title: str = ""
    hosts: list[str] = field(default_factory=list)
    lang: str | None = None
    languages: list[str] = field(default_factory=lambda: ["fr"])
    currency: str | None = None
    timezone: str = "UTC"
    date_formats: list[str] = field(default_factory=list)
    javascript: bool = False
    spider: str = "profile"  # "profile" (generic) or the name of a spider in spiders/sites/
    search_urls: list[str] = field(default_factory=list)
    first_page: int = 1
    page_step: int = 1
    keywords: dict[str, list[str]] = field(default_factory=dict)
    keyword_sections: list[str] = field(default_factory=list)
    ad_links: list[str] = field(default_factory=list)
    ad_url_pattern: str | None = None
    next_page: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)
    removed_statuses: list[int] = field(default_factory=lambda: [404, 410])
    removed_markers: list[str] = field(default_factory=list)
    removed_url_patterns: list[str] = field(default_factory=list)
    removed_flags: list[str] = field(default_factory=list)
    block_markers: list[str] = field(default_factory=list)
    download_delay: float | None = None
    concurrency: int | None = None
    robots_override: bool = False
    robots_override_reason: str = ""
    api: dict[str, Any] = field(default_factory=dict)
    base_override: str | None = None

    # ---------------------------------------------------------------- URLs
    @property
    def base(self) -> str:
        return (self.base_override or self.base_url).rstrip("/")

    def with_base(self, base: str | None) -> Profile:
        import copy

        p = copy.copy(self)
        p.base_override = base.rstrip("/") if base else None
        return p

    @property
    def prefix(self) -> str:
        """Path of an overridden base URL (``http://127.0.0.1:8000/leboncoin`` -> ``/leboncoin``)."""
        return urlsplit(self.base_override).path.rstrip("/") if self.base_override else ""

    def rebase(self, url: str) -> str:
        """Map a URL of the real site (any of its hosts) onto the overridden base URL.

        With a base URL that has a path, root-relative links of the pages are
        put under that path too.
        """
        if not self.base_override or not url:
            return url
        parts = urlsplit(url)
        real_hosts = {urlsplit(self.base_url).netloc, *self.hosts}
        if parts.netloc in real_hosts or any(parts.netloc.endswith("." + h) for h in real_hosts):
            rest = url.split(parts.netloc, 1)[1]
            return self.base + rest if not rest.startswith(self.prefix + "/") or not self.prefix else \
                self.base[: len(self.base) - len(self.prefix)] + rest
        ob = urlsplit(self.base_override)
        if parts.netloc == ob.netloc and self.prefix and not (parts.path + "/").startswith(self.prefix + "/"):
            return f"{ob.scheme}://{ob.netloc}{self.prefix}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return url

    def site_path(self, url: str) -> str:
        """The URL's path as on the real site (the overridden base URL's path removed)."""
        path = urlsplit(url).path
        if self.prefix and (path + "/").startswith(self.prefix + "/"):
            path = path[len(self.prefix):] or "/"
        return path

    def search_url(self, template: str, keyword: str, page: int) -> str:
        try:
            return template.format(base=self.base, keyword=quote_plus(keyword), page=page,
                                   offset=(page - self.first_page) * max(self.page_step, 1))
        except (KeyError, IndexError, ValueError) as exc:
            raise ProfileError(f"profile {self.name}: bad search url template {template!r}: {exc}") from exc

    def is_ad_url(self, url: str) -> bool:
        return bool(self.ad_url_pattern and re.search(self.ad_url_pattern, self.site_path(url)))

    @property
    def allowed_hosts(self) -> list[str]:
        if self.base_override:
            return [urlsplit(self.base_override).hostname or ""]
        return [urlsplit(self.base_url).hostname or "", *[h.split(":")[0] for h in self.hosts]]


# ---------------------------------------------------------------- loading
def shipped_dir() -> Path:
    return Path(str(resources.files("spiders").joinpath(PROFILE_DIR)))


def _dirs(ws=None) -> list[Path]:
    out = []
    if ws is not None:
        out.append(ws.path("profiles"))
    out.append(shipped_dir())
    return out


def list_profiles(ws=None) -> list[str]:
    names: set[str] = set()
    for d in _dirs(ws):
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml") if NAME_RE.match(p.stem))
    return sorted(names)


def _strs(data: dict, key: str, where: str) -> list[str]:
    v = data.get(key, [])
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ProfileError(f"{where}: '{key}' must be a string or a list of strings")
    return list(v)


def parse_profile(data: dict, path: Path | None = None, name: str | None = None) -> Profile:
    where = str(path or name or "profile")
    name = data.get("name") or name or (path.stem if path else None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ProfileError(f"{where}: 'name' must be lower-case letters, digits or _ (got {name!r})")
    for key in ("base_url", "written_on", "basis"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ProfileError(f"{where}: '{key}' is required (a non-empty string)")
    if not data["base_url"].startswith(("http://", "https://")):
        raise ProfileError(f"{where}: 'base_url' must start with http:// or https://")
    search = data.get("search", {}) or {}
    listing = data.get("listing", {}) or {}
    ad = data.get("ad", {}) or {}
    removed = data.get("removed", {}) or {}
    polite = data.get("politeness", {}) or {}
    fields: dict[str, list[str]] = {}
    for fname, spec in (ad.get("fields", {}) or {}).items():
        if fname not in FIELDS:
            raise ProfileError(f"{where}: unknown field [ad.fields.{fname}] (known: {', '.join(FIELDS)})")
        srcs = spec if isinstance(spec, list) else [spec]
        for s in srcs:
            if not isinstance(s, str) or ":" not in s:
                raise ProfileError(f"{where}: [ad.fields] {fname}: source {s!r} must look like 'kind:spec'")
            kind = s.split(":", 1)[0]
            if kind not in SOURCE_KINDS:
                raise ProfileError(f"{where}: [ad.fields] {fname}: unknown source kind {kind!r}")
        fields[fname] = list(srcs)
    robots_override = bool(polite.get("robots_override", False))
    reason = str(polite.get("robots_override_reason", "") or "")
    if robots_override and not reason.strip():
        raise ProfileError(f"{where}: robots_override = true needs a robots_override_reason")
    kw = data.get("keywords", {}) or {}
    keywords = {}
    for lang in kw:
        if lang == "from_lexicon":
            continue
        keywords[lang] = _strs(kw, lang, f"{where} [keywords]")
    pattern = listing.get("ad_url_pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ProfileError(f"{where}: [listing] ad_url_pattern: {exc}") from exc
    return Profile(
        name=name, platform=str(data.get("platform") or name), base_url=data["base_url"].rstrip("/"),
        written_on=data["written_on"], basis=data["basis"], path=path, title=str(data.get("title", name)),
        hosts=_strs(data, "hosts", where), lang=data.get("lang"), languages=_strs(data, "languages", where) or ["fr"],
        currency=data.get("currency"), timezone=str(data.get("timezone", "UTC")),
        date_formats=_strs(data, "date_formats", where), javascript=bool(data.get("javascript", False)),
        spider=str(data.get("spider", "profile")),
        search_urls=_strs(search, "urls", where), first_page=int(search.get("first_page", 1)),
        page_step=int(search.get("page_step", 1)), keywords=keywords,
        keyword_sections=_strs(kw, "from_lexicon", where),
        ad_links=_strs(listing, "ad_links", where), ad_url_pattern=pattern,
        next_page=_strs(listing, "next_page", where), fields=fields,
        removed_statuses=[int(x) for x in removed.get("statuses", [404, 410])],
        removed_markers=[m.lower() for m in _strs(removed, "markers", where)],
        removed_url_patterns=_strs(removed, "url_patterns", where),
        removed_flags=_strs(removed, "flags", where),
        block_markers=[m.lower() for m in _strs(data.get("blocked", {}) or {}, "markers", where)],
        download_delay=polite.get("download_delay"), concurrency=polite.get("concurrency"),
        robots_override=robots_override, robots_override_reason=reason, api=dict(data.get("api", {}) or {}),
    )


def load_profile(name_or_path: str | Path, ws=None) -> Profile:
    """A profile by name (workspace ``profiles/`` first, then the shipped ones) or by file path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.is_file():
        path = p
    else:
        name = str(name_or_path)
        if not NAME_RE.match(name):
            raise ProfileError(f"unknown profile {name!r} (known: {', '.join(list_profiles(ws))})")
        path = next((d / f"{name}.toml" for d in _dirs(ws) if (d / f"{name}.toml").is_file()), None)
        if path is None:
            raise ProfileError(f"unknown profile {name!r} (known: {', '.join(list_profiles(ws))})")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    return parse_profile(data, path)


# ---------------------------------------------------------------- page parsing
class Page:
    """A page to read: URL, body and lazily parsed structured data."""

    def __init__(self, url: str, body: bytes | str, encoding: str | None = None, status: int = 200,
                 headers: dict[str, str] | None = None):
        self.url = url
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        if isinstance(body, bytes):
            self.raw = body
            self.text = decode_html(body, encoding or _charset(self.headers.get("content-type", "")))
        else:
            self.text = body
            self.raw = body.encode("utf-8")
        self._sel: Selector | None = None
        self._scripts: dict[str, Any] = {}
        self._ld: list[dict] | None = None
        self._json: Any = ...

    @property
    def sel(self) -> Selector:
        if self._sel is None:
            text = self.text or "<html></html>"
            # The type parsel would find, without its first guess: json.loads of the whole text, which fails (with
            # an exception built) on every HTML page. Only a text that starts as a JSON array or object can be one.
            kind = None if _JSON_START.match(text) else "xml" if _XML_DECLARATION.match(text) else "html"
            self._sel = Selector(text=text, type=kind)
        return self._sel

    def _script_bodies(self, attr_re: str) -> list[str]:
        """Bodies of the <script> elements whose attributes match, without parsing the whole page.

        Structured data is read this way first (fast); the full HTML parse happens only if a CSS/XPath source
        is needed. If the quick scan finds nothing, the parsed document is asked as well.
        """
        out = []
        for m in _SCRIPT_RE.finditer(self.text):
            if re.search(attr_re, m.group(1), re.I):
                out.append(m.group(2))
        return out

    def script_json(self, script_id: str) -> Any:
        if script_id not in self._scripts:
            bodies = self._script_bodies(r"""\bid\s*=\s*["']?""" + re.escape(script_id) + r"""(?:["'\s]|$)""")
            raw = bodies[0] if bodies else self.sel.css(f'script[id="{script_id}"]::text').get()
            self._scripts[script_id] = _loads(raw)
        return self._scripts[script_id]

    def json_ld(self) -> list[dict]:
        if self._ld is None:
            out: list[dict] = []
            raws = self._script_bodies(r"""type\s*=\s*["']?application/ld\+json""") or \
                self.sel.css('script[type="application/ld+json"]::text').getall()
            for raw in raws:
                data = _loads(raw)
                stack = data if isinstance(data, list) else [data]
                for obj in stack:
                    if isinstance(obj, dict) and "@graph" in obj and isinstance(obj["@graph"], list):
                        out.extend(o for o in obj["@graph"] if isinstance(o, dict))
                    elif isinstance(obj, dict):
                        out.append(obj)
            self._ld = out
        return self._ld

    def body_json(self) -> Any:
        if self._json is ...:
            self._json = _loads(self.text)
        return self._json


_XML_DECLARATION = re.compile(r"[\s\ufeff]*<\?xml\s")  # as parsel decides between its XML and HTML parsers
_JSON_START = re.compile(r"[ \t\n\r]*[\[{]")  # (json.loads skips only these spaces)
_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)


def _charset(content_type: str) -> str | None:
    m = re.search(r"charset=([\w-]+)", content_type or "", re.I)
    return m.group(1) if m else None


def _meta_charset(body: bytes) -> str | None:
    """The charset a page's ``<meta charset>`` (or ``http-equiv`` content type) names in its first 4 KB."""
    m = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", body[:4096], re.I)
    return m.group(1).decode("ascii", "ignore") if m else None


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Decode HTML bytes: declared charset, then ``<meta charset>``, then UTF-8, then windows-1252."""
    candidates = []
    if declared:
        candidates.append(declared)
    meta = _meta_charset(body)
    if meta:
        candidates.append(meta)
    candidates += ["utf-8", "windows-1252"]
    for enc in candidates:
        try:
            return body.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def walk(obj: Any, path: str) -> list[Any]:
    """Values at a dotted path; ``*`` maps over lists, integers index them."""
    cur = [obj]
    for part in [p for p in path.split(".") if p]:
        nxt = []
        for o in cur:
            if part == "*":
                if isinstance(o, list):
                    nxt.extend(o)
                elif isinstance(o, dict):
                    nxt.extend(o.values())
            elif isinstance(o, dict):
                if part in o:
                    nxt.append(o[part])
            elif isinstance(o, list) and re.fullmatch(r"-?\d+", part):
                i = int(part)
                if -len(o) <= i < len(o):
                    nxt.append(o[i])
        cur = nxt
    out = []
    for v in cur:
        if isinstance(v, list):
            out.extend(v)
        elif v is not None and v != "":
            out.append(v)
    return out


def _ld_type_matches(obj: dict, want: str) -> bool:
    t = obj.get("@type")
    types = t if isinstance(t, list) else [t]
    return want == "*" or want in types


def _text_of(sel) -> str:
    parts = sel.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()
    lines, cur = [], []
    for p in parts:
        cur.append(p)
    text = " ".join(" ".join(cur).split())
    lines.append(text)
    return "\n".join(x for x in lines if x)


def _block_text(sel) -> str:
    """Visible text of an element with paragraphs/line breaks kept as newlines."""
    chunks = []
    for node in sel.xpath("./node()"):
        tag = node.xpath("name()").get() or ""
        if tag in ("script", "style"):
            continue
        if tag in ("p", "div", "li", "br", "h1", "h2", "h3", "tr"):
            t = _text_of(node) if tag != "br" else ""
            chunks.append("\n" + t + "\n")
        elif tag:
            chunks.append(_text_of(node))
        else:
            chunks.append(node.get())
    text = "".join(chunks)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def source_values(page: Page, source: str) -> list[Any]:
    """All values one source yields on a page (possibly empty)."""
    kind, _, spec = source.partition(":")
    try:
        if kind == "next":
            return walk(page.script_json("__NEXT_DATA__"), spec)
        if kind == "script":
            sid, _, path = spec.partition(":")
            return walk(page.script_json(sid), path)
        if kind == "ld":
            typ, _, path = spec.partition(":")
            out = []
            for obj in page.json_ld():
                if _ld_type_matches(obj, typ):
                    out.extend(walk(obj, path))
            return out
        if kind == "json":
            return walk(page.body_json(), spec)
        if kind == "css":
            if "::" in spec:
                return [v.strip() for v in page.sel.css(spec).getall() if v and v.strip()]
            return [t for t in (_block_text(s) for s in page.sel.css(spec)) if t]
        if kind == "xpath":
            res = page.sel.xpath(spec)
            return [(v if isinstance(v, str) else v).strip() for v in res.getall() if v and v.strip()]
        if kind == "meta":
            return [v.strip() for v in page.sel.css(f'meta[property="{spec}"]::attr(content), '
                                                    f'meta[name="{spec}"]::attr(content)').getall() if v.strip()]
        if kind == "re":
            m = re.search(spec, page.text[:5_000_000], re.S)
            if not m:
                return []
            val = m.group(1) if m.groups() else m.group(0)
            try:
                val = json.loads(f'"{val}"')
            except ValueError:
                pass
            return [val]
        if kind == "url":
            m = re.search(spec, page.url)
            return [m.group(1) if m and m.groups() else m.group(0)] if m else []
        if kind == "const":
            return [spec]
    except (ValueError, re.error) as exc:  # a broken selector in a profile is a profile error
        raise ProfileError(f"source {source!r}: {exc}") from exc
    return []


SOURCE_KINDS = ("next", "script", "ld", "json", "css", "xpath", "meta", "re", "url", "const")


def first_value(page: Page, sources: list[str]) -> tuple[Any, str | None]:
    for s in sources:
        vals = source_values(page, s)
        if vals:
            return vals[0], s
    return None, None


def all_values(page: Page, sources: list[str]) -> tuple[list[Any], str | None]:
    for s in sources:
        vals = source_values(page, s)
        if vals:
            return vals, s
    return [], None


# ---------------------------------------------------------------- value cleaning
def parse_price(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        for k in ("price", "value", "amount"):
            if k in value:
                return parse_price(value[k])
        return None
    text = str(value).replace("\u202f", " ").replace("\xa0", " ")
    m = re.search(r"\d[\d .,']*", text)
    if not m:
        return None
    num = m.group(0).strip().replace(" ", "").replace("'", "")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", num):  # 1.200,50
        num = num.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d+,\d{1,2}", num):
        num = num.replace(",", ".")
    else:
        num = num.replace(",", "")
    try:
        return float(num)
    except ValueError:
        return None


def parse_currency(value: Any, default: str | None) -> str | None:
    if value is None:
        return default
    text = str(value).strip().lower()
    if re.fullmatch(r"[a-z]{3}", text):
        return CURRENCY_ALIASES.get(text, text.upper())
    for k, v in CURRENCY_ALIASES.items():
        if k in text:
            return v
    return default


def parse_date(value: Any, profile: Profile) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return to_utc(value / 1000 if value > 10_000_000_000 else value)
    text = " ".join(str(value).split())
    tz = ZoneInfo(profile.timezone) if profile.timezone and profile.timezone != "UTC" else UTC
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        return dt.astimezone(UTC)
    except ValueError:
        pass
    for fmt in [*profile.date_formats, "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y à %Hh%M", "%d/%m/%Y",
                "%d.%m.%Y"]:
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return dt.replace(tzinfo=tz).astimezone(UTC)
    return None


def _clean_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False)
    return str(v).strip()[:MAX_FIELD_CHARS]


# ---------------------------------------------------------------- ad parsing
@dataclass
class ParsedAd:
    post: Post
    found: dict[str, str]  # field -> source that gave it
    missing: list[str]
    image_urls: list[str]


def parse_ad(profile: Profile, page: Page, fetched_at: datetime | None = None) -> ParsedAd:
    """Read every field of an ad page; a field no source gives is listed in ``missing``."""
    found: dict[str, str] = {}
    vals: dict[str, Any] = {}
    for fname, sources in profile.fields.items():
        if fname == "images":
            v, src = all_values(page, sources)
        else:
            v, src = first_value(page, sources)
        if src is not None and v not in (None, "", []):
            vals[fname] = v
            found[fname] = src
    url = page.url
    ext = vals.get("external_id")
    if ext is None:
        m = re.search(r"(\d{5,})", urlsplit(url).path)
        ext = m.group(1) if m else None
    images = []
    for v in vals.get("images", [])[: MAX_IMAGES * 3]:
        if isinstance(v, dict):
            v = v.get("mediaUrl") or v.get("url") or v.get("src") or ""
        if isinstance(v, str) and v.strip() and not v.startswith("data:"):
            absu = profile.rebase(urljoin(url, v.strip()))
            if absu.startswith(("http://", "https://")) and absu not in images:
                images.append(absu)
    images = images[:MAX_IMAGES]
    author_url = vals.get("author_url")
    if author_url:
        author_url = profile.rebase(urljoin(url, str(author_url)))
    extra: dict[str, Any] = {"profile": profile.name}
    if vals.get("location"):
        extra["location"] = _clean_text(vals["location"])[:500]
    if vals.get("phone"):
        extra["phone"] = _clean_text(vals["phone"])[:100]
    if page.status:
        extra["http_status"] = page.status
    text = _clean_text(vals.get("text"))
    if extra.get("phone") and extra["phone"] not in text:
        text = (text + "\n" + f"Téléphone : {extra['phone']}").strip()
    post = Post(
        platform=profile.platform, source=urlsplit(profile.base_url).netloc, url=url,
        external_id=str(ext) if ext is not None else None,
        author=_clean_text(vals.get("author"))[:300] or None,
        author_handle=_clean_text(vals.get("author_handle"))[:300] or None,
        author_url=author_url or None, title=_clean_text(vals.get("title"))[:2000], text=text,
        price=parse_price(vals.get("price")),
        currency=parse_currency(vals.get("currency"), profile.currency) if "price" in vals else None,
        posted_at=parse_date(vals.get("posted_at"), profile),
        fetched_at=fetched_at or utcnow(), lang=profile.lang, media=[], extra=extra,
    )
    if post.price is None and "currency" in vals:
        post.currency = None
    missing = [f for f in EXPECTED if f not in found and (f != "text" or not post.text)]
    return ParsedAd(post, found, missing, images)


def ad_links(profile: Profile, page: Page) -> list[str]:
    """Absolute ad URLs found on a listing page (deduplicated, in page order)."""
    out: list[str] = []
    for s in profile.ad_links:
        for v in source_values(page, s):
            if not isinstance(v, str) or not v.strip():
                continue
            u = profile.rebase(urljoin(page.url, v.strip()))
            if not u.startswith(("http://", "https://")):
                continue
            if profile.ad_url_pattern and not profile.is_ad_url(u):
                continue
            if u not in out:
                out.append(u)
    return out


def next_page_url(profile: Profile, page: Page) -> str | None:
    for s in profile.next_page:
        for v in source_values(page, s):
            if isinstance(v, str) and v.strip():
                u = profile.rebase(urljoin(page.url, v.strip()))
                if u.startswith(("http://", "https://")) and u != page.url:
                    return u
    return None


# ---------------------------------------------------------------- blocked / removed
def _head_text(head: bytes, declared: str | None) -> str:
    """The first bytes of a page as text: in the charset the page declares (Content-Type, else ``<meta
    charset>``) when it is not UTF-8, so that the markers with accents ("accès refusé") are found on a
    windows-1252 page too; otherwise as UTF-8, with replacement characters for what is not."""
    enc = declared or _meta_charset(head)
    if enc:
        try:
            if codecs.lookup(enc).name != "utf-8":
                return head.decode(enc, "replace")
        except LookupError:  # an unknown charset: read as UTF-8
            pass
    return head.decode("utf-8", "replace")


def detect_block(profile: Profile | None, status: int | None, headers: dict[str, str] | None,
                 body: bytes) -> str | None:
    """Why this answer is a challenge/captcha/access-denied page, or None."""
    h = {k.lower(): v for k, v in (headers or {}).items()}
    if "cf-mitigated" in h:
        return f"Cloudflare challenge (cf-mitigated: {h['cf-mitigated'][:40]})"
    head = _head_text(body[:300_000], _charset(h.get("content-type", ""))).lower()
    markers = list(BLOCK_MARKERS) + (profile.block_markers if profile else [])
    hit = next((m for m in markers if m in head), None)
    if hit:
        return f"challenge page (HTTP {status}, marker {hit!r})"
    if status in BLOCK_STATUSES:
        return f"access refused (HTTP {status})"
    return None


def detect_removed(profile: Profile, status: int | None, url: str, final_url: str | None, page: Page | None,
                   was_ad: bool = True) -> str | None:
    """Why this ad is gone (status, redirect, page text or a JSON flag), or None."""
    if status in profile.removed_statuses:
        return f"HTTP {status}"
    if final_url and final_url != url:
        for pat in profile.removed_url_patterns:
            if re.search(pat, profile.site_path(final_url)):
                return f"redirected to {final_url}"
    if page is None:
        return None
    low = page.text[:2_000_000].lower()
    hit = next((m for m in profile.removed_markers if m and m in low), None)
    if hit:
        return f"page says {hit!r}"
    for flag in profile.removed_flags:
        src, _, want = flag.partition("=")
        vals = source_values(page, src.strip())
        if vals and str(vals[0]).lower() == (want.strip().lower() or "true"):
            return f"{src.strip()} = {vals[0]}"
    return None


def parse_saved_page(profile: Profile, path: Path, url: str | None = None, max_bytes: int = 25_000_000) -> tuple[
        Page, ParsedAd]:
    """Parse a page saved from a browser; the URL comes from the argument, the canonical link or og:url."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise InputError(f"{path}: {size} bytes is above collect.max_page_bytes ({max_bytes})")
    body = path.read_bytes()
    page = Page(url or "", body)
    if not url:
        cand = (page.sel.css('link[rel="canonical"]::attr(href)').get()
                or page.sel.css('meta[property="og:url"]::attr(content)').get() or "")
        m = re.search(r"saved from url=\(\d+\)(\S+)", page.text[:2000])  # "Save page as" comment
        if not cand and m:
            cand = m.group(1).strip()
        if not cand.startswith(("http://", "https://")):
            cand = f"file://{path.name}"
        page.url = cand
    return page, parse_ad(profile, page)
