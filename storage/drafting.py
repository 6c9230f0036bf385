"""Drafting takedown notices and complaints from stored evidence.

``draft_notice`` writes a notice to a platform following DSA Art. 16(2)
element by element; ``draft_complaint`` writes a French "signalement au
procureur de la République" or a PHAROS-style report. Both:

1. build a *context* (plain dicts) from stored posts, captures, entities and
   sellers, the legal-grounds and platform-routes data files and the config;
2. render it with editable Jinja2 templates in a **sandboxed** environment:
   scraped text only ever enters as variable values, so it is never evaluated
   as template code; templates whose name contains ``.html`` autoescape;
3. write the file atomically and record it in ``notices`` (status
   ``drafted``, tracking reference ``VEILLE-YYYYMMDD-NNNN``) with a custody
   entry.

Data files and templates are looked up in the workspace first (settings
``drafting.legal_grounds``, ``drafting.platform_routes``,
``drafting.templates``, or ``legal_grounds.toml`` / ``platform_routes.toml``
/ ``templates/`` next to ``veille.toml``), then in the shipped copies under
``storage/data`` and ``storage/templates``.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import io
import json
import os
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from . import cases, custody
from .db import rows, transaction
from .errors import ConfigError, InputError, NotFoundError
from .post import iso, to_utc, utcnow
from .posts import captures_for_post

LANGS = ("fr", "en")
NOTICE_FORMATS = ("eml", "md", "txt")
COMPLAINT_FORMATS = ("docx", "pdf", "md")
COMPLAINT_TO = ("procureur", "pharos")
CAPACITIES = {
    "victim": "victime",
    "acting for a victim": "agissant pour le compte d'une victime",
    "association": "association",
}
# author_role values that mark the author of a post as the seller; any other
# non-empty role (buyer, victim, member, replier, third_party …) is a third party.
SELLER_ROLES = {"", "seller", "author", "channel", "admin", "owner"}
ROLE_LABELS = {"fr": {"buyer": "acheteur", "victim": "victime", "member": "membre d'un groupe",
                      "replier": "personne ayant répondu", "third_party": "tiers"},
               "en": {"third_party": "third party", "replier": "person who replied", "member": "group member"}}
KIND_LABELS = {"fr": {"phone": "téléphone", "whatsapp": "WhatsApp", "telegram": "Telegram", "snapchat": "Snapchat",
                      "instagram": "Instagram", "tiktok": "TikTok", "email": "courriel", "wallet": "portefeuille "
                      "de cryptomonnaie", "iban": "IBAN"},
               "en": {"phone": "phone", "whatsapp": "WhatsApp", "telegram": "Telegram", "snapchat": "Snapchat",
                      "instagram": "Instagram", "tiktok": "TikTok", "email": "email", "wallet": "crypto wallet",
                      "iban": "IBAN"}}
IDENTIFYING_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban")
FIELD_SOURCES = {
    "notifier.organisation", "notifier.email", "notifier.address", "notifier.phone", "reference", "date",
    "country", "content_type", "items.urls", "items.count", "explanation", "legal_grounds", "platform_rule",
    "statement", "signature",
}
GROUND_OPTIONAL = ("title_en", "text_fr", "penalty_en", "condition_fr", "condition_en", "url", "verified_how")
ROUTE_OPTIONAL = ("email", "email_note", "web_form", "in_app", "rule_fr", "rule_en", "rule_basis", "rule_url",
                  "basis")
MAX_BUNDLE_SCAN = 2000  # custody export entries examined when looking for an existing bundle
# control and bidi-override characters, and what XML (DOCX) cannot hold: U+FFFE, U+FFFF, lone surrogates
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]")
_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")


@dataclass
class DraftResult:
    ref: str
    kind: str
    format: str
    path: Path
    sha256: str
    post_ids: list[int]
    bundle: dict | None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "kind": self.kind, "format": self.format, "path": str(self.path),
                "sha256": self.sha256, "post_ids": self.post_ids, "bundle": self.bundle, "warnings": self.warnings}


# ------------------------------------------------------------ data files
def _ws_file(ws, setting: str, default_name: str) -> Path | None:
    value = ws.config.get(setting) if ws is not None else None
    if value:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else ws.root / p
        if not p.exists():
            raise ConfigError(f"setting '{setting}' points to {p}, which does not exist")
        return p
    if ws is not None and (ws.root / default_name).exists():
        return ws.root / default_name
    return None


def _load_toml(path: Path | None, shipped: str) -> tuple[dict, str]:
    try:
        if path is None:
            text = resources.files("storage").joinpath("data", shipped).read_text("utf-8")
            where = f"storage/data/{shipped}"
        else:
            text = path.read_text("utf-8")
            where = str(path)
        return tomllib.loads(text), where
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path or shipped}: {exc}") from exc


def _date_or_empty(value: Any) -> bool:
    """A checked-on date (TOML date), or "" for "never checked": a date is never claimed when none was."""
    return (isinstance(value, date) and not isinstance(value, datetime)) or value == ""


def load_grounds(ws=None) -> dict:
    """The legal-grounds file: ``{"grounds": {key: entry}, "labels": {...}, "source": path}``."""
    data, where = _load_toml(_ws_file(ws, "drafting.legal_grounds", "legal_grounds.toml"), "legal_grounds.toml")
    grounds = data.get("grounds") or {}
    if not isinstance(grounds, dict):
        raise InputError(f"{where}: [grounds] must be a table")
    for key, g in grounds.items():
        for req in ("code", "article", "title_fr", "penalty_fr", "applies_to"):
            if not g.get(req):
                raise InputError(f"{where}: ground '{key}' has no '{req}'")
        if "verified_on" not in g:
            raise InputError(f"{where}: ground '{key}' has no 'verified_on' (a date, or \"\" when never verified)")
        if not _date_or_empty(g["verified_on"]):
            raise InputError(f"{where}: ground '{key}': verified_on must be a date (YYYY-MM-DD) or \"\"")
        if isinstance(g["applies_to"], str):
            g["applies_to"] = [g["applies_to"]]
        for opt in GROUND_OPTIONAL:
            g.setdefault(opt, "")
        g["key"] = key
    return {"grounds": grounds, "labels": data.get("labels") or {}, "source": where}


def load_routes(ws=None) -> dict:
    data, where = _load_toml(_ws_file(ws, "drafting.platform_routes", "platform_routes.toml"),
                             "platform_routes.toml")
    routes = data.get("routes") or {}
    for key, r in routes.items():
        for req in ("name", "platforms"):
            if not r.get(req):
                raise InputError(f"{where}: route '{key}' has no '{req}'")
        if "last_checked" not in r:
            raise InputError(f"{where}: route '{key}' has no 'last_checked' (a date, or \"\" when never checked)")
        if not _date_or_empty(r["last_checked"]):
            raise InputError(f"{where}: route '{key}': last_checked must be a date (YYYY-MM-DD) or \"\"")
        for f in r.get("fields", []):
            if f.get("from") not in FIELD_SOURCES:
                raise InputError(f"{where}: route '{key}', field {f.get('label')!r}: unknown 'from' "
                                 f"{f.get('from')!r} (known: {', '.join(sorted(FIELD_SOURCES))})")
        for opt in ROUTE_OPTIONAL:
            r.setdefault(opt, "")
        r.setdefault("removed_markers", [])
        r.setdefault("fields", [])
        r["key"] = key
    return {"routes": routes, "source": where}


def find_route(routes: dict, platform: str) -> dict:
    p = (platform or "").strip().lower()
    for key, r in routes["routes"].items():
        if p == key or p in [x.lower() for x in r["platforms"]]:
            return r
    raise NotFoundError(f"no route for platform {platform!r} in {routes['source']} "
                        f"(known: {', '.join(sorted(routes['routes']))})")


def grounds_for(grounds: dict, category: str | None, subtype: str | None) -> list[dict]:
    if not category or category == "none":
        return []
    keys = {category, f"{category}/{subtype}" if subtype else None}
    return [g for g in grounds["grounds"].values() if keys & set(g["applies_to"])]


def label_for(grounds: dict, category: str | None, subtype: str | None, lang: str) -> str:
    labels = grounds["labels"]
    for k in (f"{category}/{subtype}", category, "unclassified"):
        if k in labels and labels[k].get(lang):
            return labels[k][lang]
    return category or "-"


def stale_grounds(ws, used: list[dict], today: date | None = None) -> list[str]:
    max_age = int(ws.config.get("drafting.grounds_max_age_days", 365) or 365)
    today = today or utcnow().date()
    out = []
    for g in used:
        if not g["verified_on"]:
            out.append(f"legal ground {g['code']} art. {g['article']} has never been compared with the official "
                       "text (verified_on is empty): check it on Légifrance, then set verified_on")
            continue
        age = (today - g["verified_on"]).days
        if age > max_age:
            out.append(f"legal ground {g['code']} art. {g['article']} was last verified on {g['verified_on']} "
                       f"({age} days ago): check it on Légifrance and update verified_on")
    return out


# -------------------------------------------------------------- templates
def _shipped_templates() -> Path:
    return Path(str(resources.files("storage").joinpath("templates")))


def clean(text: Any) -> str:
    """Scraped text made safe to print: no control or bidi-override characters."""
    if text is None:
        return ""
    return _CONTROL.sub("", str(text))


def _quote(text: Any, prefix: str = "> ") -> str:
    lines = clean(text).splitlines() or [""]
    return "\n".join(prefix + ln if ln.strip() else prefix.rstrip() for ln in lines)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md(text: Any) -> str:
    """Inline Markdown-safe: markup characters escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(clean(text).split()))


