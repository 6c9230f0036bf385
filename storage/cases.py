"""Cases, notices and their outcomes: all the SQL of issue 8.

A *case* groups sellers and posts an organisation follows. A *notice* is a
drafted document (a takedown notice to a platform, or a complaint) with a
tracking reference ``VEILLE-YYYYMMDD-NNNN``; the posts it covers are in
``notice_items``. Every status change of a notice is a row in
``notice_events`` and an entry in the custody log, written in one
transaction::

    drafted -> sent -> acknowledged -> removed | refused | no_answer

(``sent`` may go straight to an outcome; an outcome may later be corrected to
another outcome, e.g. ``no_answer`` then ``removed``.)

:func:`case_report` computes what NGOs quote: outcomes per platform, time
from sending to removal, and the share of sent notices acted on.
"""

from __future__ import annotations

import json
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import custody
from .db import rows, transaction
from .errors import InputError, NotFoundError
from .post import iso, to_utc, utcnow
from .posts import Artifact, Capture, add_capture, store_artifacts

NOTICE_STATUSES = ("drafted", "sent", "acknowledged", "removed", "refused", "no_answer")
OUTCOMES = ("removed", "refused", "no_answer")
NOTICE_KINDS = ("notice", "complaint")
_RANK = {"drafted": 0, "sent": 1, "acknowledged": 2, "removed": 3, "refused": 3, "no_answer": 3}
_CASE_NAME = re.compile(r"^[\w][\w.@+-]{0,79}$", re.UNICODE)
REF_RE = re.compile(r"^VEILLE-\d{8}-\d{4,}$")


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def parse_when(value: str | datetime | None, what: str = "date") -> datetime:
    """A user-given date (``2026-11-20`` or ISO 8601 date-time) as UTC; now if None."""
    if value is None or value == "":
        return utcnow()
    dt = to_utc(value, what)
    assert dt is not None
    return dt


# -------------------------------------------------------------------- cases
def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not _CASE_NAME.match(name):
        raise InputError(f"bad case name {name!r}: use letters, digits, '.', '_', '-' (at most 80 characters)")
    return name


def create_case(ws, name: str, description: str | None = None, at: datetime | None = None) -> dict:
    name = _check_name(name)
    when = iso(at or utcnow())
    with transaction(ws.db):
        if ws.db.execute("select 1 from cases where name = ?", [name]).fetchone():
            raise InputError(f"case {name!r} already exists")
        cur = ws.db.execute("insert into cases(name, created_at, description) values (?,?,?)",
                            [name, when, description])
        custody.append(ws.db, "case", {"event": "case created", "name": name, "description": description},
                       subject_type="case", subject_id=cur.lastrowid, at=when)
    return get_case(ws, name)


def get_case(ws, name: str) -> dict:
    r = rows(ws.db, "select * from cases where name = ?", [name])
    if not r:
        known = [c["name"] for c in rows(ws.db, "select name from cases order by name limit 20")]
        hint = f" (known: {', '.join(known)})" if known else " (no case yet: `veille case new NAME`)"
        raise NotFoundError(f"no case named {name!r}{hint}")
    return r[0]


def list_cases(ws) -> list[dict]:
    return rows(ws.db, "select c.*, (select count(*) from case_items i where i.case_id = c.id) as items, "
                       "(select count(*) from notices n where n.case_id = c.id) as notices "
                       "from cases c order by c.name")


def get_seller(ws, seller_id: int) -> dict:
    r = rows(ws.db, "select * from sellers where id = ?", [seller_id])
    if not r:
        raise NotFoundError(f"no seller with id {seller_id}")
    s = r[0]
    for k in ("platforms", "accounts", "identifiers", "categories"):
        try:
            s[k] = json.loads(s.get(k) or "[]")
        except (TypeError, ValueError):
            s[k] = []
    return s


def resolve_seller_id(ws, seller_id: int) -> int:
    """The seller a (possibly merged) seller id now lives in: follows ``sellers.merged_into``."""
    cols = {c[1] for c in ws.db.execute("pragma table_info(sellers)").fetchall()}
    if "merged_into" not in cols:
        return seller_id
    seen = {seller_id}
    sid = seller_id
    for _ in range(50):
        r = ws.db.execute("select merged_into from sellers where id = ?", [sid]).fetchone()
        if not r or r[0] is None or r[0] in seen:
            return sid
        sid = r[0]
        seen.add(sid)
    return sid


