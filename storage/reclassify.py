"""Re-classification of stored posts after a lexicon change (``veille classify --db``).

SQL stays here; the matcher functions are passed in (they run through
``matchers.batch.analyse_chunk``, which runs whatever functions it is given:
classify over a chunk of posts, then extract over the same chunk, faster than
alternating per post, with the same results and the same per-post isolation). Each post is updated in its own small transaction through
:func:`storage.posts.set_verdict`, so killing the command leaves every post
either fully re-classified (verdict, lexicon version and entities) or untouched;
re-running skips posts already classified with the current lexicon version
(unless ``force``), so it finishes the job without doing it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .db import rows, transaction
from .posts import row_to_post, set_verdict

log = logging.getLogger("veille.reclassify")


def iter_posts_to_classify(ws, lexicon_version: str | None = None, batch: int = 500) -> Iterator[dict]:
    """Stored post rows in id order; with ``lexicon_version``, only those classified with another one."""
    last = 0
    while True:
        if lexicon_version is None:
            page = rows(ws.db, "select * from posts where id > ? order by id limit ?", [last, batch])
        else:
            page = rows(ws.db, "select * from posts where id > ? and (lexicon_version is null or lexicon_version != ?)"
                        " order by id limit ?", [last, lexicon_version, batch])
        if not page:
            return
        yield from page
        last = page[-1]["id"]


@dataclass
class ReclassifyReport:
    lexicon_version: str
    seen: int = 0
    changed: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"lexicon_version": self.lexicon_version, "seen": self.seen, "changed": self.changed,
                "failed": [{"post_id": i, "error": e} for i, e in self.failed], "by_category": self.by_category}


def reclassify_posts(ws, classify: Callable, extract: Callable | None, lexicon_version: str,
                     force: bool = False, batch: int = 200) -> ReclassifyReport:
    """Re-run ``classify`` (and ``extract``) on stored posts and save the results.

    A post whose matcher raises keeps its previous verdict and is reported in
    ``failed``; the others go on.
    """
    rep = ReclassifyReport(lexicon_version)
    pending: list[tuple[int, object, object]] = []

    def flush() -> None:
        with transaction(ws.db):
            for post_id, verdict, entities in pending:
                set_verdict(ws, post_id, verdict, entities)
        pending.clear()

    for row, verdict, entities in analyse_rows(iter_posts_to_classify(ws, None if force else lexicon_version),
                                               classify, extract, rep):
        if (row.get("category"), row.get("subtype")) != (verdict.category, verdict.subtype):
            rep.changed += 1
        pending.append((row["id"], verdict, entities))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return rep


def analyse_rows(post_rows: Iterable[dict], classify: Callable, extract: Callable | None,
                 rep: ReclassifyReport) -> Iterator[tuple[dict, object, object]]:
    """``(row, verdict, entities)`` for each stored post row whose matchers all succeeded, in order.

    Rows are analysed a chunk at a time (``matchers.batch.analyse_chunk``). Counts each row in
    ``rep.seen`` and each verdict in ``rep.by_category``; a row that cannot be read as a post or
    whose classify or extract raised goes to ``rep.failed`` (logged with the stage's name), and
    the others go on.
    """
    from matchers.batch import CHUNK, analyse_chunk, chunks, describe

    for part in chunks(post_rows, CHUNK):
        ready: list[tuple[dict, object]] = []
        for row in part:
            rep.seen += 1
            try:
                ready.append((row, row_to_post(row)))
            except Exception as exc:  # noqa: BLE001 - one bad post must not stop the run
                log.warning("re-classification of post %s failed: reading the row: %s", row["id"], describe(exc))
                rep.failed.append((row["id"], describe(exc)))
        outcomes = analyse_chunk([p.full_text for _, p in ready], [p.lang for _, p in ready],
                                 classify_fn=classify, extract_fn=extract, with_entities=extract is not None)
        for (row, _), o in zip(ready, outcomes, strict=True):
            err = o.classify_error or o.extract_error
            if err is not None:
                stage = "classify" if o.classify_error is not None else "extract"
                log.warning("re-classification of post %s failed: stage %s: %s", row["id"], stage, describe(err))
                rep.failed.append((row["id"], describe(err)))
                continue
            rep.by_category[o.verdict.category] = rep.by_category.get(o.verdict.category, 0) + 1
            yield row, o.verdict, o.entities