_MD_BLOCK_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_quote(text: Any) -> str:
    """A Markdown blockquote of the text, line by line, with markup characters escaped."""
    lines = clean(text).splitlines() or [""]
    out = []
    for ln in lines:
        ln = _MD_BLOCK_SPECIAL.sub(r"\\\1", ln)
        ln = re.sub(r"^(\s*)([#=+-])", r"\1\\\2", ln)
        out.append("> " + ln if ln.strip() else ">")
    return "\n".join(out)


def _fence(text: Any) -> str:
    """A fenced code block holding the text verbatim (copy-paste ready, never interpreted)."""
    body = clean(text)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{body}\n{ticks}"


def _long_date(value: Any, lang: str = "fr") -> str:
    if value is None or value == "":
        return "-"
    d = value if isinstance(value, date) and not isinstance(value, datetime) else to_utc(value)
    months = _MONTHS_FR if lang == "fr" else _MONTHS_EN
    if lang == "fr":
        return f"{d.day} {months[d.month - 1]} {d.year}"
    return f"{d.day} {months[d.month - 1]} {d.year}"


def _utc(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return to_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def template_env(ws=None) -> SandboxedEnvironment:
    paths = []
    custom = _ws_file(ws, "drafting.templates", "templates") if ws is not None else None
    if custom is not None:
        paths.append(str(custom))
    paths.append(str(_shipped_templates()))
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        autoescape=lambda name: bool(name) and ".html" in name,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(quote=_quote, md=_md, md_quote=_md_quote, fence=_fence, long_date=_long_date, utc=_utc, clean=clean)
    return env


def render(env: SandboxedEnvironment, name: str, ctx: dict) -> str:
    try:
        return env.get_template(name).render(**ctx)
    except jinja2.TemplateNotFound as exc:
        raise NotFoundError(f"template {name} not found (looked in {', '.join(env.loader.searchpath)})") from exc
    except jinja2.TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}" if getattr(exc, "lineno", None) else name
        raise InputError(f"template {where}: {exc.message or exc}") from exc


def _module_var(env: SandboxedEnvironment, name: str, ctx: dict, var: str) -> str:
    try:
        mod = env.get_template(name).make_module(ctx)
    except jinja2.TemplateError as exc:
        raise InputError(f"template {name}: {exc}") from exc
    return " ".join(str(getattr(mod, var, "")).split())


