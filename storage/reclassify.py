"""Re-classification of stored posts after a lexicon change (``veille classify --db``).

SQL stays here; the matcher functions are passed in, so storage does not depend
on matchers. Each post is updated in its own small transaction through
:func:`storage.posts.set_verdict`, so killing the command leaves every post
either fully re-classified (verdict, lexicon version and entities) or untouched;
re-running skips posts already classified with the current lexicon version
(unless ``force``), so it finishes the job without doing it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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

    for row in iter_posts_to_classify(ws, None if force else lexicon_version):
        rep.seen += 1
        try:
            post = row_to_post(row)
            verdict = classify(post.full_text, lang_hint=post.lang)
            entities = extract(post.full_text) if extract is not None else None
        except Exception as exc:  # noqa: BLE001 - one bad post must not stop the run
            log.warning("re-classification of post %s failed: %s: %s", row["id"], type(exc).__name__, exc)
            rep.failed.append((row["id"], f"{type(exc).__name__}: {exc}"))
            continue
        if (row.get("category"), row.get("subtype")) != (verdict.category, verdict.subtype):
            rep.changed += 1
        rep.by_category[verdict.category] = rep.by_category.get(verdict.category, 0) + 1
        pending.append((row["id"], verdict, entities))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return rep
