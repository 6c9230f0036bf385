"""The daily digest: what changed since the previous one, as HTML and Markdown.

:func:`digest_data` gathers, for the window since the previous digest (or
everything, for the first one):

- new offers, by category and subtype;
- new sellers, and sellers active on several platforms with the kinds of links
  that joined their accounts;
- sellers seen on a platform new to them;
- removed or deleted posts; relisting alerts;
- price trends per category and currency (weekly medians);
- sources that failed or were blocked.

:func:`write_digest` renders it with Jinja2 templates in a *sandboxed*
environment (scraped text is only ever data; the HTML template autoescapes,
the Markdown one escapes Markdown syntax), writes ``digests/YYYY-MM-DD.html``
and ``.md`` atomically, records the digest (``digests`` table + custody entry).
:func:`deliver` sends it by e-mail (SMTP, password from the environment
variable named by ``smtp.password_env``, never logged) and/or to a webhook.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import smtplib
import ssl
import statistics
import tempfile
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from . import custody
from .db import rows, transaction
from .errors import ConfigError
from .post import iso, to_utc, utcnow

log = logging.getLogger("veille.digest")
DIGEST_DIR = "digests"
SNIPPET = 240
MAX_ITEMS = 200  # per list; the digest says how many more there are
MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~])")
WEEKS = 8


def _j(value: str | None, default):
    try:
        return json.loads(value) if value else default
    except ValueError:
        return default


def snippet(text: str | None, n: int = SNIPPET) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def md_escape(value: Any) -> str:
    """Markdown-inert text: one line, every syntax character backslash-escaped."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(str(value if value is not None else "").split()))


def safe_url(value: Any) -> str | None:
    """Only http(s) URLs become links; anything else (javascript:, data:) is shown as text."""
    v = str(value or "").strip()
    return v if re.match(r"^https?://[^\s<>\"']+$", v) else None


# ------------------------------------------------------------------ data
MARK_TABLES = {"posts": "id", "sellers": "id", "alerts": "id", "runs": "id"}


def current_marks(ws) -> dict[str, int]:
    """The highest row id of each table a digest reads: the window is (previous marks, these marks]."""
    return {t: int(rows(ws.db, f"select coalesce(max({c}), 0) as n from {t}")[0]["n"])  # noqa: S608
            for t, c in MARK_TABLES.items()}


def previous_digest(ws) -> dict | None:
    r = rows(ws.db, "select window_end, counts from digests order by id desc limit 1")
    if not r:
        return None
    marks = _j(r[0]["counts"], {}).get("marks")
    return {"window_end": r[0]["window_end"], "marks": marks if isinstance(marks, dict) else None}


def _seller_labels(ws) -> dict[int, str]:
    return {r["id"]: (r["label"] or f"seller #{r['id']}") for r in rows(ws.db, "select id, label from sellers")}