# ------------------------------------------------------- context building
def _fmt_price(price: float | None, currency: str | None, lang: str) -> str | None:
    if price is None:
        return None
    txt = f"{price:,.0f}" if float(price).is_integer() else f"{price:,.2f}"
    if lang == "fr":
        txt = txt.replace(",", "\u202f").replace(".", ",")
    return f"{txt} {currency or ''}".strip()


class Pseudonymiser:
    """Stable pseudonyms ("Tiers A") for third parties (buyers, victims, people who replied).

    Matching is the evidence bundles' (:class:`storage.redact.Redactor`): phones however written, handles
    with or without ``@``, e-mails, names as whole words and each word of a name alone ("Karim" for
    "Karim Benali"). The sellers' own identifiers are protected: a buyer quoting the seller's phone does not
    turn the seller's phone into the buyer's pseudonym.
    """

    def __init__(self, lang: str = "fr"):
        from .redact import Redactor

        self.lang = lang
        self.map: dict[str, str] = {}
        self.roles: dict[str, str] = {}
        self.red = Redactor()
        self.labels: dict[tuple[str, str], str] = {}

    def protect(self, value: Any) -> None:
        if value is not None and str(value).strip():
            self.red.protect(str(value).strip())

    def add(self, value: str | None, role: str, kind: str = "name", register: bool = True) -> str | None:
        if not value or not str(value).strip():
            return None
        key = str(value).strip()
        if key not in self.map:
            n = len(set(self.map.values()))
            letter = chr(ord("A") + n % 26) + (str(n // 26) if n >= 26 else "")
            self.map[key] = ("Tiers " if self.lang == "fr" else "Third party ") + letter
            self.roles[self.map[key]] = role
        if register:
            self._register(kind, key, self.map[key])
        return self.map[key]

    def alias(self, value: str | None, same_as: str, kind: str = "name") -> None:
        if value and str(value).strip() and same_as in self.map:
            self._register(kind, str(value).strip(), self.map[same_as])

    def _register(self, kind: str, value: str, label: str) -> None:
        from .redact import normalise

        if kind in ("phone", "whatsapp"):
            kind = "phone"
        elif kind in ("wallet", "iban"):
            kind = "account"
        elif kind not in ("name", "email", "url"):
            kind = "handle"
        if kind == "handle":
            value = value.lstrip("@")
        self.red.add(kind, value)
        norm = normalise(kind, value)
        if (kind, norm) in self.red.identifiers:
            self.labels.setdefault((kind, norm), label)

    def apply(self, text: str | None) -> str:
        from .redact import normalise

        out = text or ""
        if not out or not self.red:
            return out
        spans = self.red._spans(out)
        if not spans:
            return out
        generic = "Tiers" if self.lang == "fr" else "Third party"
        parts, last = [], 0
        for s0, e0, kind, raw in spans:
            parts += [out[last:s0], self.labels.get((kind, normalise(kind, raw)), generic)]
            last = e0
        parts.append(out[last:])
        return "".join(parts)

    def listing(self) -> list[dict]:
        labels = ROLE_LABELS.get(self.lang, {})
        return [{"pseudonym": p, "role": labels.get(r, r)} for p, r in sorted(self.roles.items())]


def _third_party(post: dict) -> bool:
    return (post.get("author_role") or "").strip().lower() not in SELLER_ROLES


def _related_third_party_posts(ws, posts: list[dict]) -> list[dict]:
    """Third parties' posts around the given ones: same seller, or same channel/chat."""
    sellers = sorted({p["seller_id"] for p in posts if p.get("seller_id") is not None})
    sources = sorted({(p["platform"], p["source"]) for p in posts if p.get("source")})
    out: dict[int, dict] = {p["id"]: p for p in posts}
    for sid in sellers:
        for r in rows(ws.db, "select * from posts where seller_id = ? and author_role is not null "
                             "and author_role != ''", [sid]):
            out.setdefault(r["id"], r)
    for platform, source in sources:
        for r in rows(ws.db, "select * from posts where platform = ? and source = ? and author_role is not null "
                             "and author_role != '' limit 5000", [platform, source]):
            out.setdefault(r["id"], r)
    return sorted(out.values(), key=lambda r: r["id"])


def _seed_pseudonyms(ws, posts: list[dict], pz: Pseudonymiser) -> None:
    related = _related_third_party_posts(ws, posts)
    # the sellers' own identifiers first: never pseudonymised
    seller_posts = [p for p in related if not _third_party(p)]
    for p in seller_posts:
        for v in (p.get("author"), p.get("author_handle"), p.get("author_url")):
            pz.protect(v)
        for e in rows(ws.db, "select kind, value, raw from entities where post_id = ?", [p["id"]]):
            if e["kind"] in IDENTIFYING_KINDS:
                pz.protect(e["value"])
                pz.protect(e["raw"])
    for sid in sorted({p["seller_id"] for p in related if p.get("seller_id") is not None}):
        for r in rows(ws.db, "select label, accounts, identifiers from sellers where id = ?", [sid]):
            pz.protect(r["label"])
            for col in ("accounts", "identifiers"):
                try:
                    values = json.loads(r[col] or "[]")
                except ValueError:
                    values = []
                for x in values if isinstance(values, list) else []:
                    if isinstance(x, dict):
                        for k in ("value", "handle", "name", "url", "raw"):
                            pz.protect(x.get(k))
                    elif isinstance(x, str):
                        pz.protect(x.split(":", 1)[1] if ":" in x and not x.startswith("http") else x)
    for p in related:
        if not _third_party(p):
            continue
        name = p.get("author") or p.get("author_handle") or f"post {p['id']}"
        kind = "name" if p.get("author") else "handle"
        pseud = pz.add(name, p.get("author_role") or "third_party", kind=kind,
                       register=bool(p.get("author") or p.get("author_handle")))
        if p.get("author_handle"):
            pz.alias(p["author_handle"], name, "handle")
        if p.get("author_url"):
            pz.alias(p["author_url"], name, "url")
        for e in rows(ws.db, "select kind, value, raw from entities where post_id = ?", [p["id"]]):
            if e["kind"] in IDENTIFYING_KINDS:
                pz.alias(e["value"], name, e["kind"])
                pz.alias(e["raw"] or "", name, e["kind"])
        assert pseud


def _load_posts(ws, post_ids: list[int]) -> list[dict]:
    out = []
    for pid in post_ids:
        r = rows(ws.db, "select * from posts where id = ?", [pid])
        if not r:
            raise NotFoundError(f"no post with id {pid}")
        out.append(r[0])
    return out


def _evidence(ws, post_id: int, bundle: dict | None) -> list[dict]:
    caps = []
    members = (bundle or {}).get("members") or set()
    paths = (bundle or {}).get("paths") or {}
    for c in captures_for_post(ws, post_id):
        arts = []
        for a in c["artifacts"]:
            path = None
            if bundle:
                path = paths.get(a["sha256"])
                if path is None and f"evidence/{a['sha256']}" in members:
                    path = f"evidence/{a['sha256']}"
            arts.append({"role": a["role"], "sha256": a["sha256"], "mime": a["mime"], "bundle_path": path,
                         "in_bundle": path is not None, "redacted_copy": bool(path and path.startswith("redacted/"))})
        caps.append({"id": c["id"], "at": c["fetched_at"], "kind": c["kind"], "url": c["url"] or c["final_url"],
                     "http_status": c["http_status"], "outcome": c["outcome"], "tool": c["tool"],
                     "artifacts": arts})
    return caps


def _item(ws, post: dict, n: int, grounds: dict, route: dict | None, lang: str, pz: Pseudonymiser,
          bundle: dict | None, max_quote: int) -> dict:
    text = pz.apply(clean(post["text"]))
    truncated = len(text) > max_quote
    if truncated:
        text = text[:max_quote].rstrip() + " […]"
    third = _third_party(post)
    author = pz.apply(clean(post["author"])) if post["author"] else None
    handle = pz.apply(clean(post["author_handle"])) if post["author_handle"] else None
    return {
        "n": n,
        "post_id": post["id"],
        "url": clean(post["url"]),
        "external_id": clean(post["external_id"]),
        "platform": post["platform"],
        "channel": clean(post["source"]),
        "author": author,
        "handle": handle,
        "third_party": third,
        "title": pz.apply(clean(post["title"])),
        "text": text,
        "text_truncated": truncated,
        "price": _fmt_price(post["price"], post["currency"], lang),
        "posted_at": post["posted_at"],
        "first_seen_at": post["first_seen_at"],
        "last_seen_at": post["last_seen_at"],
        "status": post["status"],
        "category": post["category"],
        "subtype": post["subtype"],
        "label": label_for(grounds, post["category"], post["subtype"], lang),
        "grounds": grounds_for(grounds, post["category"], post["subtype"]),
        "rule": (route or {}).get(f"rule_{lang}") or (route or {}).get("rule_en") or "",
        "captures": _evidence(ws, post["id"], bundle),
        "seller_id": post["seller_id"],
    }


def _grounds_text(gs: list[dict], lang: str) -> str:
    out = []
    for g in gs:
        title = g.get(f"title_{lang}") or g["title_fr"]
        out.append(f"{g['code']}, art. {g['article']} ({title})")
    return "; ".join(out)


def _union_grounds(items: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for it in items:
        for g in it["grounds"]:
            seen.setdefault(g["key"], g)
    return list(seen.values())


# ----------------------------------------------------------------- bundles
def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _bundle_members(path: Path) -> tuple[set[str], set[int] | None, dict[str, str]]:
    """Member names of a bundle ZIP, the post ids its posts.jsonl lists (None when it has none), and where
    each artifact (by original sha256) sits in it: ``evidence/<sha>``, or ``redacted/<sha>`` when only a
    redacted copy is included."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            ids: set[int] | None = None
            paths: dict[str, str] = {}
            if "posts.jsonl" in names:
                ids = set()
                with zf.open("posts.jsonl") as fh:
                    for line in io.TextIOWrapper(fh, encoding="utf-8-sig"):
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue
                        if not isinstance(rec, dict):
                            continue
                        v = rec.get("id", rec.get("post_id"))
                        if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
                            ids.add(int(v))
                        for c in rec.get("captures") or []:
                            for a in (c.get("artifacts") or []) if isinstance(c, dict) else []:
                                if not isinstance(a, dict) or not isinstance(a.get("sha256"), str):
                                    continue
                                member = a.get("bundle_path") or a.get("redacted_path")
                                if isinstance(member, str) and member in names:
                                    paths[a["sha256"]] = member
            return names, ids, paths
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path} is not a ZIP evidence bundle ({exc})") from exc


def _bundle_info(path: Path, how: str, post_ids: list[int], built_at: str | None = None) -> dict:
    names, ids, paths = _bundle_members(path)
    missing = sorted(set(post_ids) - ids) if ids is not None else []
    return {"name": path.name, "path": str(path), "sha256": _hash_file(path), "how": how, "members": names,
            "paths": paths, "post_ids": sorted(ids) if ids is not None else None, "missing_posts": missing,
            "at": built_at}


def _existing_bundle(ws, post_ids: list[int]) -> dict | None:
    """The latest bundle export recorded in the custody log that covers every post and still matches its hash."""
    want = set(post_ids)
    entries = list(custody.iter_entries(ws.db, "where action = 'export'"))[-MAX_BUNDLE_SCAN:]
    for e in reversed(entries):
        d = e["details"] if isinstance(e["details"], dict) else {}
        path = d.get("path") or d.get("file") or d.get("output")
        sha = d.get("sha256") or d.get("bundle_sha256")
        covered = d.get("post_ids") or d.get("posts")
        if not path or not sha or not isinstance(covered, list) or not str(path).endswith(".zip"):
            continue
        try:
            if not want <= {int(x) for x in covered}:
                continue
        except (TypeError, ValueError):
            continue
        p = Path(path)
        p = p if p.is_absolute() else ws.root / p
        if p.is_file() and _hash_file(p) == sha:
            return _bundle_info(p, "existing", post_ids, e["at"])
    return None


def _build_bundle(ws, post_ids: list[int], ref: str) -> dict | None:
    """Build a bundle with the bundles module (storage.bundle) when it is installed."""
    try:
        from . import bundle as bundle_mod  # noqa: PLC0415 - optional, written in parallel
    except ImportError:
        return None
    build = getattr(bundle_mod, "build_bundle", None)
    if build is None:
        return None
    out = ws.root / (ws.config.get("drafting.output_dir") or "drafts") / "bundles" / f"{ref}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = build(ws, post_ids=post_ids, output=out)
    path = Path(getattr(result, "path", None) or (result.get("path") if isinstance(result, dict) else None) or out)
    return _bundle_info(path, "built", post_ids, iso(utcnow()))


def resolve_bundle(ws, post_ids: list[int], bundle: Path | str | None = None, build: bool = True,
                   ref: str = "", lookup: bool = True) -> tuple[dict | None, list[str]]:
    """Which bundle the draft cites: the one given, an existing export covering the items, or a new one.

    ``build=False``: never build one; ``lookup=False`` (``--no-bundle``): cite none at all."""
    warnings: list[str] = []
    info = None
    if bundle and not lookup:
        raise InputError("give --bundle FILE.zip or --no-bundle, not both")
    if not lookup:
        pass
    elif bundle:
        p = Path(bundle).expanduser()
        if not p.is_file():
            raise InputError(f"bundle {p} does not exist")
        info = _bundle_info(p.resolve(), "given", post_ids)
    else:
        info = _existing_bundle(ws, post_ids)
        if info is None and build:
            info = _build_bundle(ws, post_ids, ref)
    if info is None:
        warnings.append("no evidence bundle cited: items reference evidence-store hashes only; export one with "
                        "`veille export bundle --post …` and re-draft with --bundle FILE.zip")
    elif info["missing_posts"]:
        warnings.append(f"bundle {info['name']} does not contain post(s) "
                        f"{', '.join(map(str, info['missing_posts']))}")
    return info, warnings


def _public_bundle(info: dict | None) -> dict | None:
    if info is None:
        return None
    return {k: info[k] for k in ("name", "sha256", "how", "at")}


# ------------------------------------------------------------------ notice
def _notifier(ws) -> dict:
    cfg = ws.config
    return {"organisation": clean(cfg.require("notifier.organisation")), "email": clean(cfg.require("notifier.email")),
            "address": clean(cfg.get("notifier.address") or ""), "phone": clean(cfg.get("notifier.phone") or "")}


def _select_notice_posts(ws, route: dict, post_ids, seller_id) -> list[dict]:
    if bool(post_ids) == (seller_id is not None):
        raise InputError("give either --post ID… or --seller ID")
    platforms = {p.lower() for p in route["platforms"]}
    if seller_id is not None:
        cases.get_seller(ws, seller_id)
        posts = [p for p in _load_posts(ws, cases.seller_post_ids(ws, seller_id))
                 if p["platform"].lower() in platforms and not _third_party(p)
                 and (p["category"] or "") != "none" and p["status"] == "live"]
        if not posts:
            raise InputError(f"seller {seller_id} has no live offer on {route['name']} "
                             f"(platforms {', '.join(sorted(platforms))})")
        return posts
    posts = _load_posts(ws, sorted({int(x) for x in post_ids}))
    for p in posts:
        if p["platform"].lower() not in platforms:
            raise InputError(f"post {p['id']} is on {p['platform']}, not on {route['name']}")
    return posts


def notice_context(ws, platform: str, post_ids=None, seller_id: int | None = None, lang: str = "fr",
                   bundle: dict | None = None, at: datetime | None = None, ref: str = "",
                   _posts: list[dict] | None = None) -> dict:
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}: use fr or en")
    notifier = _notifier(ws)
    routes = load_routes(ws)
    route = find_route(routes, platform)
    grounds = load_grounds(ws)
    posts = _posts if _posts is not None else _select_notice_posts(ws, route, post_ids, seller_id)
    pz = Pseudonymiser(lang)
    _seed_pseudonyms(ws, posts, pz)
    max_quote = int(ws.config.get("drafting.max_quote_chars", 1500) or 1500)
    items = [_item(ws, p, i, grounds, route, lang, pz, bundle, max_quote) for i, p in enumerate(posts, 1)]
    when = at or utcnow()
    used = _union_grounds(items)
    ctx = {
        "lang": lang, "ref": ref, "date": iso(when), "notifier": notifier,
        "route": {k: v for k, v in route.items() if k != "fields"},
        "items": items, "grounds": used, "bundle": _public_bundle(bundle),
        "workspace_name": clean(ws.config.get("workspace.name") or ""),
        "grounds_source": grounds["source"], "routes_source": routes["source"],
        "third_parties": pz.listing(),
        "seller_id": seller_id,
    }
    env = template_env(ws)
    ctx["statement"] = render(env, f"statement_{lang}.txt.j2", ctx).strip()
    ctx["explanation"] = render(env, f"explanation_{lang}.txt.j2", ctx).strip()
    values = {
        "notifier.organisation": notifier["organisation"], "notifier.email": notifier["email"],
        "notifier.address": notifier["address"], "notifier.phone": notifier["phone"], "reference": ref,
        "date": iso(when), "country": "France" if lang == "en" else "France",
        "content_type": "; ".join(dict.fromkeys(it["label"] for it in items)),
        "items.urls": "\n".join(it["url"] or f"{it['channel']} / {it['external_id']}" for it in items),
        "items.count": str(len(items)), "explanation": ctx["explanation"],
        "legal_grounds": _grounds_text(used, lang) or ("(aucun texte pénal retenu : règles de la plateforme)"
                                                       if lang == "fr" else
                                                       "(no criminal provision cited: platform rules)"),
        "platform_rule": items[0]["rule"] if items else "", "statement": ctx["statement"],
        "signature": f"{notifier['organisation']}, {_long_date(when, lang)}",
    }
    ctx["form_fields"] = [{"label": f["label"], "value": values[f["from"]], "note": f.get("note") or "",
                           "from": f["from"]} for f in route.get("fields", [])]
    return ctx


def _uncaptured(items: list[dict]) -> list[str]:
    bare = [str(it["post_id"]) for it in items if not any(c["artifacts"] for c in it["captures"])]
    if not bare:
        return []
    return [f"post(s) {', '.join(bare)} have no stored capture: the draft cites no evidence file for them"]


def _write_atomic(path: Path, data: bytes) -> None:
    if path.is_dir():
        raise InputError(f"{path} is a folder: give a file name with -o")
    tmp = path.with_name(f".{path.name}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.exists():
            tmp.unlink()
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def render_notice(ws, ctx: dict, fmt: str, to: str | None = None) -> bytes:
    if fmt not in NOTICE_FORMATS:
        raise InputError(f"unknown notice format {fmt!r}: use {', '.join(NOTICE_FORMATS)}")
    env = template_env(ws)
    lang = ctx["lang"]
    ctx = {**ctx, "form_layout": fmt in ("md", "txt")}  # an e-mail needs no web-form section
    if fmt in ("md", "txt"):
        return render(env, f"notice_{lang}.{fmt}.j2", ctx).encode("utf-8")
    name = f"notice_{lang}.eml.j2"
    body = render(env, name, ctx)
    subject = _module_var(env, name, ctx, "subject") or f"DSA notice {ctx['ref']}"
    msg = EmailMessage(policy=email.policy.SMTP)
    org, addr = ctx["notifier"]["organisation"], ctx["notifier"]["email"]
    if "@" not in addr or any(c in addr for c in "\r\n<>, "):
        raise ConfigError(f"setting 'notifier.email' is not a valid address: {addr!r}")
    msg["From"] = email.utils.formataddr((org, addr))
    rcpt = to or ctx["route"].get("email") or ""
    if not rcpt:
        raise InputError(f"{ctx['route']['name']} has no notice e-mail address in {ctx['routes_source']}: "
                         f"give --to ADDRESS, or draft --format md/txt for its web form ({ctx['route'].get('web_form')})")
    if "@" not in rcpt or any(c in rcpt for c in "\r\n<>, "):
        raise InputError(f"bad recipient address {rcpt!r}")
    msg["To"] = rcpt
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(to_utc(ctx["date"]))
    msg["Message-ID"] = f"<{ctx['ref'].lower()}@{addr.split('@', 1)[1]}>"
    msg["X-Veille-Reference"] = ctx["ref"]
    msg.set_content(body, charset="utf-8")
    return msg.as_bytes()


def _output_path(ws, output: Path | str | None, kind: str, ref: str, fmt: str) -> Path:
    if output:
        return Path(output).expanduser().resolve()
    folder = ws.config.get("drafting.output_dir") or "drafts"
    return ws.root / folder / f"{kind}s" / f"{ref}.{fmt}"


def draft_notice(ws, platform: str, post_ids=None, seller_id: int | None = None, lang: str = "fr",
                 fmt: str = "md", output: Path | str | None = None, bundle: Path | str | None = None,
                 build_bundle: bool = True, to: str | None = None, case: str | None = None,
                 at: datetime | None = None, ref: str | None = None, use_bundle: bool = True) -> DraftResult:
    """Draft a DSA Art. 16 notice to ``platform`` for posts or a seller; record it as drafted.

    ``build_bundle=False`` cites an existing bundle but never builds one; ``use_bundle=False`` cites none."""
    if fmt not in NOTICE_FORMATS:
        raise InputError(f"unknown notice format {fmt!r}: use {', '.join(NOTICE_FORMATS)}")
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}: use fr or en")
    _notifier(ws)  # fail early on missing settings
    case_row = cases.get_case(ws, case) if case else None
    route = find_route(load_routes(ws), platform)
    posts = _select_notice_posts(ws, route, post_ids, seller_id)
    ids = [p["id"] for p in posts]
    when = at or utcnow()
    binfo, warnings = resolve_bundle(ws, ids, bundle, build_bundle, ref or cases.next_ref(ws, when),
                                     lookup=use_bundle)
    with transaction(ws.db):
        the_ref = ref or cases.next_ref(ws, when)
        ctx = notice_context(ws, platform, lang=lang, bundle=binfo, at=when, ref=the_ref, seller_id=seller_id,
                             _posts=posts)
        warnings += stale_grounds(ws, ctx["grounds"]) + _uncaptured(ctx["items"])
        if not route["last_checked"]:
            warnings.append(f"route '{route['key']}' ({ctx['routes_source']}) has never been checked on "
                            f"{route['name']}'s site (last_checked is empty): check the address and fields, "
                            "then set last_checked")
        if not ctx["grounds"]:
            warnings.append("no legal ground in the grounds file applies to these offers: the notice relies on "
                            "the platform's own rule")
        data = render_notice(ws, ctx, fmt, to)
        path = _output_path(ws, output, "notice", the_ref, fmt)
        _write_atomic(path, data)
        sha = hashlib.sha256(data).hexdigest()
        cases.record_notice(ws, ref=the_ref, kind="notice", platform=route["key"], lang=lang, fmt=fmt,
                            path=str(path), sha256=sha, post_ids=ids,
                            case_id=case_row["id"] if case_row else None, at=when,
                            details={"bundle": _public_bundle(binfo), "seller_id": seller_id,
                                     "grounds": [g["key"] for g in ctx["grounds"]], "to": to or route.get("email"),
                                     "routes_source": ctx["routes_source"], "grounds_source": ctx["grounds_source"]})
    return DraftResult(the_ref, "notice", fmt, path, sha, ids, _public_bundle(binfo), warnings)


# --------------------------------------------------------------- complaint
def _reporter(ws, to: str) -> dict:
    cfg = ws.config
    name = clean(cfg.require("complaint.reporter_name"))
    capacity = (cfg.get("complaint.reporter_capacity") or "").strip()
    if capacity not in CAPACITIES:
        raise ConfigError(f"setting 'complaint.reporter_capacity' must be one of: {', '.join(CAPACITIES)} "
                          f"(is {capacity!r})")
    tribunal = clean(cfg.require("complaint.tribunal")) if to == "procureur" else clean(
        cfg.get("complaint.tribunal") or "")
    return {"name": name, "capacity": capacity, "capacity_fr": CAPACITIES[capacity], "tribunal": tribunal,
            "organisation": clean(cfg.get("notifier.organisation") or ""),
            "email": clean(cfg.get("notifier.email") or ""), "address": clean(cfg.get("notifier.address") or ""),
            "phone": clean(cfg.get("notifier.phone") or "")}


def _identifiers(ws, posts: list[dict], seller: dict) -> list[dict]:
    seen: dict[tuple[str, str], dict] = {}
    for p in posts:
        for e in rows(ws.db, "select kind, value from entities where post_id = ? order by start", [p["id"]]):
            if e["kind"] in IDENTIFYING_KINDS:
                seen.setdefault((e["kind"], clean(e["value"])), {"kind": e["kind"], "value": clean(e["value"])})
    for v in seller.get("identifiers") or []:
        if isinstance(v, str) and ":" in v:  # clustering's "kind:value" summaries
            kind, _, value = v.partition(":")
            v = {"kind": kind, "value": value}
        if isinstance(v, dict) and v.get("kind") and v.get("value") and v["kind"] in IDENTIFYING_KINDS:
            seen.setdefault((str(v["kind"]), clean(v["value"])), {"kind": str(v["kind"]), "value": clean(v["value"])})
    for d in seen.values():
        d["label"] = KIND_LABELS["fr"].get(d["kind"], d["kind"])
    return sorted(seen.values(), key=lambda d: (d["kind"], d["value"]))


def complaint_context(ws, seller_id: int, to: str = "procureur", bundle: dict | None = None,
                      at: datetime | None = None, ref: str = "") -> dict:
    if to not in COMPLAINT_TO:
        raise InputError(f"unknown addressee {to!r}: use procureur or pharos")
    reporter = _reporter(ws, to)
    cases.get_seller(ws, seller_id)
    seller_id = cases.resolve_seller_id(ws, seller_id)  # a merged seller lives on in the one it joined
    seller = cases.get_seller(ws, seller_id)
    all_posts = _load_posts(ws, cases.seller_post_ids(ws, seller_id))
    if not all_posts:
        raise InputError(f"seller {seller_id} has no stored post")
    grounds = load_grounds(ws)
    pz = Pseudonymiser("fr")
    _seed_pseudonyms(ws, all_posts, pz)
    offers = [p for p in all_posts if not _third_party(p) and (p["category"] or "") != "none"]
    if not offers:
        raise InputError(f"seller {seller_id} has no post classified as an offer")

    def when_key(p):
        return to_utc(p["posted_at"] or p["first_seen_at"])

    offers.sort(key=lambda p: (when_key(p), p["id"]))
    max_quote = int(ws.config.get("drafting.max_quote_chars", 1500) or 1500)
    items = [_item(ws, p, i, grounds, None, "fr", pz, bundle, max_quote) for i, p in enumerate(offers, 1)]
    accounts: dict[tuple[str, str], dict] = {}
    for p in offers:
        handle = clean(p["author_handle"] or p["author"] or p["source"] or "")
        accounts.setdefault((p["platform"], handle), {"platform": p["platform"], "handle": handle,
                                                      "channel": clean(p["source"]),
                                                      "url": clean(p["author_url"] or ""), "offers": 0})
        accounts[(p["platform"], handle)]["offers"] += 1
    prices: dict[str, list[float]] = {}
    for p in offers:
        if p["price"] is not None:
            prices.setdefault(p["currency"] or "?", []).append(float(p["price"]))
    price_ranges = [{"currency": c, "n": len(v), "min": _fmt_price(min(v), c, "fr"), "max": _fmt_price(max(v), c, "fr")}
                    for c, v in sorted(prices.items())]
    exhibits = []
    for it in items:
        for c in it["captures"]:
            for a in c["artifacts"]:
                exhibits.append({"n": len(exhibits) + 1, "item": it["n"], "post_id": it["post_id"], "url": it["url"],
                                 "captured_at": c["at"], "role": a["role"], "sha256": a["sha256"],
                                 "bundle_path": a["bundle_path"]})
    idents = [i for i in _identifiers(ws, offers, seller) if pz.apply(i["value"]) == i["value"]]
    seen_times = [to_utc(p["posted_at"] or p["first_seen_at"]) for p in offers]
    seen_times += [to_utc(p["last_seen_at"]) for p in offers]
    ctx = {
        "ref": ref, "date": iso(at or utcnow()), "to": to, "reporter": reporter,
        "workspace_name": clean(ws.config.get("workspace.name") or ""),
        "seller": {"id": seller_id, "label": clean(seller.get("label") or ""), "accounts": list(accounts.values()),
                   "identifiers": idents, "contre_x": True},
        "facts": {"first_seen": iso(min(seen_times)), "last_seen": iso(max(seen_times)),
                  "platforms": sorted({p["platform"] for p in offers}), "n_offers": len(offers),
                  "prices": price_ranges, "n_third_party_messages": sum(1 for p in all_posts if _third_party(p))},
        "items": items, "grounds": _union_grounds(items), "exhibits": exhibits, "bundle": _public_bundle(bundle),
        "victims": pz.listing(), "grounds_source": grounds["source"],
    }
    return ctx


def render_complaint(ws, ctx: dict, fmt: str) -> bytes:
    if fmt not in COMPLAINT_FORMATS:
        raise InputError(f"unknown complaint format {fmt!r}: use {', '.join(COMPLAINT_FORMATS)}")
    env = template_env(ws)
    if fmt == "md":
        return render(env, "complaint_fr.md.j2", ctx).encode("utf-8")
    html = render(env, "complaint_fr.html.j2", ctx)
    if fmt == "pdf":
        return html_to_pdf(html)
    return html_to_docx(html)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - heavy import, only for PDF

    def no_fetch(url, *args, **kwargs):
        raise ValueError(f"external resource refused: {url[:80]}")

    return HTML(string=html, base_url=None, url_fetcher=no_fetch).write_pdf()


def html_to_docx(html: str) -> bytes:
    """A Word document from the (autoescaped) complaint HTML: headings, paragraphs, lists, tables."""
    import docx  # noqa: PLC0415
    import lxml.html  # noqa: PLC0415
    from docx.shared import Pt  # noqa: PLC0415

    root = lxml.html.document_fromstring(html)
    body = root.find("body")
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

    def add_runs(par, el, bold=False, italic=False, mono=False):
        if el.text:
            r = par.add_run(clean(el.text))
            r.bold, r.italic = bold or None, italic or None
            if mono:
                r.font.name = "Courier New"
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "br":
                par.add_run().add_break()
            else:
                add_runs(par, child, bold or tag in ("strong", "b", "th"), italic or tag in ("em", "i"),
                         mono or tag in ("code", "tt"))
            if child.tail:
                r = par.add_run(clean(child.tail))
                r.bold, r.italic = bold or None, italic or None

    style_ids: dict[str, str] = {}

    def styled(name: str):
        """A paragraph in a named style. python-docx looks a style name up by scanning every style on each
        call (seconds for a thousand exhibits): the style id is resolved once and set directly."""
        par = document.add_paragraph()
        if name not in style_ids:
            style_ids[name] = document.styles[name].style_id
        par._p.get_or_add_pPr().style = style_ids[name]
        return par

    def walk(el):
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in ("h1", "h2", "h3", "h4"):
                level = {"h1": 0, "h2": 1, "h3": 2}.get(tag, 3)
                styled("Title" if level == 0 else f"Heading {level}").add_run(clean(child.text_content()).strip())
            elif tag == "p":
                add_runs(document.add_paragraph(), child)
            elif tag == "blockquote":
                p = styled("Quote")
                add_runs(p, child)
            elif tag == "pre":
                p = document.add_paragraph()
                add_runs(p, child, mono=True)
            elif tag in ("ul", "ol"):
                for li in child.findall("li"):
                    add_runs(styled("List Bullet" if tag == "ul" else "List Number"), li)
            elif tag == "table":
                trs = child.findall(".//tr")
                ncols = max((len(tr.findall("th")) + len(tr.findall("td")) for tr in trs), default=0)
                if not trs or not ncols:
                    continue
                table = document.add_table(rows=0, cols=ncols)
                table.style = "Table Grid"
                for tr in trs:
                    cells = table.add_row().cells
                    for i, cell_el in enumerate([c for c in tr if isinstance(c.tag, str) and c.tag in ("th", "td")]):
                        par = cells[i].paragraphs[0]
                        add_runs(par, cell_el, bold=cell_el.tag == "th")
            elif tag in ("div", "section", "header", "footer", "article", "main"):
                walk(child)
            elif tag in ("style", "script", "title", "head"):
                continue
            elif tag:
                add_runs(document.add_paragraph(), child)

    walk(body)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def draft_complaint(ws, seller_id: int, to: str = "procureur", fmt: str = "md", output: Path | str | None = None,
                    bundle: Path | str | None = None, build_bundle: bool = True, case: str | None = None,
                    at: datetime | None = None, ref: str | None = None, use_bundle: bool = True) -> DraftResult:
    """Draft a French complaint (procureur) or PHAROS-style report about a seller; record it as drafted."""
    if fmt not in COMPLAINT_FORMATS:
        raise InputError(f"unknown complaint format {fmt!r}: use {', '.join(COMPLAINT_FORMATS)}")
    if to not in COMPLAINT_TO:
        raise InputError(f"unknown addressee {to!r}: use procureur or pharos")
    _reporter(ws, to)  # fail early on missing settings
    case_row = cases.get_case(ws, case) if case else None
    cases.get_seller(ws, seller_id)
    ids = [p["id"] for p in _load_posts(ws, cases.seller_post_ids(ws, seller_id))]
    when = at or utcnow()
    binfo, warnings = resolve_bundle(ws, ids, bundle, build_bundle, ref or cases.next_ref(ws, when),
                                     lookup=use_bundle)
    with transaction(ws.db):
        the_ref = ref or cases.next_ref(ws, when)
        ctx = complaint_context(ws, seller_id, to, binfo, when, the_ref)
        warnings += stale_grounds(ws, ctx["grounds"]) + _uncaptured(ctx["items"])
        data = render_complaint(ws, ctx, fmt)
        path = _output_path(ws, output, "complaint", the_ref, fmt)
        _write_atomic(path, data)
        sha = hashlib.sha256(data).hexdigest()
        cases.record_notice(ws, ref=the_ref, kind="complaint", platform=None, lang="fr", fmt=fmt, path=str(path),
                            sha256=sha, post_ids=[it["post_id"] for it in ctx["items"]],
                            case_id=case_row["id"] if case_row else None, at=when,
                            details={"bundle": _public_bundle(binfo), "seller_id": seller_id, "to": to,
                                     "grounds": [g["key"] for g in ctx["grounds"]]})
    return DraftResult(the_ref, "complaint", fmt, path, sha, [it["post_id"] for it in ctx["items"]],
                       _public_bundle(binfo), warnings)