def seller_post_ids(ws, seller_id: int) -> list[int]:
    sid = resolve_seller_id(ws, seller_id)
    return [r["id"] for r in rows(ws.db, "select id from posts where seller_id = ? order by id", [sid])]


def _check_posts(ws, post_ids) -> list[int]:
    out = []
    for pid in post_ids:
        if not ws.db.execute("select 1 from posts where id = ?", [int(pid)]).fetchone():
            raise NotFoundError(f"no post with id {pid}")
        out.append(int(pid))
    return out


def add_to_case(ws, name: str, seller_ids=(), post_ids=(), at: datetime | None = None) -> dict:
    """Add sellers and/or posts to a case; adding one twice is a no-op."""
    case = get_case(ws, name)
    seller_ids = [int(s) for s in seller_ids]
    for sid in seller_ids:
        get_seller(ws, sid)
    post_ids = _check_posts(ws, post_ids)
    if not seller_ids and not post_ids:
        raise InputError("give at least one --seller or --post")
    when = iso(at or utcnow())
    added = {"sellers": [], "posts": []}
    with transaction(ws.db):
        for sid in seller_ids:
            cur = ws.db.execute("insert or ignore into case_items(case_id, seller_id, added_at) values (?,?,?)",
                                [case["id"], sid, when])
            if cur.rowcount:
                added["sellers"].append(sid)
        for pid in post_ids:
            cur = ws.db.execute("insert or ignore into case_items(case_id, post_id, added_at) values (?,?,?)",
                                [case["id"], pid, when])
            if cur.rowcount:
                added["posts"].append(pid)
        if added["sellers"] or added["posts"]:
            custody.append(ws.db, "case", {"event": "items added", "name": case["name"], **added},
                           subject_type="case", subject_id=case["id"], at=when)
    return added


def case_seller_ids(ws, case_id: int) -> list[int]:
    return [r["seller_id"] for r in rows(ws.db, "select seller_id from case_items where case_id = ? and "
                                                "seller_id is not null order by seller_id", [case_id])]


def case_post_ids(ws, case_id: int) -> list[int]:
    """Posts added to the case, plus every post of the sellers added to it (following merges)."""
    ids = {x["id"] for x in rows(ws.db, "select post_id as id from case_items where case_id = ? and "
                                        "post_id is not null", [case_id])}
    for sid in case_seller_ids(ws, case_id):
        ids.update(seller_post_ids(ws, sid))
    return sorted(ids)


def case_notices(ws, case_id: int) -> list[dict]:
    """Notices drafted for the case, or covering one of its posts."""
    post_ids = case_post_ids(ws, case_id)
    marks = ",".join("?" * len(post_ids)) or "null"
    notices = rows(ws.db, "select * from notices where case_id = ? or id in "  # noqa: S608 - placeholders only
                          f"(select notice_id from notice_items where post_id in ({marks})) order by id",
                   [case_id, *post_ids])
    for n in notices:
        _expand_notice(ws, n)
    return notices


def _expand_notice(ws, n: dict) -> dict:
    n["details"] = json.loads(n.get("details") or "{}")
    n["post_ids"] = [r["post_id"] for r in rows(ws.db, "select post_id from notice_items where notice_id = ? "
                                                       "order by post_id", [n["id"]])]
    n["events"] = rows(ws.db, "select status, at, note from notice_events where notice_id = ? order by at, id",
                       [n["id"]])
    n["answers"] = [{"at": c["fetched_at"], "status": c["extra"].get("notice_status"), **a}
                    for c in notice_answers(ws, n["ref"]) for a in c["artifacts"]]
    return n