def _link_types(ws, seller_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows(ws.db, "select l.type, count(*) as n from seller_links l join posts a on a.id = l.post_a "
                         "join posts b on b.id = l.post_b where a.seller_id = ? and b.seller_id = ? "
                         "group by l.type order by n desc", [seller_id, seller_id]):
        out[r["type"]] = r["n"]
    return out


def _shared_identifiers(ws, seller_id: int, limit: int = 6) -> list[dict]:
    """Identifiers found in posts of the seller on 2+ platforms (what links the accounts)."""
    return rows(ws.db, "select e.kind, e.value, count(distinct p.platform) as platforms, count(distinct p.id) as posts "
                       "from entities e join posts p on p.id = e.post_id where p.seller_id = ? and e.kind in "
                       "('phone','whatsapp','telegram','snapchat','instagram','tiktok','email','wallet','iban') "
                       "group by e.kind, e.value having count(distinct p.platform) >= 2 "
                       "order by platforms desc, posts desc limit ?", [seller_id, limit])


def _ids(col: str, table: str, lo: dict | None, hi: dict) -> tuple[str, list]:
    """SQL condition: row id in (previous mark, current mark]."""
    return f"{col} > ? and {col} <= ?", [int((lo or {}).get(table, 0)), int(hi[table])]


def price_trends(ws, end: str, weeks: int = WEEKS) -> list[dict]:
    """Weekly median asking price of offers per category and currency over the last ``weeks`` weeks."""
    end_dt = to_utc(end)
    start_dt = end_dt - timedelta(weeks=weeks)
    data = rows(ws.db, "select category, currency, price, coalesce(posted_at, first_seen_at) as at from posts "
                       "where category is not null and category != 'none' and price is not null and price > 0 "
                       "and currency is not null and coalesce(posted_at, first_seen_at) >= ? "
                       "and coalesce(posted_at, first_seen_at) < ?", [iso(start_dt), end])
    groups: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in data:
        at = to_utc(r["at"])
        week = int((end_dt - at).total_seconds() // (7 * 86400))  # 0 = the last 7 days
        groups.setdefault((r["category"], r["currency"]), {}).setdefault(week, []).append(float(r["price"]))
    out = []
    for (cat, cur), by_week in sorted(groups.items()):
        series = []
        for w in range(weeks - 1, -1, -1):
            vals = by_week.get(w, [])
            series.append({"weeks_ago": w, "median": statistics.median(vals) if vals else None, "n": len(vals)})
        recent = by_week.get(0, [])
        before = [p for w, v in by_week.items() if 1 <= w <= 4 for p in v]
        change = None
        if recent and before:
            m0, m1 = statistics.median(recent), statistics.median(before)
            change = round((m0 - m1) / m1 * 100, 1) if m1 else None
        all_vals = [p for v in by_week.values() for p in v]
        out.append({"category": cat, "currency": cur, "series": series, "n": len(all_vals),
                    "median": statistics.median(all_vals), "min": min(all_vals), "max": max(all_vals),
                    "last_week_median": statistics.median(recent) if recent else None,
                    "change_pct": change})
    return out


def digest_data(ws, start: str | None, end: str, report=None, lo: dict | None = None,
                hi: dict | None = None) -> dict[str, Any]:
    """Everything the digest lists since the previous digest.

    The window is defined by row ids (``lo`` exclusive, ``hi`` inclusive, from
    :func:`current_marks`), so nothing saved in the same second as a digest is
    ever counted twice or lost; ``start``/``end`` are the matching times, shown
    to the reader. ``lo`` None: from the first row.
    """
    hi = hi or current_marks(ws)
    labels = _seller_labels(ws)
    w, wp = _ids("p.id", "posts", lo, hi)
    offers = rows(ws.db, f"select p.id, p.platform, p.url, p.title, p.text, p.price, p.currency, p.author, "  # noqa: S608
                         f"p.author_handle, p.category, p.subtype, p.score, p.seller_id, p.posted_at, p.first_seen_at "
                         f"from posts p where {w} and p.category is not null and p.category != 'none' "
                         f"order by p.category, p.subtype, p.platform, p.id", wp)
    by_cat: dict[str, dict[str, Any]] = {}
    for o in offers:
        key = f"{o['category']}/{o['subtype'] or '-'}"
        g = by_cat.setdefault(key, {"category": o["category"], "subtype": o["subtype"], "posts": []})
        o["seller"] = labels.get(o["seller_id"]) if o["seller_id"] else None
        o["snippet"] = snippet(o["title"] + " — " + o["text"] if o["title"] else o["text"])
        o["href"] = safe_url(o["url"])
        g["posts"].append(o)
    groups = sorted(by_cat.values(), key=lambda g: (-len(g["posts"]), g["category"], g["subtype"] or ""))
    for g in groups:
        g["count"] = len(g["posts"])
        g["more"] = max(0, g["count"] - MAX_ITEMS)
        g["posts"] = g["posts"][:MAX_ITEMS]

    sw, sp = _ids("id", "sellers", lo, hi)
    new_sellers = rows(ws.db, f"select * from sellers where {sw} and coalesce(status, 'active') != 'merged' "  # noqa: S608
                              f"order by post_count desc, id", sp)

    # Sellers with activity in the window, their platforms, and which platforms are new to them.
    lo_post = int((lo or {}).get("posts", 0))
    active_ids = sorted({o["seller_id"] for o in offers if o["seller_id"]} | {s["id"] for s in new_sellers})
    cross, new_platform = [], []
    for sid in active_ids:
        plats = rows(ws.db, "select platform, min(id) as first_id, count(*) as n from posts "
                            "where seller_id = ? and id <= ? group by platform order by first_id", [sid, hi["posts"]])
        if not plats:
            continue
        accounts = rows(ws.db, "select platform, coalesce(author, author_handle) as name from posts "
                               "where seller_id = ? and id <= ? and coalesce(author, author_handle) is not null and "
                               "coalesce(lower(author_role), '') in ('', 'seller', 'author', 'channel', 'admin', "
                               "'owner') group by platform, name order by min(id)", [sid, hi["posts"]])
        info = {"id": sid, "label": labels.get(sid, f"seller #{sid}"),
                "accounts": [f"{a['name']} ({a['platform']})" for a in accounts][:12],
                "platforms": [p["platform"] for p in plats], "posts": sum(p["n"] for p in plats),
                "links": _link_types(ws, sid), "shared": _shared_identifiers(ws, sid)}
        if len(plats) >= 2:
            cross.append(info)
        if lo:
            earlier = [p["platform"] for p in plats if p["first_id"] <= lo_post]
            fresh = [p["platform"] for p in plats if p["first_id"] > lo_post]
            if earlier and fresh:
                new_platform.append({**info, "new_platforms": fresh, "known_platforms": earlier})
    for s in new_sellers:
        s["platforms"] = _j(s.get("platforms"), [])
        s["categories"] = _j(s.get("categories"), [])
        s["display"] = s["label"] or f"seller #{s['id']}"

    aw, ap = _ids("a.id", "alerts", lo, hi)
    removed = rows(ws.db, f"select p.id, p.platform, p.url, p.title, p.text, p.status, p.status_at, p.seller_id "  # noqa: S608
                          f"from posts p where p.status in ('removed', 'deleted') and p.id in "
                          f"(select a.post_id from alerts a where a.kind = 'removed' and {aw}) order by p.status_at",
                   ap)
    for r in removed:
        r["seller"] = labels.get(r["seller_id"]) if r["seller_id"] else None
        r["snippet"] = snippet(r["title"] or r["text"], 120)
        r["href"] = safe_url(r["url"])
    relisting = rows(ws.db, f"select a.id, a.at, a.post_id, a.seller_id, a.message, a.details from alerts a "  # noqa: S608
                            f"where a.kind = 'relisting' and {aw} order by a.at", ap)
    for a in relisting:
        a["seller"] = labels.get(a["seller_id"]) if a["seller_id"] else None
        p = rows(ws.db, "select url, platform from posts where id = ?", [a["post_id"]]) if a["post_id"] else []
        a["href"] = safe_url(p[0]["url"]) if p else None
        a["platform"] = p[0]["platform"] if p else None

    sources = []
    if report is not None:
        for s in report.steps:
            if s.status in ("failed", "blocked", "partial", "unavailable"):
                sources.append({"name": s.name, "kind": s.kind, "status": s.status,
                                "error": s.error or s.detail, "at": report.started_at})
    rw, rp = _ids("id", "runs", lo, hi)
    seen = {(s["name"], s["status"]) for s in sources}
    for r in rows(ws.db, f"select source, kind, status, error, started_at from runs "  # noqa: S608
                         f"where status in ('failed', 'blocked') and source != 'daily' and {rw} order by id", rp):
        if (r["source"], r["status"]) not in seen:
            sources.append({"name": r["source"], "kind": r["kind"], "status": r["status"], "error": r["error"],
                            "at": r["started_at"]})
            seen.add((r["source"], r["status"]))

    totals = rows(ws.db, "select count(*) as posts, sum(category is not null and category != 'none') as offers, "
                         "(select count(*) from sellers) as sellers from posts")[0]
    counts = {"new_offers": len(offers), "new_sellers": len(new_sellers), "cross_platform_sellers": len(cross),
              "new_platform_sellers": len(new_platform), "removed": len(removed), "relisting": len(relisting),
              "problem_sources": len(sources), "marks": hi}
    return {
        "workspace": ws.config.get("workspace.name", "veille workspace"), "window_start": start, "window_end": end,
        "generated_at": iso(utcnow()), "counts": counts, "offer_groups": groups, "new_sellers": new_sellers,
        "cross_platform": cross, "new_platform": new_platform, "removed": removed, "relisting": relisting,
        "price_trends": price_trends(ws, end), "sources": sources,
        "totals": {k: v or 0 for k, v in totals.items()},
    }


# ------------------------------------------------------------------ rendering
def _env() -> SandboxedEnvironment:
    loader = jinja2.FileSystemLoader(str(resources.files("storage").joinpath("templates")))
    env = SandboxedEnvironment(loader=loader, autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = md_escape
    env.filters["price"] = lambda p, c=None: "" if p is None else (f"{p:,.0f}".replace(",", " ") + (f" {c}" if c else ""))
    env.filters["day"] = lambda v: (v or "")[:10]
    env.filters["hm"] = lambda v: (str(v).replace("T", " ").replace("Z", "")[:19] + " UTC") if v else ""
    return env


def render(data: dict[str, Any]) -> tuple[str, str]:
    env = _env()
    return env.get_template("digest.html.j2").render(d=data), env.get_template("digest.md.j2").render(d=data)


def _write_atomic(path: Path, text: str) -> str:
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return hashlib.sha256(data).hexdigest()


def _free_name(folder: Path, day: str) -> str:
    name, n = day, 1
    while (folder / f"{name}.html").exists() or (folder / f"{name}.md").exists():
        n += 1
        name = f"{day}-{n}"
    return name


def write_digest(ws, report=None, now: datetime | None = None, start: str | None = "previous",
                 record: bool = True) -> dict[str, Any]:
    """Write the digest of the window since the previous one; return paths, hashes and counts."""
    end = iso(now or utcnow())
    hi = current_marks(ws)
    lo = None
    if start == "previous":
        prev = previous_digest(ws)
        start = prev["window_end"] if prev else None
        lo = prev["marks"] if prev else None
    data = digest_data(ws, start, end, report, lo=lo, hi=hi)
    html, md = render(data)
    folder = ws.path(DIGEST_DIR)
    name = _free_name(folder, end[:10])
    html_path, md_path = folder / f"{name}.html", folder / f"{name}.md"
    html_sha = _write_atomic(html_path, html)
    md_sha = _write_atomic(md_path, md)
    result = {"day": end[:10], "window_start": start, "window_end": end, "html": str(html_path), "md": str(md_path),
              "html_sha256": html_sha, "md_sha256": md_sha, "counts": data["counts"], "data": data}
    if record:
        with transaction(ws.db):
            ws.db.execute("insert into digests(day, window_start, window_end, html_path, md_path, html_sha256, "
                          "md_sha256, counts, created_at) values (?,?,?,?,?,?,?,?,?)",
                          [end[:10], start, end, str(html_path.relative_to(ws.root)),
                           str(md_path.relative_to(ws.root)), html_sha, md_sha, json.dumps(data["counts"]),
                           iso(utcnow())])
            custody.append(ws.db, "export", {"event": "digest written", "window_start": start, "window_end": end,
                                             "files": [{"path": str(html_path.relative_to(ws.root)),
                                                        "sha256": html_sha},
                                                       {"path": str(md_path.relative_to(ws.root)), "sha256": md_sha}],
                                             "counts": data["counts"]}, subject_type="digest", subject_id=name)
    return result


def list_digests(ws) -> list[dict]:
    out = rows(ws.db, "select id, day, window_start, window_end, html_path, md_path, html_sha256, counts, "
                      "created_at from digests order by id desc")
    for r in out:
        r["counts"] = _j(r["counts"], {})
    return out


# ------------------------------------------------------------------ delivery
def send_email(ws, result: dict[str, Any], smtp_factory=smtplib.SMTP) -> str:
    to = [a for a in (ws.config.get("digest.email_to") or []) if a]
    if not to:
        return "not configured"
    host = ws.config.require("smtp.host")
    sender = ws.config.get("smtp.from_address") or ws.config.get("notifier.email")
    if not sender:
        raise ConfigError("setting 'smtp.from_address' is not set (needed to e-mail the digest)")
    msg = EmailMessage()
    c = result["counts"]
    msg["Subject"] = (f"[veille] {result['day']}: {c['new_offers']} new offer(s), {c['new_sellers']} new seller(s), "
                      f"{c['removed']} removed")
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(Path(result["md"]).read_text("utf-8"))
    msg.add_alternative(Path(result["html"]).read_text("utf-8"), subtype="html")
    port = int(ws.config.get("smtp.port", 587))
    user = ws.config.get("smtp.username") or ""
    password = ws.config.secret("smtp.password_env") if user else None  # fail before connecting
    with smtp_factory(host, port, timeout=30) as smtp:
        if ws.config.get("smtp.starttls", True):
            smtp.starttls(context=ssl.create_default_context())
        if user:
            smtp.login(user, password)
        smtp.send_message(msg)
    return "sent"


def post_webhook(ws, result: dict[str, Any], opener=urllib.request.urlopen) -> str:
    url = ws.config.get("digest.webhook_url") or ""
    if not url:
        return "not configured"
    if not safe_url(url):
        raise ConfigError("setting 'digest.webhook_url' must be an http(s) URL")
    md = Path(result["md"]).read_text("utf-8")
    body = json.dumps({"text": md[:30000], "day": result["day"], "counts": result["counts"],
                       "window_start": result["window_start"], "window_end": result["window_end"]},
                      ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "veille-digest"})
    with opener(req, timeout=30) as resp:
        status = getattr(resp, "status", 200)
    if status >= 300:
        raise urllib.error.HTTPError(url, status, "webhook refused the digest", None, None)
    return "sent"


def deliver(ws, result: dict[str, Any]) -> dict[str, str]:
    """Send the digest by e-mail and webhook when configured; each channel is isolated."""
    out = {}
    for name, fn in (("email", send_email), ("webhook", post_webhook)):
        try:
            out[name] = fn(ws, result)
        except Exception as exc:  # noqa: BLE001 - a delivery failure is reported, never fatal
            # Only the exception's type and message: never the settings or the password.
            out[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            log.warning("digest %s delivery failed: %s", name, out[name])
    return out
