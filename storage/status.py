"""Workspace status and the integrity check of the evidence store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import custody
from .db import rows
from .evidence import sha256_file


def workspace_status(ws) -> dict[str, Any]:
    db = ws.db
    by_platform = rows(db, "select platform, count(*) as posts, sum(status != 'live') as gone from posts "
                           "group by platform order by platform")
    by_category = rows(db, "select coalesce(category, 'unclassified') as category, coalesce(subtype, '') as subtype, "
                           "count(*) as posts from posts group by 1, 2 order by 1, 2")
    # the last run of each source and kind: a site's crawl is not hidden by the re-check that followed it
    last_runs = rows(db, "select r.source, r.kind, r.started_at, r.finished_at, r.status, r.items, r.error from runs r "
                         "join (select max(id) as id from runs group by source, kind) m on m.id = r.id "
                         "order by r.source, r.kind")
    # pages answered by a challenge or captcha during each source's last run: a run that was only partly
    # blocked still names its source (a wholly blocked run has status 'blocked')
    blocked_pages = {r["source"]: r["n"] for r in rows(
        db, "select r.source as source, count(distinct c.id) as n from runs r "
            "join (select max(id) as id from runs group by source, kind) m on m.id = r.id "
            "join captures c on json_extract(c.extra, '$.site') = r.source and c.fetched_at >= r.started_at "
            "and (r.finished_at is null or c.fetched_at <= r.finished_at) "
            "where c.outcome = 'blocked' group by r.source")}
    blobs = rows(db, "select count(*) as n, coalesce(sum(size), 0) as bytes from blobs")[0]
    sellers = rows(db, "select count(*) as n from sellers")[0]["n"]
    alerts = rows(db, "select kind, count(*) as n from alerts where seen = 0 group by kind order by kind")
    db_file = ws.path("veille.db")
    db_bytes = sum(p.stat().st_size for p in ws.root.glob("veille.db*") if p.is_file()) if db_file.exists() else 0
    return {
        "workspace": str(ws.root),
        "schema_version": ws.schema_version,
        "posts": sum(r["posts"] for r in by_platform),
        "by_platform": by_platform,
        "by_category": by_category,
        "last_runs": last_runs,
        "blocked_sources": list(dict.fromkeys(r["source"] for r in last_runs
                                              if r["status"] == "blocked" or r["source"] in blocked_pages)),
        "blocked_pages": blocked_pages,
        "failed_sources": list(dict.fromkeys(r["source"] for r in last_runs if r["status"] == "failed")),
        "sellers": sellers,
        "alerts": alerts,
        "custody_entries": rows(db, "select count(*) as n from custody_log")[0]["n"],
        "store": {"blobs": blobs["n"], "bytes": blobs["bytes"], "database_bytes": db_bytes},
    }


@dataclass
class VerifyReport:
    blobs_checked: int = 0
    custody_entries: int = 0
    temp_files: int = 0  # temporary files under the store (interrupted writes; not blobs, not checked)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "blobs_checked": self.blobs_checked, "custody_entries": self.custody_entries,
                "temp_files": self.temp_files, "problems": self.problems}


def verify_store(ws, record: bool = True) -> VerifyReport:
    """Recompute every blob's hash and the whole custody chain.

    Reports blobs whose content does not match their name, blobs the database
    references but the store lacks, and every broken custody entry. The result
    is itself recorded in the custody log (``verification``).
    """
    report = VerifyReport()
    on_disk: set[str] = set()
    for name, path in ws.store.iter_blobs():
        report.blobs_checked += 1
        on_disk.add(name)
        try:
            actual = sha256_file(path)
        except OSError as exc:
            report.problems.append(f"blob {name}: unreadable ({exc})")
            continue
        if actual != name:
            report.problems.append(f"blob {name}: content hash is {actual} (file {path})")
    for r in ws.db.conn.execute("select sha256, size from blobs"):
        if r[0] not in on_disk:
            report.problems.append(f"blob {r[0]}: referenced in the database but missing from the store")
    report.temp_files = sum(1 for _ in ws.store.temp_files())
    count, problems = custody.verify_chain(ws.db)
    report.custody_entries = count
    report.problems.extend(problems)
    if record:
        custody.append(ws.db, "verification", {"event": "verify-store", "ok": report.ok,
                                                "blobs_checked": report.blobs_checked,
                                                "custody_entries": count, "problems": report.problems[:50]})
    return report
