"""Court-ready evidence bundles (``veille export bundle``).

A bundle is one ZIP that a recipient can check without veille and without
trusting the sender (layout in ``docs/bundles.md``)::

    evidence/<sha256>      untouched stored files (raw HTML/JSON, screenshots, media)
    redacted/<sha256>      redacted working copies of text files that named third parties
    web.wacz               the web captures (WACZ: WARC + CDXJ + pages + datapackage)
    posts.jsonl posts.csv  the posts, their captures, hashes, verdicts and sellers
    sellers.json           sellers, their accounts, identifiers and link explanations
    report.html [report.pdf]  a bilingual, script-free report
    README.txt             how to verify by hand
    custody.jsonl          custody entries (hash chain) up to this export's own entry
    MANIFEST.json          path, size, sha256 of every file above + Merkle root
    SHA256SUMS             the same hashes for ``sha256sum -c`` (+ MANIFEST.json)
    signature/…            Ed25519 signature over MANIFEST.json + public key (optional)
    timestamp/…            RFC 3161 token over MANIFEST.json + TSA chain (optional)

Everything is streamed: evidence blobs are copied from the store into the
ZIP in chunks and hashed on the way; the ZIP is written to a temporary file
and renamed into place only when complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import custody
from .db import rows, transaction
from .errors import ConfigError, InputError, IntegrityError, NotFoundError
from .post import iso, utcnow
from .redact import IDENTIFYING_KINDS, Redactor, Replacement, chat_members, is_third_party, write_key

FORMAT = "veille-evidence-bundle/1"
TOOL = "veille 0.1.0"
CHUNK = 1 << 20
MAX_POSTS = 100_000
MAX_REDACT_BYTES = 50_000_000  # text blobs larger than this are withheld rather than redacted
REPORT_TEXT_CHARS = 20_000
CSV_CELL_CHARS = 32_000  # Excel's cell limit is 32,767
TEXT_ROLES = {"raw_html", "html", "json", "headers", "text", "import_record", "raw_json", "telegram_json",
              "message_json", "export_record"}
# Artifacts that are a whole source file shared by many posts (a full Telegram export, a saved mailbox):
# with redaction on they stay out unless --include-originals, since they hold unrelated conversations.
WHOLE_SOURCE_ROLES = {"import_file", "export_file", "source_file"}
IMAGE_MIMES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
CONTROL_FILES = {"MANIFEST.json", "SHA256SUMS", "signature/MANIFEST.json.sig", "signature/signing-key.pub.pem",
                 "timestamp/MANIFEST.json.tst", "timestamp/tsa-chain.pem"}
CUSTODY_FILE = "custody.jsonl"
# veille's own constant (never scraped), so it is marked safe for the template.
REPORT_CSP = ("default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
              "form-action 'none'")
_BIDI = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


# ------------------------------------------------------------------ helpers
def canonical(obj: Any) -> bytes:
    return custody.canonical_json(obj)


def merkle_root(leaves: list[bytes]) -> str:
    """RFC 6962 Merkle tree hash (SHA-256) of a list of leaf data."""

    def mth(items: list[bytes]) -> bytes:
        n = len(items)
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < n:
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()

    return mth(leaves).hex()


def manifest_leaf(entry: dict) -> bytes:
    return canonical({"path": entry["path"], "sha256": entry["sha256"], "size": entry["size"]})


def files_root(files: list[dict]) -> str:
    return merkle_root([manifest_leaf(f) for f in sorted(files, key=lambda f: f["path"])])


def safe_member(name: str) -> str:
    """Member names are built by veille only; refuse anything that could escape a folder."""
    if not _SAFE_MEMBER.match(name) or ".." in name.split("/"):
        raise IntegrityError(f"unsafe file name in bundle: {name!r}")
    return name


def display_name(name: str | None) -> str:
    """A stored media name made harmless for display (no folders, no control characters)."""
    if not name:
        return ""
    base = re.split(r"[\\/]", str(name))[-1]
    base = _CTRL.sub("", base).strip().lstrip(".") or "(unnamed)"
    return base[:200]


def visible_controls(text: str) -> str:
    """Show bidirectional-override characters as [U+202E] instead of letting them reorder text."""
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in a scraped cell (leading = + - @ tab CR LF)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = visible_controls(str(value))
    if len(text) > CSV_CELL_CHARS:
        text = text[:CSV_CELL_CHARS] + " […]"
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20"):
        text = "'" + text
    return text


def _json_col(value, default):
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


def _chunks(seq: list, n: int = 500) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


# ------------------------------------------------------------------ selection
def select_posts(ws, seller: int | None = None, posts: list[int] | None = None, query: str | None = None,
                 case: str | None = None) -> tuple[list[int], dict]:
    """The post ids a bundle covers, and a description of the selection."""
    given = [x for x in (seller is not None, bool(posts), bool(query), bool(case)) if x]
    if len(given) != 1:
        raise InputError("choose exactly one of --seller ID, --post ID…, --query FTS or --case NAME")
    if seller is not None:
        if not ws.db.execute("select 1 from sellers where id = ?", [int(seller)]).fetchone() and \
                not ws.db.execute("select 1 from posts where seller_id = ?", [int(seller)]).fetchone():
            raise NotFoundError(f"no seller with id {seller}")
        ids = [r[0] for r in ws.db.execute("select id from posts where seller_id = ? order by id", [int(seller)])]
        sel = {"seller": int(seller)}
        if not ids:
            cols = {r[1] for r in ws.db.execute("pragma table_info(sellers)")}
            if "merged_into" in cols:
                row = ws.db.execute("select merged_into from sellers where id = ?", [int(seller)]).fetchone()
                if row and row[0]:
                    raise NotFoundError(f"seller {seller} was merged into seller {row[0]}: export --seller {row[0]}")
    elif posts:
        ids = []
        for pid in posts:
            try:
                pid = int(pid)
            except (TypeError, ValueError) as exc:
                raise InputError(f"not a post id: {pid!r}") from exc
            if not ws.db.execute("select 1 from posts where id = ?", [pid]).fetchone():
                raise NotFoundError(f"no post with id {pid}")
            ids.append(pid)
        ids = sorted(set(ids))
        sel = {"posts": ids}
    elif query:
        import sqlite3

        try:
            ids = [r[0] for r in ws.db.execute(
                "select rowid from posts_fts where posts_fts match ? order by rowid limit ?", [query, MAX_POSTS])]
        except sqlite3.OperationalError as exc:
            raise InputError(f"bad search query {query!r}: {exc}") from exc
        sel = {"query": query}
    else:
        row = ws.db.execute("select id, name from cases where name = ?", [case]).fetchone()
        if row is None:
            raise NotFoundError(f"no case named {case!r}")
        ids = [r[0] for r in ws.db.execute(
            "select post_id from case_items where case_id = ? and post_id is not null "
            "union select p.id from posts p join case_items i on i.seller_id = p.seller_id where i.case_id = ? "
            "order by 1", [row[0], row[0]])]
        sel = {"case": row[1], "case_id": row[0]}
    if not ids:
        raise NotFoundError(f"the selection {json.dumps(sel, ensure_ascii=False)} matches no post")
    if len(ids) > MAX_POSTS:
        raise InputError(f"the selection matches more than {MAX_POSTS} posts: narrow it")
    return ids, sel


# ------------------------------------------------------------------ redaction set
def _identifiers_of(seller_row: dict) -> list[str]:
    out = []
    for col in ("accounts", "identifiers"):
        for x in _json_col(seller_row.get(col), []):
            if isinstance(x, dict):
                for k in ("value", "handle", "name", "id", "url", "raw"):
                    if x.get(k):
                        out.append(str(x[k]))
            elif x:
                out.append(str(x))
    return out


def build_redactor(ws, post_ids: list[int], key: bytes | None = None) -> Redactor:
    """Collect the third parties' identifiers relevant to these posts.

    Third parties: authors of selected posts with a third-party role, authors
    with such a role in the same channels/chats as the selected posts, members
    of exported chats who are not sellers, and identifiers in the selected
    posts that another post shows to belong to a third party. Identifiers of
    the sellers (their accounts, handles, phones) are protected.
    """
    red = Redactor(key=key) if key else Redactor()
    cols = "id, author, author_handle, author_url, author_role, source, seller_id, extra"
    selected: list[dict] = []
    for chunk in _chunks(post_ids):
        marks = ",".join("?" * len(chunk))
        selected += rows(ws.db, f"select {cols} from posts where id in ({marks})", chunk)  # noqa: S608
    sources = sorted({p["source"] for p in selected if p["source"]})
    neighbours: list[dict] = []
    for chunk in _chunks(sources, 200):
        marks = ",".join("?" * len(chunk))
        # only the rows that can be third parties or list chat members (a site's source holds every ad on it)
        neighbours += rows(ws.db, f"select {cols} from posts where source in ({marks}) and ("  # noqa: S608
                                  "(author_role is not null and lower(author_role) not in "
                                  "('', 'seller', 'author', 'channel', 'admin', 'owner')) "
                                  "or extra like '%\"chat_type\"%' or extra like '%\"chat_members\"%' "
                                  "or extra like '%\"members\"%') limit 200000", chunk)
    everyone = {p["id"]: p for p in selected + neighbours}
    # protect the sellers first
    seller_ids = {p["seller_id"] for p in everyone.values() if p["seller_id"] is not None}
    for sid in seller_ids:
        for r in rows(ws.db, "select accounts, identifiers, label from sellers where id = ?", [sid]):
            for v in _identifiers_of(r):
                red.protect(v)
    sellers_posts = [p for p in everyone.values() if not is_third_party(p)]
    for p in sellers_posts:
        for v in (p["author"], p["author_handle"], p["author_url"]):
            red.protect(v)
    for chunk in _chunks([p["id"] for p in sellers_posts if p["id"] in set(post_ids)]):
        marks = ",".join("?" * len(chunk))
        for e in rows(ws.db, f"select kind, value, raw from entities where post_id in ({marks})", chunk):  # noqa: S608
            if e["kind"] in IDENTIFYING_KINDS:
                red.protect(e["value"])
                red.protect(e["raw"])
    # third parties
    tp = [p for p in everyone.values() if is_third_party(p)]
    for p in tp:
        red.add("name", p["author"])
        red.add("handle", p["author_handle"])
        red.add("url", p["author_url"])
        extra = _json_col(p["extra"], {}) if isinstance(p["extra"], str) else (p["extra"] or {})
        for k in ("sender_id", "from_id", "user_id"):  # Telegram ids of the sender
            if extra.get(k) not in (None, ""):
                red.add("handle", str(extra[k]))
        red.add("handle", extra.get("sender_username"))
        red.add("name", extra.get("sender_name"))
    for chunk in _chunks([p["id"] for p in tp]):
        marks = ",".join("?" * len(chunk))
        for e in rows(ws.db, f"select kind, value, raw from entities where post_id in ({marks})", chunk):  # noqa: S608
            if e["kind"] in IDENTIFYING_KINDS:
                red.add_entity(e["kind"], e["value"], e["raw"])
    for p in everyone.values():
        for m in chat_members(p):
            role = str(m.get("role") or "").lower()
            if role in ("seller", "admin", "owner", "channel"):
                continue
            red.add("name", m.get("name"))
            red.add("handle", m.get("handle") or m.get("username"))
            if m.get("phone"):
                red.add("phone", str(m["phone"]))
    # identifiers in the selected posts that belong to a third party elsewhere in the workspace
    tp_roles = ("third_party", "buyer", "victim", "replier", "reply", "member", "non_seller", "contact")
    rmarks = ",".join("?" * len(tp_roles))
    for chunk in _chunks(post_ids):
        marks = ",".join("?" * len(chunk))
        for e in rows(ws.db, f"select distinct e2.kind, e2.value, e2.raw from entities e1 join entities e2 "  # noqa: S608
                             f"on e2.kind = e1.kind and e2.value = e1.value join posts p2 on p2.id = e2.post_id "
                             f"where e1.post_id in ({marks}) and p2.author_role in ({rmarks})",
                      [*chunk, *tp_roles]):
            if e["kind"] in IDENTIFYING_KINDS:
                red.add_entity(e["kind"], e["value"], e["raw"])
        for h in rows(ws.db, f"select distinct p2.author_handle as h, p2.author as a from entities e1 "  # noqa: S608
                             f"join posts p2 on lower(p2.author_handle) = lower(e1.value) "
                             f"where e1.post_id in ({marks}) and p2.author_role in ({rmarks})",
                      [*chunk, *tp_roles]):
            red.add("handle", h["h"])
            red.add("name", h["a"])
    return red


# ------------------------------------------------------------------ zip writer
class _Zip:
    """A ZIP written entry by entry from streams, hashing each entry on the way."""

    def __init__(self, path: Path):
        self.zf = zipfile.ZipFile(path, "w", allowZip64=True)
        self.files: dict[str, dict] = {}
        self.when = datetime.now(UTC).timetuple()[:6]

    def add_stream(self, name: str, fh, size_hint: int = 0, compress: bool = True,
                   expect_sha: str | None = None) -> dict:
        safe_member(name)
        if name in self.files:
            return self.files[name]
        zi = zipfile.ZipInfo(name, date_time=self.when)
        zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        zi.external_attr = 0o644 << 16
        h = hashlib.sha256()
        n = 0
        with self.zf.open(zi, "w", force_zip64=size_hint > (1 << 31) - (1 << 20)) as out:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
                n += len(chunk)
        sha = h.hexdigest()
        if expect_sha and sha != expect_sha:
            raise IntegrityError(f"evidence store: blob {expect_sha} does not match its hash (got {sha}); "
                                 "run 'veille verify-store'")
        rec = {"path": name, "size": n, "sha256": sha}
        self.files[name] = rec
        return rec

    def add_bytes(self, name: str, data: bytes, compress: bool = True) -> dict:
        return self.add_stream(name, io.BytesIO(data), len(data), compress)

    def add_file(self, name: str, path: Path, compress: bool = True, expect_sha: str | None = None) -> dict:
        with open(path, "rb") as fh:
            return self.add_stream(name, fh, path.stat().st_size, compress, expect_sha)

    def close(self) -> None:
        self.zf.close()


# ------------------------------------------------------------------ result
@dataclass
class BundleResult:
    path: Path
    sha256: str
    size: int
    bundle_id: str
    items: int
    post_ids: list[int]
    files: int
    merkle_root: str
    manifest_sha256: str
    redacted: bool
    redactions: int
    withheld: list[str] = field(default_factory=list)
    signed: bool = False
    signing_key_fingerprint: str | None = None
    timestamped: bool = False
    timestamp_time: str | None = None
    redaction_key_path: Path | None = None
    images_to_check: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["path"] = str(self.path)
        d["name"] = self.name
        d["redaction_key_path"] = str(self.redaction_key_path) if self.redaction_key_path else None
        return d


# ------------------------------------------------------------------ items
@dataclass
class _ArtifactPlan:
    sha256: str
    role: str
    mime: str | None
    name: str
    size: int | None
    member: str | None = None  # path in the bundle, or None when withheld
    redacted_sha256: str | None = None
    redacted_member: str | None = None
    withheld_reason: str | None = None
    image: bool = False
    human_check: bool = False  # images, video, audio, documents: cannot be redacted automatically
    replacements: list[dict] = field(default_factory=list)


class _Builder:
    def __init__(self, ws, post_ids: list[int], selection: dict, output: Path, redact: bool,
                 include_originals: bool, tmp: Path):
        self.ws = ws
        self.post_ids = post_ids
        self.selection = selection
        self.output = output
        self.redact = redact
        self.include_originals = include_originals
        self.tmp = tmp
        self.bundle_id = str(uuid.uuid4())
        self.created_at = iso(utcnow())
        self.red = build_redactor(ws, post_ids) if redact else Redactor()
        self.artifacts: dict[str, _ArtifactPlan] = {}
        self.redaction_records: list[dict] = []
        self.withheld: list[str] = []
        self.capture_ids: set[int] = set()
        self.seller_ids: set[int] = set()
        self.warnings: list[str] = []

    # ---- loading
    def post_rows(self) -> Iterator[dict]:
        for chunk in _chunks(self.post_ids, 200):
            marks = ",".join("?" * len(chunk))
            yield from rows(self.ws.db, f"select * from posts where id in ({marks}) order by id", chunk)  # noqa: S608

    def captures(self, post_id: int) -> list[dict]:
        caps = rows(self.ws.db, "select * from captures where post_id = ? order by fetched_at, id", [post_id])
        for c in caps:
            c["artifacts"] = rows(self.ws.db, "select a.sha256, a.role, a.name, a.mime, b.size from artifacts a "
                                              "left join blobs b on b.sha256 = a.sha256 where a.capture_id = ? "
                                              "order by a.id", [c["id"]])
        return caps

    # ---- artifacts
    def plan_artifact(self, a: dict, third_party_post: bool) -> _ArtifactPlan:
        sha = a["sha256"]
        if sha in self.artifacts:
            return self.artifacts[sha]
        mime = (a["mime"] or "").lower()
        plan = _ArtifactPlan(sha, a["role"], a["mime"], display_name(a["name"]), a["size"])
        plan.image = mime.startswith("image/") or a["role"] in ("screenshot", "photo", "image")
        textual = a["role"] in TEXT_ROLES or mime.startswith("text/") or mime.endswith(("json", "xml"))
        if not self.ws.store.has(sha):
            plan.withheld_reason = "missing from the evidence store"
            self.warnings.append(f"artifact {sha} ({a['role']}) is missing from the evidence store")
        elif self.redact and a["role"] in WHOLE_SOURCE_ROLES and not self.include_originals:
            plan.withheld_reason = ("whole imported file: it holds other conversations and people "
                                    "(use --include-originals)")
        elif self.redact and textual and self.red:
            size = a["size"] if a["size"] is not None else self.ws.store.path_for(sha).stat().st_size
            if size > MAX_REDACT_BYTES:
                plan.withheld_reason = "too large to redact automatically"
            else:
                data = self.ws.store.read(sha)
                counts: dict[str, Replacement] = {}
                out = self.red.redact_bytes(data, a["mime"], counts)
                del data
                if counts:
                    rsha = hashlib.sha256(out).hexdigest()
                    p = self.tmp / "redacted" / rsha
                    p.parent.mkdir(exist_ok=True)
                    p.write_bytes(out)
                    plan.redacted_sha256 = rsha
                    plan.redacted_member = f"redacted/{rsha}"
                    plan.replacements = [{"kind": r.kind, "pseudonym": r.pseudonym, "count": r.count}
                                         for r in counts.values()]
                    self.redaction_records.append({
                        "event": "artifact redacted", "bundle_id": self.bundle_id, "role": a["role"],
                        "sha256_before": sha, "sha256_after": rsha, "replaced": plan.replacements,
                        "original_in_bundle": self.include_originals})
                    if not self.include_originals:
                        plan.withheld_reason = "original names third parties (redacted copy included)"
        elif self.redact and plan.image and third_party_post and not self.include_originals:
            plan.withheld_reason = "image posted by a third party (use --include-originals)"
        elif self.redact and not textual and third_party_post and not self.include_originals:
            plan.withheld_reason = "media posted by a third party (use --include-originals)"
        plan.human_check = plan.image or not textual
        if plan.withheld_reason is None:
            plan.member = f"evidence/{sha}"
        else:
            self.withheld.append(f"{sha} ({plan.withheld_reason})")
        self.artifacts[sha] = plan
        return plan

    # ---- one item
    def item(self, post: dict, for_report: bool = False) -> dict:
        tp = is_third_party(post)
        caps = self.captures(post["id"])
        counts: dict[str, Replacement] = {}
        r = self.red.redact_text if self.redact else (lambda s, c=None: s)
        ro = self.red.redact_obj if self.redact else (lambda o, c=None: o)
        entities = rows(self.ws.db, 'select kind, value, raw, start, "end", extra from entities where post_id = ? '
                                    "order by start", [post["id"]])
        for e in entities:
            e["extra"] = _json_col(e["extra"], {})
        capture_list = []
        for c in caps:
            self.capture_ids.add(c["id"])
            arts = []
            for a in c["artifacts"]:
                plan = self.plan_artifact(a, tp)
                arts.append({"role": a["role"], "sha256": a["sha256"], "size": a["size"], "mime": a["mime"],
                             "name": plan.name, "bundle_path": plan.member,
                             "redacted_sha256": plan.redacted_sha256, "redacted_path": plan.redacted_member,
                             "withheld": plan.withheld_reason, "image": plan.image,
                             "human_check": plan.human_check})
            capture_list.append({"id": c["id"], "kind": c["kind"], "url": c["url"], "final_url": c["final_url"],
                                 "method": c["method"], "http_status": c["http_status"],
                                 "fetched_at": c["fetched_at"], "tool": c["tool"], "tool_version": c["tool_version"],
                                 "outcome": c["outcome"], "note": c["note"], "artifacts": arts})
        if post["seller_id"] is not None:
            self.seller_ids.add(post["seller_id"])
        rec = {
            "id": post["id"], "platform": post["platform"], "source": post["source"], "url": post["url"],
            "external_id": post["external_id"], "author": post["author"], "author_handle": post["author_handle"],
            "author_url": post["author_url"], "author_role": post["author_role"], "third_party": tp,
            "title": post["title"], "text": post["text"], "price": post["price"], "currency": post["currency"],
            "posted_at": post["posted_at"], "fetched_at": post["fetched_at"],
            "first_seen_at": post["first_seen_at"], "last_seen_at": post["last_seen_at"],
            "status": post["status"], "status_at": post["status_at"], "lang": post["lang"],
            "media": _json_col(post["media"], []), "reply_to": post["reply_to"],
            "forwarded_from": post["forwarded_from"], "extra": _json_col(post["extra"], {}),
            "content_sha256": post["content_sha256"], "version": post["version"],
            "category": post["category"], "subtype": post["subtype"], "score": post["score"],
            "reasons": _json_col(post["reasons"], []), "lexicon_version": post["lexicon_version"],
            "seller_id": post["seller_id"], "entities": entities, "captures": capture_list,
        }
        if self.redact and self.red:
            before = hashlib.sha256(canonical(rec)).hexdigest()
            red_rec = {k: (v if k in ("captures",) else ro(v, counts)) for k, v in rec.items()}
            for c in red_rec["captures"]:
                c["url"] = r(c["url"] or "", counts) or c["url"]
                c["final_url"] = r(c["final_url"] or "", counts) or c["final_url"]
                c["note"] = r(c["note"] or "", counts) or c["note"]
                for a in c["artifacts"]:
                    a["name"] = r(a["name"] or "", counts)
            after = hashlib.sha256(canonical(red_rec)).hexdigest()
            red_rec["redacted"] = bool(counts)
            if counts and not for_report:
                self.redaction_records.append({
                    "event": "post record redacted", "bundle_id": self.bundle_id, "post_id": post["id"],
                    "sha256_before": before, "sha256_after": after,
                    "replaced": [{"kind": x.kind, "pseudonym": x.pseudonym, "count": x.count}
                                 for x in counts.values()]})
            rec = red_rec
        else:
            rec["redacted"] = False
        return rec


# ------------------------------------------------------------------ report
def _report_env():
    from jinja2 import FileSystemLoader, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                                        autoescape=select_autoescape(default=True, default_for_string=True),
                                        trim_blocks=True, lstrip_blocks=True)
    env.filters["visible"] = lambda s: visible_controls("" if s is None else str(s))
    env.filters["cap"] = lambda s, n=REPORT_TEXT_CHARS: ("" if s is None else str(s))[:n]
    env.filters["pretty"] = lambda o: json.dumps(o, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    env.filters["safe_href"] = lambda u: u if isinstance(u, str) and re.match(r"^https?://[^\s\"'<>]+$", u) else ""
    return env


def _snippet(text: str, start, end, width: int = 60) -> str:
    try:
        s, e = int(start), int(end)
    except (TypeError, ValueError):
        return ""
    if not (0 <= s < e <= len(text)):
        return ""
    return text[max(0, s - width):s] + "⟦" + text[s:e] + "⟧" + text[e:e + width]


def _report_items(b: _Builder) -> Iterator[dict]:
    for post in b.post_rows():
        it = b.item(post, for_report=True)
        text = it["text"] or ""
        reasons = []
        for rz in it["reasons"] if isinstance(it["reasons"], list) else []:
            if isinstance(rz, dict):
                # matchers report spans in Post.full_text: title and text joined by a newline
                title, body = post["title"] or "", post["text"] or ""
                original = f"{title}\n{body}" if title and body else (title or body)
                if b.redact and b.red and b.red.contains(original):
                    # context could cut a third party's identifier in half: show the matched term only
                    snip = _snippet(original, rz.get("start"), rz.get("end"), width=0)
                    snip = b.red.redact_text(snip)
                else:
                    snip = _snippet(original, rz.get("start"), rz.get("end"))
                reasons.append({**rz, "snippet": snip})
        it["reasons_view"] = reasons
        it["text_truncated"] = len(text) > REPORT_TEXT_CHARS
        it["images"] = [a for c in it["captures"] for a in c["artifacts"] if a["image"]]
        yield it


def _timeline(b: _Builder) -> list[dict]:
    ev: list[dict] = []
    for post in b.post_rows():
        pid = post["id"]
        if post["posted_at"]:
            ev.append({"at": post["posted_at"], "post": pid, "event_fr": "publié", "event_en": "posted"})
        ev.append({"at": post["first_seen_at"], "post": pid, "event_fr": "vu pour la première fois",
                   "event_en": "first seen"})
        for c in rows(b.ws.db, "select fetched_at, kind, outcome from captures where post_id = ?", [pid]):
            ev.append({"at": c["fetched_at"], "post": pid, "event_fr": f"capture ({c['kind']}, {c['outcome']})",
                       "event_en": f"capture ({c['kind']}, {c['outcome']})"})
        if post["status"] in ("removed", "deleted") and post["status_at"]:
            ev.append({"at": post["status_at"], "post": pid, "event_fr": f"retiré ({post['status']})",
                       "event_en": f"gone ({post['status']})"})
    ev.sort(key=lambda e: (e["at"] or "", e["post"]))
    return ev


def _sellers(b: _Builder) -> list[dict]:
    out = []
    ids = sorted(b.seller_ids)
    ro = b.red.redact_obj if b.redact else (lambda o, c=None: o)
    for sid in ids:
        srows = rows(b.ws.db, "select * from sellers where id = ?", [sid])
        s = srows[0] if srows else {"id": sid}
        links = rows(b.ws.db, "select l.* from seller_links l join posts pa on pa.id = l.post_a "
                              "join posts pb on pb.id = l.post_b where pa.seller_id = ? or pb.seller_id = ? "
                              "order by l.id limit 20000", [sid, sid])
        out.append(ro({
            "id": sid, "label": s.get("label"), "status": s.get("status"),
            "explanations": _explanations(b, links),
            "platforms": _json_col(s.get("platforms"), []), "accounts": _json_col(s.get("accounts"), []),
            "identifiers": _json_col(s.get("identifiers"), []), "first_seen": s.get("first_seen"),
            "last_seen": s.get("last_seen"), "post_count": s.get("post_count"),
            "categories": _json_col(s.get("categories"), []), "price_min": s.get("price_min"),
            "price_max": s.get("price_max"),
            "links": [{"post_a": lk["post_a"], "post_b": lk["post_b"], "type": lk["type"], "weight": lk["weight"],
                       "evidence": _json_col(lk["evidence"], {}), "created_at": lk["created_at"]} for lk in links],
        }))
    return out


def _explanations(b: _Builder, links: list[dict]) -> list[dict]:
    """One sentence per linked post pair, from the clustering module when it is installed."""
    if not links:
        return []
    try:
        from .sellers import explain_links
    except ImportError:
        return []
    ids = sorted({lk["post_a"] for lk in links} | {lk["post_b"] for lk in links})
    texts: dict[int, str] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for r in rows(b.ws.db, f"select id, text from posts where id in ({marks})", chunk):  # noqa: S608
            texts[r["id"]] = r["text"] or ""
    try:
        out = explain_links([{**lk, "evidence": _json_col(lk["evidence"], {})} for lk in links], texts)
    except Exception as exc:  # noqa: BLE001 - an explanation failure must not stop the export
        b.warnings.append(f"link explanations unavailable: {type(exc).__name__}: {exc}")
        return []
    return [{"post_a": e["post_a"], "post_b": e["post_b"], "weight": e["weight"], "types": e["types"],
             "explanation": e["explanation"]} for e in out]


# ------------------------------------------------------------------ custody range
def _relevant(e: dict, b: _Builder, case_id: int | None) -> bool:
    st, sid = e.get("subject_type"), e.get("subject_id")
    if st == "capture":
        return sid is not None and sid.isdigit() and int(sid) in b.capture_ids
    if st == "post":
        return sid is not None and sid.isdigit() and int(sid) in set(b.post_ids)
    if st == "seller":
        return sid is not None and sid.isdigit() and int(sid) in b.seller_ids
    if st == "case":
        return case_id is not None and sid == str(case_id)
    if st == "bundle":
        return sid == b.bundle_id
    return False


def _write_custody(b: _Builder, path: Path, export_seq: int, case_id: int | None) -> dict:
    """custody.jsonl: relevant entries in full, runs of other entries elided to their boundary hashes."""
    capture_ids = [str(x) for x in b.capture_ids]
    post_ids = [str(x) for x in b.post_ids]
    seller_ids = [str(x) for x in b.seller_ids]
    first = b.ws.db.execute(
        "select min(seq) from custody_log where (subject_type = 'capture' and subject_id in "
        "(select value from json_each(?))) or (subject_type = 'post' and subject_id in (select value from json_each(?)))"
        " or (subject_type = 'seller' and subject_id in (select value from json_each(?))) "
        "or (subject_type = 'bundle' and subject_id = ?)",
        [json.dumps(capture_ids), json.dumps(post_ids), json.dumps(seller_ids), b.bundle_id]).fetchone()[0]
    start = first or export_seq
    full = elided = withheld = 0
    run: dict | None = None
    with open(path, "w", encoding="utf-8") as fh:
        def flush():
            nonlocal run
            if run:
                fh.write(json.dumps({"elided": run}, sort_keys=True) + "\n")
                run = None

        for e in custody.iter_entries(b.ws.db, "where seq >= ? and seq <= ?", [start, export_seq]):
            keep = e["seq"] == export_seq or _relevant(e, b, case_id)
            reason = "unrelated to this bundle"
            if keep and e["seq"] != export_seq and b.redact and b.red.contains(canonical(e).decode("utf-8")):
                keep = False
                reason = "names a third party"
                withheld += 1
            if keep:
                flush()
                fh.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
                full += 1
            else:
                if run is not None and run["reason"] != reason:
                    flush()
                if run is None:
                    run = {"from_seq": e["seq"], "to_seq": e["seq"], "count": 0, "first_prev_hash": e["prev_hash"],
                           "last_entry_hash": e["entry_hash"], "reason": reason}
                run["to_seq"] = e["seq"]
                run["count"] += 1
                run["last_entry_hash"] = e["entry_hash"]
                elided += 1
        flush()
    return {"from_seq": start, "to_seq": export_seq, "full": full, "elided": elided, "withheld": withheld}


# ------------------------------------------------------------------ README
def _readme(manifest_info: dict) -> str:
    return f"""veille evidence bundle / lot de preuves veille