def show_case(ws, name: str) -> dict:
    case = get_case(ws, name)
    post_ids = case_post_ids(ws, case["id"])
    posts = []
    for pid in post_ids:
        p = rows(ws.db, "select id, platform, url, external_id, author_handle, category, subtype, status, status_at, "
                        "first_seen_at, seller_id from posts where id = ?", [pid])[0]
        last = rows(ws.db, "select at, outcome, http_status, capture_id, via from rechecks where post_id = ? "
                           "order by at desc, id desc limit 1", [pid])
        p["last_recheck"] = last[0] if last else None
        posts.append(p)
    sellers = []
    for sid in case_seller_ids(ws, case["id"]):
        try:
            s = get_seller(ws, sid)
        except NotFoundError:
            s = {"id": sid, "label": "(seller no longer exists)"}
        sellers.append({k: s.get(k) for k in ("id", "label", "platforms", "accounts", "post_count", "first_seen",
                                              "last_seen", "status")})
    return {"case": case, "sellers": sellers, "posts": posts, "notices": case_notices(ws, case["id"])}


# ------------------------------------------------------------------ notices
def next_ref(ws, at: datetime | None = None) -> str:
    """The next free tracking reference of the day: VEILLE-YYYYMMDD-NNNN."""
    day = (at or utcnow()).strftime("%Y%m%d")
    prefix = f"VEILLE-{day}-"
    r = ws.db.execute("select ref from notices where ref like ? order by length(ref) desc, ref desc limit 1",
                      [prefix + "%"]).fetchone()
    n = int(r[0][len(prefix):]) + 1 if r else 1
    return f"{prefix}{n:04d}"


def record_notice(ws, *, ref: str, kind: str, platform: str | None, lang: str, fmt: str, path: str | None,
                  sha256: str | None, post_ids: list[int], case_id: int | None = None,
                  details: dict | None = None, at: datetime | None = None) -> dict:
    """Insert a drafted notice, its items and its first event, with a custody entry."""
    if kind not in NOTICE_KINDS:
        raise InputError(f"unknown notice kind {kind!r}")
    if not REF_RE.match(ref):
        raise InputError(f"bad reference {ref!r}: expected VEILLE-YYYYMMDD-NNNN")
    when = iso(at or utcnow())
    with transaction(ws.db):
        if ws.db.execute("select 1 from notices where ref = ?", [ref]).fetchone():
            raise InputError(f"a notice with reference {ref} already exists")
        cur = ws.db.execute(
            "insert into notices(ref, case_id, kind, platform, lang, format, path, sha256, status, created_at, "
            "updated_at, details) values (?,?,?,?,?,?,?,?,'drafted',?,?,?)",
            [ref, case_id, kind, platform, lang, fmt, path, sha256, when, when, _json(details or {})])
        nid = cur.lastrowid
        for pid in post_ids:
            sid = ws.db.execute("select seller_id from posts where id = ?", [pid]).fetchone()
            ws.db.execute("insert or ignore into notice_items(notice_id, post_id, seller_id) values (?,?,?)",
                          [nid, pid, sid[0] if sid else None])
        ws.db.execute("insert into notice_events(notice_id, status, at, note) values (?,?,?,?)",
                      [nid, "drafted", when, None])
        custody.append(ws.db, "notice", {"event": "drafted", "ref": ref, "kind": kind, "platform": platform,
                                         "format": fmt, "file": path, "sha256": sha256, "post_ids": post_ids},
                       subject_type="notice", subject_id=ref, at=when)
    return get_notice(ws, ref)


def get_notice(ws, ref: str) -> dict:
    r = rows(ws.db, "select * from notices where ref = ?", [(ref or "").strip().upper()])
    if not r:
        raise NotFoundError(f"no notice with reference {ref!r}")
    return _expand_notice(ws, r[0])


def list_notices(ws, status: str | None = None) -> list[dict]:
    if status:
        r = rows(ws.db, "select * from notices where status = ? order by id", [status])
    else:
        r = rows(ws.db, "select * from notices order by id")
    return [_expand_notice(ws, n) for n in r]


MAX_ANSWER_BYTES = 50_000_000


