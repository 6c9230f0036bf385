"""SQLite connection and transactions.

The connection runs in autocommit mode (``isolation_level=None``) so that
transactions are explicit: :func:`transaction` opens ``BEGIN IMMEDIATE`` and
either commits or rolls back. Inside a transaction only ``db.execute`` is used:
sqlite-utils' write helpers wrap their own ``with conn:`` and would commit early.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from .errors import InputError


def connect(path: Path | str, readonly: bool = False) -> sqlite_utils.Database:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=30)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return sqlite_utils.Database(conn)


def tune_for_group_commits(db: sqlite_utils.Database) -> None:
    """Set up a connection that runs many small calls, each in its own :func:`savepoint`, inside larger
    transactions (the crawl's storage writer, ``spiders.writer.DbWriter``).

    SQLite keeps the pages a savepoint may have to roll back in a statement journal, by default a temporary file:
    for a crawl that was ~140 KB and ~60 write calls per ad, more than all its other writes (the WAL and the
    evidence). In memory, that journal holds at most the pages of one group of calls, and is needed only while
    the transaction is open (a crash loses the uncommitted group either way). Temporary tables and sorts of this
    connection go to memory too, which is why other connections keep SQLite's default."""
    db.conn.execute("PRAGMA temp_store=MEMORY")


def begin(db: sqlite_utils.Database) -> None:
    """Open a write transaction (``BEGIN IMMEDIATE``) unless one is open."""
    if not db.conn.in_transaction:
        db.conn.execute("BEGIN IMMEDIATE")


def commit(db: sqlite_utils.Database) -> None:
    """Commit the open transaction, if any (a call may have committed on its own)."""
    if db.conn.in_transaction:
        db.conn.execute("COMMIT")


def rollback(db: sqlite_utils.Database) -> None:
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


@contextmanager
def savepoint(db: sqlite_utils.Database, name: str = "veille_call") -> Iterator[sqlite_utils.Database]:
    """A nested unit of work inside the open transaction: an exception rolls back only its own writes (and is
    raised again); the enclosing transaction goes on."""
    conn = db.conn
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield db
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One atomic unit of work. Nested calls join the outer transaction."""
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def fts_query(db: sqlite_utils.Database, table: str, query: str, limit: int = 50) -> list[dict]:
    """Run an FTS5 MATCH; bad syntax becomes an InputError, not a traceback."""
    sql = (
        f"select {table}.*, rank from {table} join {table}_fts on {table}_fts.rowid = {table}.id "  # noqa: S608
        f"where {table}_fts match ? order by rank limit ?"
    )
    try:
        return [dict(r) for r in _rows(db, sql, [query, limit])]
    except sqlite3.OperationalError as exc:
        raise InputError(f"bad search query {query!r}: {exc}") from exc


def _rows(db: sqlite_utils.Database, sql: str, params) -> list[dict]:
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def rows(db: sqlite_utils.Database, sql: str, params=()) -> list[dict]:
    """Query helper returning dicts (for storage modules only)."""
    return _rows(db, sql, params)