================================================

Bundle id: {manifest_info['bundle_id']}
Created (UTC): {manifest_info['created_at']}
Selection: {json.dumps(manifest_info['selection'], ensure_ascii=False)}
Redaction of third parties: {'ON' if manifest_info['redacted'] else 'OFF (--no-redact)'}
Signed (Ed25519): {'yes' if manifest_info['signed'] else 'no'}
RFC 3161 timestamp: {'yes' if manifest_info['timestamped'] else 'no'}

CONTENTS
  evidence/<sha256>   untouched files as captured (raw HTML/JSON, screenshots, media), named by their SHA-256
  redacted/<sha256>   working copies where third parties' identifiers were pseudonymised
  web.wacz            the web captures (WACZ: open with https://replayweb.page or any WARC tool)
  posts.csv           one row per post (UTF-8 with BOM; cells starting with = + - @ are prefixed with ')
  posts.jsonl         one JSON object per post with captures, hashes, verdict and seller
  sellers.json        sellers, accounts, identifiers and the explanation of each link
  report.html         readable report (French / English), no JavaScript
  custody.jsonl       chain-of-custody entries (SHA-256 hash chain) ending with this export
  MANIFEST.json       path, size and SHA-256 of every file, and a Merkle root over them
  SHA256SUMS          the same hashes in `sha256sum` format, plus MANIFEST.json
  signature/          MANIFEST.json.sig (Ed25519) and signing-key.pub.pem, when signed
  timestamp/          MANIFEST.json.tst (RFC 3161 token) and tsa-chain.pem, when timestamped

VERIFY BY HAND / VÉRIFIER À LA MAIN
  1. unzip BUNDLE.zip -d bundle && cd bundle
  2. sha256sum -c SHA256SUMS
       every line must say OK. Files present but not listed in MANIFEST.json are
       tampering too: compare `find . -type f | sort` with the paths in MANIFEST.json
       (only MANIFEST.json, SHA256SUMS, signature/* and timestamp/* are not listed).
  3. Each evidence/<name> file must hash to its own name:
       for f in evidence/* redacted/*; do [ "$(sha256sum < $f | cut -c1-64)" = "$(basename $f)" ] || echo BAD $f; done
  4. Signature (OpenSSL 3):
       openssl pkeyutl -verify -pubin -inkey signature/signing-key.pub.pem -rawin \\
         -in MANIFEST.json -sigfile signature/MANIFEST.json.sig
     and check the key's fingerprint against the one the sender published:
       openssl pkey -pubin -in signature/signing-key.pub.pem -outform DER | tail -c 32 | sha256sum
     It must equal "signing_key_sha256" in MANIFEST.json.
  5. Timestamp:
       openssl ts -verify -token_in -in timestamp/MANIFEST.json.tst -data MANIFEST.json \\
         -CAfile timestamp/tsa-chain.pem
     (decide yourself whether you trust the TSA's root certificate).
  6. Custody chain: each line of custody.jsonl is an entry whose entry_hash is the
     SHA-256 of the canonical JSON (keys sorted, no spaces, UTF-8) of its fields
     seq, at, action, actor, subject_type, subject_id, details, prev_hash; each
     entry's prev_hash is the previous entry's entry_hash. Entries unrelated to
     this bundle are "elided": only the hashes at both ends of the run are given,
     so the links still check. The last entry is this export; its
     details.content_root is the Merkle root of every file except custody.jsonl.
  7. Merkle root: leaves are the canonical JSON {{"path","sha256","size"}} of each
     file in MANIFEST.json, sorted by path; tree as in RFC 6962 (leaf =
     SHA-256(0x00||leaf), node = SHA-256(0x01||left||right)).

WITH VEILLE
  veille verify BUNDLE.zip        (no workspace needed; exit code 0 only if everything holds)

IMAGES: screenshots and photos cannot be redacted automatically. Check every image
flagged in report.html for third parties' faces and ID documents before passing
the bundle on. / Les images ne peuvent pas être caviardées automatiquement :
vérifiez chaque image signalée dans report.html avant de transmettre le lot.
"""


# ------------------------------------------------------------------ main entry
def _signing_key(ws, sign: bool | None):
    from . import keys

    path = keys.key_path(ws)
    if sign is False:
        return None
    if not path.exists():
        if sign:
            raise ConfigError(f"no signing key at {path} (setting 'evidence.signing_key'): run 'veille keys init' "
                              "or export with --no-sign")
        return None
    return keys.load_private_key(path)


def build_bundle(ws, *, seller: int | None = None, post_ids: list[int] | None = None, query: str | None = None,
                 case: str | None = None, output: Path | str, redact: bool = True, include_originals: bool = False,
                 pdf: bool = False, sign: bool | None = None, timestamp: bool | None = None,
                 actor: str | None = None) -> BundleResult:
    """Build an evidence bundle ZIP at ``output``; return what the notices cite (name, sha256, items).

    ``sign``: True requires the signing key, None signs when the key exists, False never signs.
    ``timestamp``: True requires ``evidence.tsa_url``, None timestamps when it is set, False never.
    """
    output = Path(output).expanduser().resolve()
    if output.suffix.lower() != ".zip":
        raise InputError(f"the bundle must be a .zip file: {output}")
    if output.exists() and output.is_dir():
        raise InputError(f"{output} is a folder")
    if not output.parent.is_dir():
        raise InputError(f"folder {output.parent} does not exist")
    ids, selection = select_posts(ws, seller=seller, posts=post_ids, query=query, case=case)
    signing_key = _signing_key(ws, sign)
    tsa_url = str(ws.config.get("evidence.tsa_url") or "")
    if timestamp and not tsa_url:
        raise ConfigError("setting 'evidence.tsa_url' is not set: cannot timestamp (use --no-timestamp)")
    do_ts = bool(tsa_url) and timestamp is not False
    _remove_stale_temps(output)
    # the owner's pid is in the name, so a killed run's folder can be recognised and removed
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{output.name}.{os.getpid()}.", dir=output.parent))
    tmp_zip = tmpdir / "bundle.zip.part"
    b = None
    try:
        b = _Builder(ws, ids, selection, output, redact, include_originals, tmpdir)
        return _build(ws, b, tmp_zip, pdf, signing_key, tsa_url if do_ts else "", actor)
    except BaseException as exc:
        try:
            custody.append(ws.db, "export", {"event": "bundle export failed", "output": output.name,
                                             "error": f"{type(exc).__name__}: {str(exc)[:300]}"},
                           subject_type="bundle", subject_id=b.bundle_id if b is not None else None,
                           actor=actor)
        except Exception:  # noqa: BLE001 - never hide the original failure
            pass
        raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _remove_stale_temps(output: Path) -> None:
    """Remove temporary folders left by an export of the same file that was killed."""
    for d in output.parent.glob(f".{output.name}.*.*"):
        try:
            pid = int(d.name[len(output.name) + 2:].split(".", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            continue


def _build(ws, b: _Builder, tmp_zip: Path, pdf: bool, signing_key, tsa_url: str, actor: str | None) -> BundleResult:
    from . import keys

    z = _Zip(tmp_zip)
    try:
        # posts.jsonl + posts.csv (one pass), planning artifacts and redactions on the way
        jl = b.tmp / "posts.jsonl"
        cv = b.tmp / "posts.csv"
        images = 0
        with open(jl, "w", encoding="utf-8") as fj, open(cv, "w", encoding="utf-8-sig", newline="") as fc:
            w = csv.writer(fc)
            w.writerow(["post_id", "platform", "source", "url", "title", "text", "author", "author_handle",
                        "third_party", "price", "currency", "posted_at", "first_seen_at", "last_seen_at",
                        "status", "capture_times_utc", "artifact_hashes", "category", "subtype", "score",
                        "seller_id", "redacted"])
            for post in b.post_rows():
                rec = b.item(post)
                fj.write(json.dumps(rec, ensure_ascii=False, sort_keys=True, default=str) + "\n")
                arts = [a for c in rec["captures"] for a in c["artifacts"]]
                images += sum(1 for a in arts if a["human_check"])
                w.writerow([csv_cell(x) for x in (
                    rec["id"], rec["platform"], rec["source"], rec["url"], rec["title"], rec["text"], rec["author"],
                    rec["author_handle"], "yes" if rec["third_party"] else "no", rec["price"], rec["currency"],
                    rec["posted_at"], rec["first_seen_at"], rec["last_seen_at"], rec["status"],
                    "; ".join(c["fetched_at"] for c in rec["captures"]),
                    "; ".join(f"{a['role']}:{a['redacted_sha256'] or a['sha256']}" for a in arts),
                    rec["category"], rec["subtype"], rec["score"], rec["seller_id"],
                    "yes" if rec["redacted"] else "no")])
        z.add_file("posts.jsonl", jl)
        z.add_file("posts.csv", cv)
        jl.unlink()
        cv.unlink()
        # evidence and redacted copies, streamed from the store
        for plan in b.artifacts.values():
            if plan.member:
                compress = not (plan.image or (plan.mime or "").startswith(("video/", "audio/"))
                                or (plan.mime or "").endswith(("zip", "gzip")))
                with b.ws.store.open(plan.sha256) as fh:
                    z.add_stream(plan.member, fh, plan.size or 0, compress, expect_sha=plan.sha256)
            if plan.redacted_member:
                z.add_file(plan.redacted_member, b.tmp / "redacted" / plan.redacted_sha256,
                           expect_sha=plan.redacted_sha256)
        sellers = _sellers(b)
        z.add_bytes("sellers.json", json.dumps({"sellers": sellers}, ensure_ascii=False, indent=1,
                                               default=str).encode("utf-8"))
        # web.wacz
        wacz_info = _write_wacz(b, b.tmp / "web.wacz")
        z.add_file("web.wacz", b.tmp / "web.wacz", compress=False)
        (b.tmp / "web.wacz").unlink()
        # report
        ctx = {"bundle_id": b.bundle_id, "created_at": b.created_at, "selection": b.selection,
               "redacted": b.redact, "include_originals": b.include_originals, "sellers": sellers,
               "timeline": _timeline(b), "n_items": len(b.post_ids), "images": images,
               "withheld": b.withheld, "signed": signing_key is not None, "timestamped": bool(tsa_url),
               "csp": Markup(REPORT_CSP)}
        env = _report_env()
        tpl = env.get_template("bundle_report.html.j2")
        rp = b.tmp / "report.html"
        with open(rp, "w", encoding="utf-8") as fh:
            for part in tpl.generate(items=_report_items(b), **ctx):
                fh.write(part)
        z.add_file("report.html", rp)
        if pdf:
            z.add_file("report.pdf", _pdf(b, rp), compress=False)
        rp.unlink()
        manifest_info = {"bundle_id": b.bundle_id, "created_at": b.created_at, "selection": b.selection,
                         "redacted": b.redact, "signed": signing_key is not None, "timestamped": bool(tsa_url)}
        z.add_bytes("README.txt", _readme(manifest_info).encode("utf-8"))
        content_files = sorted(z.files.values(), key=lambda f: f["path"])
        content_root = files_root(content_files)
        fp = keys.fingerprint(signing_key.public_key()) if signing_key is not None else None
        # custody: redactions, then the export entry; then custody.jsonl up to it
        case_id = b.selection.get("case_id")
        key_path = None
        sel_logged = dict(b.selection)
        if "query" in sel_logged and b.redact:
            sel_logged["query"] = b.red.redact_text(sel_logged["query"])
        with transaction(ws.db):
            if not b.redact:
                custody.append(ws.db, "redaction", {"event": "redaction disabled (--no-redact)",
                                                    "bundle_id": b.bundle_id, "output": b.output.name},
                               subject_type="bundle", subject_id=b.bundle_id, actor=actor)
            for rec in b.redaction_records:
                custody.append(ws.db, "redaction", rec, subject_type="bundle", subject_id=b.bundle_id, actor=actor)
            export = custody.append(ws.db, "export", {
                "event": "bundle export", "bundle_id": b.bundle_id, "format": FORMAT, "output": b.output.name,
                "selection": sel_logged, "post_ids": b.post_ids, "items": len(b.post_ids),
                "files": len(content_files), "content_root": content_root, "redaction": b.redact,
                "redactions": len(b.redaction_records), "include_originals": b.include_originals,
                "withheld": len(b.withheld), "images_to_check": images,
                "signing_key_sha256": fp, "timestamp_requested": bool(tsa_url),
            }, subject_type="bundle", subject_id=b.bundle_id, actor=actor)
        cj = b.tmp / CUSTODY_FILE
        custody_info = _write_custody(b, cj, export["seq"], case_id)
        z.add_file(CUSTODY_FILE, cj)
        cj.unlink()
        files = sorted(z.files.values(), key=lambda f: f["path"])
        root = files_root(files)
        manifest = {
            "format": FORMAT, "bundle_id": b.bundle_id, "created_at": b.created_at, "tool": TOOL,
            "selection": sel_logged, "items": len(b.post_ids),
            "redaction": {"enabled": b.redact, "originals_included": b.include_originals,
                          "redactions": len(b.redaction_records), "withheld": len(b.withheld)},
            "custody": custody_info,
            "wacz": wacz_info,
            "signed": signing_key is not None, "signing_key_sha256": fp,
            "timestamped": bool(tsa_url),
            "hash_algorithm": "sha256",
            "merkle": {"algorithm": "RFC 6962 Merkle tree hash, SHA-256; leaf data = canonical JSON "
                                    "{path, sha256, size} of each file, files sorted by path",
                       "root": root, "content_root": content_root,
                       "content_root_excludes": [CUSTODY_FILE]},
            "control_files": sorted(CONTROL_FILES),
            "files": files,
        }
        mbytes = (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
        z.add_bytes("MANIFEST.json", mbytes)
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
        sums += f"{hashlib.sha256(mbytes).hexdigest()}  MANIFEST.json\n"
        z.add_bytes("SHA256SUMS", sums.encode("utf-8"))
        if signing_key is not None:
            z.add_bytes("signature/MANIFEST.json.sig", signing_key.sign(mbytes), compress=False)
            z.add_bytes("signature/signing-key.pub.pem", keys.public_pem(signing_key.public_key()))
        ts_time = None
        if tsa_url:
            from . import tsa

            digest = hashlib.sha256(mbytes).digest()
            token = tsa.request_timestamp(tsa_url, digest)
            chain = tsa.token_certificates(token)
            extra_chain = str(ws.config.get("evidence.tsa_chain") or "")
            if extra_chain:
                p = Path(extra_chain).expanduser()
                p = p if p.is_absolute() else ws.root / p
                try:
                    chain += tsa.load_certs(p.read_bytes())
                except OSError as exc:
                    raise ConfigError(f"setting 'evidence.tsa_chain': cannot read {p}: {exc.strerror}") from exc
            rep = tsa.verify_token(token, digest, chain)
            if not rep.ok:
                raise IntegrityError("the TSA's token does not verify: " + "; ".join(rep.problems))
            ts_time = rep.gen_time
            z.add_bytes("timestamp/MANIFEST.json.tst", token, compress=False)
            z.add_bytes("timestamp/tsa-chain.pem", tsa.certs_to_pem(_dedupe_certs(chain)))
        if b.redact and b.red:
            key_path = write_key(_key_file(ws, b), b.red.key, b.bundle_id, b.output.name)
        z.close()
    except BaseException:
        z.close()
        raise
    with open(tmp_zip, "rb+") as fh:
        os.fsync(fh.fileno())
    sha = hashlib.sha256()
    with open(tmp_zip, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            sha.update(chunk)
    size = tmp_zip.stat().st_size
    os.chmod(tmp_zip, 0o644)
    os.replace(tmp_zip, b.output)
    digest_hex = sha.hexdigest()
    custody.append(ws.db, "export", {
        "event": "bundle written", "bundle_id": b.bundle_id, "path": str(b.output), "sha256": digest_hex,
        "size": size, "post_ids": b.post_ids, "manifest_sha256": hashlib.sha256(mbytes).hexdigest(),
        "merkle_root": root, "signed": signing_key is not None, "timestamped": bool(tsa_url)},
        subject_type="bundle", subject_id=b.bundle_id, actor=actor)
    return BundleResult(
        path=b.output, sha256=digest_hex, size=size, bundle_id=b.bundle_id, items=len(b.post_ids),
        post_ids=b.post_ids, files=len(files), merkle_root=root, manifest_sha256=hashlib.sha256(mbytes).hexdigest(),
        redacted=b.redact, redactions=len(b.redaction_records), withheld=b.withheld,
        signed=signing_key is not None, signing_key_fingerprint=fp, timestamped=bool(tsa_url),
        timestamp_time=ts_time, redaction_key_path=key_path, images_to_check=images, warnings=b.warnings)


def _dedupe_certs(certs):
    seen, out = set(), []
    for c in certs:
        d = c.dump()
        if d not in seen:
            seen.add(d)
            out.append(c)
    return out


def _key_file(ws, b: _Builder) -> Path:
    return ws.root / "keys" / "redaction" / f"{b.output.stem}-{b.bundle_id}.json"


def _write_wacz(b: _Builder, out: Path) -> dict:
    from .wacz import WebCapture, write_wacz

    def captures() -> Iterator[WebCapture]:
        for post in b.post_rows():
            title = post["title"] or (post["text"] or "")[:120]
            if b.redact:
                title = b.red.redact_text(title)
            for c in b.captures(post["id"]):
                for a in c["artifacts"]:
                    mime = (a["mime"] or "").lower()
                    if not (a["role"] in ("raw_html", "html") or mime.startswith("text/html")):
                        continue
                    plan = b.artifacts.get(a["sha256"])
                    if plan is None or (plan.member is None and plan.redacted_member is None):
                        continue
                    if plan.redacted_sha256:
                        body = b.tmp / "redacted" / plan.redacted_sha256
                    else:
                        body = b.ws.store.path_for(a["sha256"])
                    headers = _json_col(c["headers"], {})
                    url = c["final_url"] or c["url"] or ""
                    if b.redact:
                        url = b.red.redact_text(url)
                        headers = b.red.redact_obj(headers)
                    yield WebCapture(
                        url=url, fetched_at=c["fetched_at"], body_path=body, mime=a["mime"] or "text/html",
                        http_status=c["http_status"], headers=headers, method=c["method"] or "GET",
                        user_agent=c["user_agent"], title=title,
                        meta={"capture_id": c["id"], "post_id": post["id"], "original_sha256": a["sha256"],
                              "body_sha256": plan.redacted_sha256 or a["sha256"],
                              "redacted": bool(plan.redacted_sha256), "tool": f"{c['tool']}/{c['tool_version']}"})

    info = write_wacz(captures(), out, title=f"veille bundle {b.bundle_id}", created=b.created_at)
    info.pop("path", None)
    return info


def _pdf(b: _Builder, html_path: Path) -> Path:
    """report.pdf with weasyprint; it may only read evidence/<sha256> images from the store (and data: URIs)."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except Exception as exc:  # noqa: BLE001 - weasyprint needs Pango
        raise ConfigError(f"--pdf needs weasyprint with Pango: {exc}") from exc

    class EvidenceOnly(URLFetcher):
        def fetch(self, url, headers=None):
            m = re.match(r"^file://.*/evidence/([0-9a-f]{64})$", url)
            if m and m.group(1) in b.artifacts and b.artifacts[m.group(1)].member:
                plan = b.artifacts[m.group(1)]
                return URLFetcherResponse(url, body=b.ws.store.read(plan.sha256),
                                          headers={"Content-Type": plan.mime or "image/png"})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"report.pdf: refusing to fetch {url[:80]}")

    out = html_path.parent / "report.pdf"
    noisy = [logging.getLogger(n) for n in ("weasyprint", "fontTools")]
    levels = [lg.level for lg in noisy]
    for lg in noisy:  # unsupported CSS and missing glyphs (emoji flags) are not the user's concern
        lg.setLevel(logging.ERROR)
    try:
        HTML(filename=str(html_path), base_url=str(html_path.parent) + "/",
             url_fetcher=EvidenceOnly(allowed_protocols=("file", "data"))).write_pdf(str(out))
    finally:
        for lg, lv in zip(noisy, levels, strict=True):
            lg.setLevel(lv)
    return out
