"""Migration of the seller-clustering area (issue 6), appended to ``storage.schema.MIGRATIONS``."""

from __future__ import annotations

import sqlite_utils


def migrate_sellers_clustering(db: sqlite_utils.Database) -> None:
    """State for incremental clustering, and columns the seller commands need."""
    statements = [
        # One row per post already clustered: its MinHash signature and the
        # content version clustered. Posts without a row are "new" for `veille cluster`.
        """create table cluster_posts (
            post_id integer primary key references posts(id),
            sig blob,
            content_sha256 text,
            clustered_at text not null
        )""",
        # Blocking keys (identifiers, LSH bands, handle and photo keys) of the
        # clustered posts, as stable 63-bit integers, with the post's author key:
        # an incremental run looks new posts' keys up here instead of comparing pairs.
        """create table cluster_keys (
            key integer not null,
            post_id integer not null,
            author integer not null,
            primary key (key, post_id)
        ) without rowid""",
        "create index cluster_keys_post on cluster_keys(post_id)",
        "alter table sellers add column merged_into integer",
        "alter table seller_decisions add column posts_b text not null default '[]'",
        "alter table seller_links add column run_id integer",
        "create index sellers_status on sellers(status)",
        "create index seller_decisions_a on seller_decisions(seller_a)",
    ]
    for sql in statements:
        db.execute(sql)


def migrate_cluster_posts_no_fk(db: sqlite_utils.Database) -> None:
    """``cluster_posts`` without a foreign key to ``posts``: a retention purge may delete a post that was
    clustered before being classified ``none`` (its clustering state is then simply stale)."""
    db.execute("""create table cluster_posts_new (
        post_id integer primary key,
        sig blob,
        content_sha256 text,
        clustered_at text not null
    )""")
    db.execute("insert into cluster_posts_new(post_id, sig, content_sha256, clustered_at) "
               "select post_id, sig, content_sha256, clustered_at from cluster_posts")
    db.execute("drop table cluster_posts")
    db.execute("alter table cluster_posts_new rename to cluster_posts")


def migrate_edited_posts_index(db: sqlite_utils.Database) -> None:
    """A partial index of the posts that have more than one version: an incremental ``veille cluster``
    finds the clustered posts whose content changed since without scanning all posts."""
    db.execute("create index posts_edited on posts(id) where version > 1")


# The posts that are not the seller's own (a buyer, a victim, someone who replied in a group: author_role
# third_party…). Queries must use this expression verbatim for SQLite to use the partial index below.
NOT_SELLER_ROLE = "coalesce(lower(author_role), '') not in ('', 'seller', 'author', 'channel', 'admin', 'owner')"


def migrate_not_seller_role_index(db: sqlite_utils.Database) -> None:
    """A partial index of the posts whose author is not the seller: clustering leaves them out, and an
    incremental ``veille cluster`` finds the clustered ones whose role changed without scanning all posts."""
    db.execute(f"create index posts_not_seller_role on posts(id) where {NOT_SELLER_ROLE}")