def mark_notice(ws, ref: str, status: str, at: datetime | str | None = None, note: str | None = None,
                answer: Path | str | None = None) -> dict:
    """Record a status change of a notice (with its date) in notice_events and the custody log.

    ``answer``: a file holding the platform's reply (its Art. 17 statement of reasons, an acknowledgement
    e-mail, a screenshot …), kept in the evidence store and filed against the notice.
    """
    if status not in NOTICE_STATUSES or status == "drafted":
        raise InputError(f"unknown status {status!r}: use one of {', '.join(NOTICE_STATUSES[1:])}")
    when = parse_when(at, "--date")
    if when > utcnow() + timedelta(days=1):  # a day's slack for a local date given in UTC
        raise InputError(f"date {iso(when)} is in the future: give the date the change happened")
    if note is not None and len(note) > 4000:
        raise InputError("note longer than 4000 characters")
    capture = None
    if answer is not None:
        apath = Path(answer).expanduser()
        if not apath.is_file():
            raise InputError(f"answer file {apath} does not exist")
        if apath.stat().st_size > MAX_ANSWER_BYTES:
            raise InputError(f"answer file {apath} is larger than {MAX_ANSWER_BYTES} bytes")
        capture = Capture(kind="import", url=None, method=None, fetched_at=when, outcome="ok",
                          note=f"platform answer filed against notice {ref.strip().upper()} ({status})",
                          artifacts=[Artifact(role="platform_answer", path=apath, name=apath.name[:200])],
                          extra={"notice_ref": ref.strip().upper(), "notice_status": status})
        store_artifacts(ws, capture)  # blob first, outside the transaction
    with transaction(ws.db):
        n = get_notice(ws, ref)
        cur = n["status"]
        if status == cur:
            raise InputError(f"notice {n['ref']} is already {status}")
        if _RANK[status] < _RANK[cur]:
            raise InputError(f"notice {n['ref']} is {cur}: it cannot go back to {status}")
        if cur == "drafted" and status != "sent":
            raise InputError(f"notice {n['ref']} is only drafted: mark it sent first (with --date)")
        last_at = to_utc(n["events"][-1]["at"]) if n["events"] else None
        if last_at and when < last_at:
            raise InputError(f"date {iso(when)} is before the notice's last change ({n['events'][-1]['status']} "
                             f"on {iso(last_at)})")
        filed = None
        if capture is not None:
            add_capture(ws, capture)
            a = capture.artifacts[0]
            filed = {"file": a.name, "sha256": a.sha256, "size": a.size}
            note = ((note + " | ") if note else "") + f"answer filed: {a.name} sha256 {a.sha256}"
        ws.db.execute("insert into notice_events(notice_id, status, at, note) values (?,?,?,?)",
                      [n["id"], status, iso(when), note])
        ws.db.execute("update notices set status = ?, updated_at = ? where id = ?", [status, iso(when), n["id"]])
        custody.append(ws.db, "notice", {"event": "status", "ref": n["ref"], "from": cur, "to": status,
                                         "at": iso(when), "note": note, "answer": filed},
                       subject_type="notice", subject_id=n["ref"])
    return get_notice(ws, ref)


def notice_answers(ws, ref: str) -> list[dict]:
    """Platform answers filed against a notice (captures of kind import with the notice's reference)."""
    caps = rows(ws.db, "select id, fetched_at, note, extra from captures where kind = 'import' and "
                       "json_extract(extra, '$.notice_ref') = ? order by id", [ref.strip().upper()])
    for c in caps:
        c["extra"] = json.loads(c["extra"] or "{}")
        c["artifacts"] = rows(ws.db, "select sha256, role, name from artifacts where capture_id = ?", [c["id"]])
    return caps


def reported_post_ids(ws, case: str | None = None) -> list[int]:
    """Posts to re-check: those of a case (and its notices), or every post named in a notice or a case."""
    if case:
        c = get_case(ws, case)
        ids = set(case_post_ids(ws, c["id"]))
        for n in case_notices(ws, c["id"]):
            ids.update(n["post_ids"])
        return sorted(ids)
    ids = {x["id"] for x in rows(ws.db, "select distinct post_id as id from notice_items")}
    for c in rows(ws.db, "select id from cases"):
        ids.update(case_post_ids(ws, c["id"]))
    return sorted(ids)


