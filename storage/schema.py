"""Schema and migrations.

Migrations are named and applied in list order; applied names are recorded in
``schema_migrations``. The schema version is the number applied. To change
the schema, append a new ``(name, function)`` to ``MIGRATIONS``: never edit
one that has shipped. Each migration runs in its own transaction.

The numbers in the names are part of the names, not the order: parts of
veille written in parallel took numbers out of sequence, and a shipped name
is never changed (workspaces record it). The list order is the order.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from .db import transaction
from .errors import WorkspaceError
from .post import iso, utcnow


def _m0001_core(db: sqlite_utils.Database) -> None:
    statements = [
        # Posts: one row per (platform, external_id) or (platform, url).
        """create table posts (
            id integer primary key,
            dedupe_key text not null unique,
            platform text not null,
            source text not null default '',
            url text not null default '',
            external_id text,
            author text, author_handle text, author_url text,
            author_role text,
            title text not null default '',
            text text not null default '',
            price real, currency text,
            posted_at text, fetched_at text,
            lang text,
            media text not null default '[]',
            reply_to text, forwarded_from text,
            extra text not null default '{}',
            content_sha256 text not null,
            version integer not null default 1,
            first_seen_at text not null,
            last_seen_at text not null,
            status text not null default 'live',
            status_at text,
            status_capture_id integer,
            category text, subtype text, score real,
            reasons text, lexicon_version text, classified_at text,
            seller_id integer
        )""",
        "create index posts_platform on posts(platform)",
        "create index posts_category on posts(category)",
        "create index posts_seller on posts(seller_id)",
        "create index posts_url on posts(url)",
        # Every distinct content a post has had; version 1 is the first seen.
        """create table post_versions (
            id integer primary key,
            post_id integer not null references posts(id),
            version integer not null,
            content_sha256 text not null,
            title text, text text, price real, currency text, media text,
            edited_at text,
            recorded_at text not null,
            capture_id integer,
            unique(post_id, version)
        )""",
        # Blobs in the evidence store, by SHA-256.
        """create table blobs (
            sha256 text primary key,
            size integer not null,
            mime text,
            stored_at text not null
        )""",
        # Captures: each fetch or import, dated; never overwritten.
        """create table captures (
            id integer primary key,
            post_id integer references posts(id),
            capture_key text unique,
            kind text not null,
            url text, final_url text, method text,
            http_status integer, headers text,
            fetched_at text not null,
            tool text, tool_version text, user_agent text,
            outcome text not null default 'ok',
            note text,
            extra text not null default '{}'
        )""",
        "create index captures_post on captures(post_id)",
        "create index captures_url on captures(url)",
        # Artifacts: the blobs a capture produced (raw html, headers, screenshot, media...).
        """create table artifacts (
            id integer primary key,
            capture_id integer not null references captures(id),
            sha256 text not null references blobs(sha256),
            role text not null,
            name text,
            mime text,
            extra text not null default '{}'
        )""",
        "create index artifacts_capture on artifacts(capture_id)",
        "create index artifacts_sha on artifacts(sha256)",
        # Identifiers extracted from posts.
        """create table entities (
            id integer primary key,
            post_id integer not null references posts(id),
            kind text not null,
            value text not null,
            raw text, start integer, "end" integer,
            extra text not null default '{}',
            unique(post_id, kind, value, start)
        )""",
        "create index entities_kind_value on entities(kind, value)",
        # Append-only custody log with a hash chain.
        """create table custody_log (
            seq integer primary key,
            at text not null,
            action text not null,
            actor text not null,
            subject_type text, subject_id text,
            details text not null,
            prev_hash text not null,
            entry_hash text not null unique
        )""",
        # Runs of each source (crawls, imports, watchers) for `status` and digests.
        """create table runs (
            id integer primary key,
            source text not null,
            kind text not null,
            started_at text not null,
            finished_at text,
            status text not null default 'running',
            items integer not null default 0,
            error text
        )""",
        "create index runs_source on runs(source)",
        # Alerts: classifier hits, relisting, removals, seen by digests and status.
        """create table alerts (
            id integer primary key,
            kind text not null,
            at text not null,
            post_id integer, seller_id integer,
            message text not null,
            details text not null default '{}',
            seen integer not null default 0
        )""",
        # Sellers and the links that explain them (filled by clustering).
        """create table sellers (
            id integer primary key,
            label text,
            created_at text not null,
            updated_at text not null,
            platforms text not null default '[]',
            accounts text not null default '[]',
            identifiers text not null default '[]',
            first_seen text, last_seen text,
            post_count integer not null default 0,
            categories text not null default '[]',
            price_min real, price_max real,
            status text not null default 'active'
        )""",
        """create table seller_links (
            id integer primary key,
            post_a integer not null references posts(id),
            post_b integer not null references posts(id),
            type text not null,
            weight real not null,
            evidence text not null default '{}',
            created_at text not null
        )""",
        "create index seller_links_a on seller_links(post_a)",
        "create index seller_links_b on seller_links(post_b)",
        """create table seller_decisions (
            id integer primary key,
            kind text not null,
            seller_a integer, seller_b integer,
            posts text not null default '[]',
            at text not null,
            actor text not null,
            note text
        )""",
        # Cases, what they hold, and the notices drafted for them.
        """create table cases (
            id integer primary key,
            name text not null unique,
            created_at text not null,
            description text
        )""",
        """create table case_items (
            id integer primary key,
            case_id integer not null references cases(id),
            post_id integer references posts(id),
            seller_id integer,
            added_at text not null
        )""",
        """create table notices (
            id integer primary key,
            ref text not null unique,
            case_id integer references cases(id),
            kind text not null,
            platform text,
            lang text,
            format text,
            path text,
            sha256 text,
            status text not null default 'drafted',
            created_at text not null,
            updated_at text not null,
            details text not null default '{}'
        )""",
        """create table notice_events (
            id integer primary key,
            notice_id integer not null references notices(id),
            status text not null,
            at text not null,
            note text
        )""",
    ]
    for sql in statements:
        db.execute(sql)


def _m0002_fts(db: sqlite_utils.Database) -> None:
    db.execute(
        "create virtual table posts_fts using fts5(title, text, content='posts', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "create trigger posts_ai after insert on posts begin "
        "insert into posts_fts(rowid, title, text) values (new.id, new.title, new.text); end"
    )
    db.execute(
        "create trigger posts_ad after delete on posts begin "
        "insert into posts_fts(posts_fts, rowid, title, text) values ('delete', old.id, old.title, old.text); end"
    )
    db.execute(
        "create trigger posts_au after update of title, text on posts begin "
        "insert into posts_fts(posts_fts, rowid, title, text) values ('delete', old.id, old.title, old.text); "
        "insert into posts_fts(rowid, title, text) values (new.id, new.title, new.text); end"
    )


def _m_cases_tracking(db: sqlite_utils.Database) -> None:
    """Cases/notices (issue 8): which posts a notice covers, and liveness re-checks."""
    statements = [
        """create table notice_items (
            id integer primary key,
            notice_id integer not null references notices(id),
            post_id integer not null references posts(id),
            seller_id integer,
            unique(notice_id, post_id)
        )""",
        "create index notice_items_post on notice_items(post_id)",
        "create index notice_events_notice on notice_events(notice_id)",
        "create index case_items_case on case_items(case_id)",
        "create unique index case_items_unique on case_items(case_id, coalesce(post_id, -1), "
        "coalesce(seller_id, -1))",
        """create table rechecks (
            id integer primary key,
            post_id integer not null references posts(id),
            at text not null,
            outcome text not null,
            http_status integer,
            capture_id integer,
            via text,
            note text
        )""",
        "create index rechecks_post on rechecks(post_id)",
        "create index alerts_kind on alerts(kind, seller_id, post_id)",
    ]
    for sql in statements:
        db.execute(sql)


def _m_daily_digests(db: sqlite_utils.Database) -> None:
    """Daily job (issue 9): one row per digest written, with the window it covers."""
    db.execute("""create table digests (
        id integer primary key,
        day text not null,
        window_start text,
        window_end text not null,
        html_path text not null,
        md_path text not null,
        html_sha256 text not null,
        md_sha256 text not null,
        counts text not null default '{}',
        created_at text not null
    )""")
    db.execute("create index digests_window_end on digests(window_end)")


def _m_telegram_watchlist(db: sqlite_utils.Database) -> None:
    """Telegram (issue 5): the watch list (config channels + `discover --add`) and backfill progress."""
    db.execute("""create table telegram_channels (
        name text primary key,
        added_at text not null,
        added_by text not null,
        depth integer not null default 0,
        refs integer not null default 0,
        active integer not null default 1,
        note text
    )""")
    db.execute("""create table telegram_sync (
        chat text primary key,
        last_backfill_id integer not null default 0,
        updated_at text not null
    )""")


from .sellers_schema import (  # noqa: E402 - issue 6 (seller clustering)
    migrate_cluster_posts_no_fk,
    migrate_edited_posts_index,
    migrate_not_seller_role_index,
    migrate_sellers_clustering,
)

MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_core", _m0001_core),
    ("0002_fts", _m0002_fts),
    ("0003_cases_notice_items_rechecks", _m_cases_tracking),
    ("0009_daily_digests", _m_daily_digests),
    ("0011_telegram_watchlist_sync", _m_telegram_watchlist),
    ("0006_sellers_clustering_state", migrate_sellers_clustering),
    ("0007_sellers_cluster_posts_no_fk", migrate_cluster_posts_no_fk),
    ("0012_sellers_posts_edited_index", migrate_edited_posts_index),
    ("0013_sellers_not_seller_role_index", migrate_not_seller_role_index),
]


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if "schema_migrations" not in db.table_names():
        return []
    return [r[0] for r in db.execute("select name from schema_migrations order by id").fetchall()]


def schema_version(db: sqlite_utils.Database) -> int:
    return len(applied_migrations(db))


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; return their names."""
    db.execute(
        "create table if not exists schema_migrations (id integer primary key, name text unique not null, "
        "applied_at text not null)"
    )
    done = set(applied_migrations(db))
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        raise WorkspaceError(
            f"the database has migrations this veille does not know ({', '.join(sorted(unknown))}): "
            "upgrade veille"
        )
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with transaction(db):
            fn(db)
            db.execute("insert into schema_migrations(name, applied_at) values (?, ?)", [name, iso(utcnow())])
        applied.append(name)
    return applied
