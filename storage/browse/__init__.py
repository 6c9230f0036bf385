"""``veille browse``: Datasette, read-only, on the workspace database, on 127.0.0.1.

:func:`datasette_metadata` describes every table and column (from
``metadata.toml``), declares the full-text index of ``posts`` and the canned
queries (new offers today, sellers on 2+ platforms, identifiers shared by 2+
sellers, removed posts, the evidence of one post). The plugin in ``plugins/``
turns SHA-256 cells into links to the evidence files and post ids into links
to their evidence list. Datasette opens the database read-only; the daily job
can keep writing to it meanwhile.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from ..db import rows
from ..errors import InputError

IDENTIFYING = "('phone','whatsapp','telegram','snapchat','instagram','tiktok','email','wallet','iban')"

CANNED_QUERIES: dict[str, dict[str, str]] = {
    "new_offers_today": {
        "title": "New offers today",
        "description": "Posts first seen today (UTC) and classified as an offer.",
        "sql": "select p.id as post_id, p.platform, p.category, p.subtype, p.price, p.currency, p.title, "
               "substr(p.text, 1, 300) as text, p.url, p.seller_id, p.first_seen_at from posts p "
               "where p.category is not null and p.category != 'none' "
               "and p.first_seen_at >= strftime('%Y-%m-%dT00:00:00Z', 'now') order by p.first_seen_at desc",
    },
    "sellers_multi_platform": {
        "title": "Sellers active on 2 or more platforms",
        "description": "Sellers whose posts were found on at least two platforms.",
        "sql": "select s.id as seller_id, s.label, count(distinct p.platform) as platforms, "
               "group_concat(distinct p.platform) as platform_list, count(p.id) as posts, "
               "min(p.first_seen_at) as first_seen, max(p.last_seen_at) as last_seen "
               "from sellers s join posts p on p.seller_id = s.id group by s.id "
               "having count(distinct p.platform) >= 2 order by platforms desc, posts desc",
    },
    "shared_identifiers": {
        "title": "Identifiers shared by 2 or more sellers",
        "description": "Phones, handles, e-mails, wallets or IBANs found in the posts of several sellers: "
                       "candidates for a merge, or a shared agency number.",
        "sql": "select e.kind, e.value, count(distinct p.seller_id) as sellers, "  # noqa: S608 - constant list
               "group_concat(distinct p.seller_id) as seller_ids, count(distinct p.id) as posts "
               f"from entities e join posts p on p.id = e.post_id where p.seller_id is not null and e.kind in "
               f"{IDENTIFYING} group by e.kind, e.value having count(distinct p.seller_id) >= 2 "
               "order by sellers desc, posts desc",
    },
    "removed_posts": {
        "title": "Removed posts",
        "description": "Posts removed from a site or deleted from Telegram, with the capture that proves it.",
        "sql": "select p.id as post_id, p.platform, p.status, p.status_at, p.title, substr(p.text, 1, 300) as text, p.url, "
               "p.seller_id, p.status_capture_id from posts p where p.status in ('removed', 'deleted') "
               "order by p.status_at desc",
    },
    "post_evidence": {
        "title": "Evidence of one post",
        "description": "Every capture of a post and its files; click a SHA-256 to open the file.",
        "sql": "select c.id as capture_id, c.kind, c.fetched_at, c.url, c.http_status, c.outcome, a.role, a.mime, "
               "a.sha256 from captures c join artifacts a on a.capture_id = c.id where c.post_id = :post_id "
               "order by c.fetched_at, c.id",
    },
}


def _descriptions() -> dict[str, Any]:
    return tomllib.loads(resources.files(__package__).joinpath("metadata.toml").read_text("utf-8")).get("tables", {})


def schema_tables(db) -> dict[str, list[str]]:
    out = {}
    for r in rows(db, "select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%' "
                      "and name not like 'posts_fts%' order by name"):
        out[r["name"]] = [c["name"] for c in rows(db, f"pragma table_info('{r['name']}')")]
    return out


def datasette_metadata(ws) -> dict[str, Any]:
    desc = _descriptions()
    tables: dict[str, Any] = {}
    for table, cols in schema_tables(ws.db).items():
        d = desc.get(table, {})
        tables[table] = {"description": d.get("description", "(not described yet)"),
                         "columns": {c: (d.get("columns") or {}).get(c, "(not described yet)") for c in cols}}
    tables["posts"].update({"fts_table": "posts_fts", "fts_pk": "id", "sort_desc": "first_seen_at",
                            "label_column": "title"})
    tables["custody_log"]["sort"] = "seq"
    return {
        "title": f"veille: {ws.config.get('workspace.name', 'workspace')}",
        "description": "Read-only view of a veille workspace. Scraped text is shown as data. Click a SHA-256 to "
                       "open an evidence file, a post id's 'evidence' link to list its captures.",
        "databases": {"veille": {"tables": tables, "queries": CANNED_QUERIES}},
        "plugins": {"veille-evidence": {"store": str(ws.store.root)}},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def datasette_command(ws, port: int, metadata_path: Path) -> list[str]:
    plugins = Path(str(resources.files(__package__).joinpath("plugins")))
    return [sys.executable, "-m", "datasette", "serve", str(ws.path("veille.db")), "--host", "127.0.0.1",
            "--port", str(port), "--metadata", str(metadata_path), "--plugins-dir", str(plugins),
            "--setting", "sql_time_limit_ms", "5000", "--setting", "allow_download", "off"]


def prepare(ws, port: int | None = None) -> tuple[list[str], Path, int]:
    """Write the metadata file (in the workspace's .browse/ folder) and return the Datasette command."""
    if port is not None and not (1 <= port <= 65535):
        raise InputError(f"--port must be between 1 and 65535, got {port}")
    port = port or free_port()
    folder = ws.path(".browse")
    folder.mkdir(exist_ok=True)
    meta = folder / "metadata.json"
    meta.write_text(json.dumps(datasette_metadata(ws), ensure_ascii=False, indent=1), encoding="utf-8")
    return datasette_command(ws, port, meta), meta, port


def serve(ws, port: int | None = None) -> int:
    """Run Datasette in the foreground until interrupted; return its exit code."""
    cmd, _meta, port = prepare(ws, port)
    proc = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and arguments
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return 0