def record_recheck(ws, post_id: int, outcome: str, *, http_status: int | None = None,
                   capture_id: int | None = None, via: str | None = None, note: str | None = None,
                   at: datetime | None = None) -> int:
    if outcome not in ("live", "removed", "changed", "error", "blocked"):
        raise InputError(f"unknown recheck outcome {outcome!r}")
    when = iso(at or utcnow())
    with transaction(ws.db):
        cur = ws.db.execute("insert into rechecks(post_id, at, outcome, http_status, capture_id, via, note) "
                            "values (?,?,?,?,?,?,?)", [post_id, when, outcome, http_status, capture_id, via, note])
        custody.append(ws.db, "recheck", {"post_id": post_id, "outcome": outcome, "http_status": http_status,
                                          "capture_id": capture_id, "via": via, "note": note},
                       subject_type="post", subject_id=post_id, at=when)
        return cur.lastrowid


def rechecks_for_post(ws, post_id: int) -> list[dict]:
    return rows(ws.db, "select * from rechecks where post_id = ? order by at, id", [post_id])


# ------------------------------------------------------------------- report
def _hours(a: str, b: str) -> float:
    return (to_utc(b) - to_utc(a)).total_seconds() / 3600.0


def _figures(notices: list[dict]) -> dict:
    sent = [n for n in notices if any(e["status"] == "sent" for e in n["events"])]
    by_status: dict[str, int] = {s: 0 for s in NOTICE_STATUSES}
    for n in notices:
        by_status[n["status"]] += 1
    delays = []
    for n in sent:
        if n["status"] != "removed":
            continue
        t_sent = next(e["at"] for e in n["events"] if e["status"] == "sent")
        t_removed = [e["at"] for e in n["events"] if e["status"] == "removed"][-1]
        delays.append(_hours(t_sent, t_removed))
    answered = [n for n in sent if n["status"] in ("acknowledged", "removed", "refused")]
    acted = [n for n in sent if n["status"] == "removed"]

    def share(part, whole):
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "notices": len(notices),
        "by_status": by_status,
        "sent": len(sent),
        "pending": sum(1 for n in sent if n["status"] in ("sent", "acknowledged")),
        "acted_on": len(acted),
        "share_acted_on": share(acted, sent),
        "share_answered": share(answered, sent),
        "hours_to_removal": {
            "n": len(delays),
            "median": round(statistics.median(delays), 2) if delays else None,
            "mean": round(statistics.fmean(delays), 2) if delays else None,
            "min": round(min(delays), 2) if delays else None,
            "max": round(max(delays), 2) if delays else None,
        },
    }


def case_report(ws, name: str) -> dict:
    """Outcomes of a case's notices: per platform and overall.

    ``share_acted_on`` = notices marked removed / notices ever sent;
    ``share_answered`` also counts acknowledged and refused;
    ``hours_to_removal`` runs from the ``sent`` date to the ``removed`` date.
    Complaints are counted apart (they go to prosecutors, not platforms).
    """
    case = get_case(ws, name)
    notices = case_notices(ws, case["id"])
    takedowns = [n for n in notices if n["kind"] == "notice"]
    platforms = sorted({n["platform"] or "-" for n in takedowns})
    per_platform = {p: _figures([n for n in takedowns if (n["platform"] or "-") == p]) for p in platforms}
    post_ids = case_post_ids(ws, case["id"])
    post_status: dict[str, int] = {}
    for pid in post_ids:
        r = ws.db.execute("select status from posts where id = ?", [pid]).fetchone()
        post_status[r[0]] = post_status.get(r[0], 0) + 1
    complaints = [n for n in notices if n["kind"] == "complaint"]
    return {
        "case": case["name"],
        "generated_at": iso(utcnow()),
        "overall": _figures(takedowns),
        "per_platform": per_platform,
        "complaints": {"n": len(complaints), "by_status": {s: sum(1 for c in complaints if c["status"] == s)
                                                           for s in NOTICE_STATUSES}},
        "posts": {"n": len(post_ids), "by_status": post_status},
        "definitions": {
            "share_acted_on": "notices marked removed / notices marked sent",
            "share_answered": "notices acknowledged, removed or refused / notices marked sent",
            "hours_to_removal": "from the 'sent' date to the 'removed' date of each removed notice",
        },
    }
