"""The pipeline for one Post: classify, extract, save.

Each stage is isolated in the manner of auto-archiver: a stage that fails is
logged with its name, recorded on the result, and the next stages still run.
A post whose classification failed is still saved (with no verdict), so no
evidence is lost because a matcher broke.

:func:`ingest_many` analyses each batch with ``matchers.batch.analyse_many``
(classify over a chunk of posts, then extract over the same chunk: faster than
alternating per post, same results and the same per-post, per-stage isolation);
:func:`ingest` keeps the per-post :func:`analyse`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .db import transaction
from .post import Post
from .posts import Capture, SaveResult, save_post, store_artifacts

log = logging.getLogger("veille.ingest")


@dataclass
class Analysis:
    verdict: object | None = None
    entities: object | None = None
    errors: dict[str, str] = field(default_factory=dict)


def analyse(post: Post) -> Analysis:
    """Run the matchers on a post; stage failures are caught and named."""
    out = Analysis()
    text = post.full_text
    try:
        from matchers import classify

        out.verdict = classify(text, lang_hint=post.lang)
    except Exception as exc:  # noqa: BLE001 - a stage failure must not stop the others
        log.warning("stage classify failed for %s: %s: %s", post.dedupe_key(), type(exc).__name__, exc)
        out.errors["classify"] = f"{type(exc).__name__}: {exc}"
    try:
        from matchers import extract

        out.entities = extract(text)
    except Exception as exc:  # noqa: BLE001
        log.warning("stage extract failed for %s: %s: %s", post.dedupe_key(), type(exc).__name__, exc)
        out.errors["extract"] = f"{type(exc).__name__}: {exc}"
    return out


def _from_outcome(post: Post, o) -> Analysis:
    """An :class:`Analysis` from a ``matchers.batch.Outcome``, stage failures logged by name."""
    out = Analysis(verdict=o.verdict, entities=o.entities)
    for stage, err in o.errors().items():
        log.warning("stage %s failed for %s: %s", stage, post.dedupe_key(), err)
        out.errors[stage] = err
    return out


def analyse_batch(posts: list[Post]) -> list[Analysis]:
    """:func:`analyse` for many posts, stage by stage over chunks (``matchers.batch.analyse_many``).

    The same results and per-post, per-stage failures as :func:`analyse` on each post. If the
    matchers cannot even be imported, every post gets that failure for both stages, as with
    :func:`analyse`.
    """
    try:
        from matchers.batch import analyse_many
    except Exception:  # noqa: BLE001 - no matchers: each post records the failure, as analyse does
        return [analyse(p) for p in posts]
    texts = [p.full_text for p in posts]
    outcomes = analyse_many(texts, [p.lang for p in posts])
    return [_from_outcome(p, o) for p, o in zip(posts, outcomes, strict=True)]


@dataclass
class IngestResult:
    save: SaveResult
    analysis: Analysis

    @property
    def positive(self) -> bool:
        v = self.analysis.verdict
        return v is not None and getattr(v, "category", "none") != "none"


def ingest(ws, post: Post, capture: Capture | None = None) -> IngestResult:
    """Classify, extract and save one post (one transaction)."""
    analysis = analyse(post)
    res = save_post(ws, post, capture, verdict=analysis.verdict, entities=analysis.entities)
    return IngestResult(res, analysis)


def ingest_many(ws, items: Iterable[tuple[Post, Capture | None]], batch_size: int = 500) -> Iterator[IngestResult]:
    """Ingest a stream of posts, committing every ``batch_size`` posts.

    A kill between batches loses only the uncommitted batch; re-running
    re-ingests it without duplicates (posts are keyed, captures may carry a
    ``capture_key``).
    """
    batch: list[tuple[Post, Capture | None]] = []

    def flush() -> list[IngestResult]:
        out = []
        analyses = analyse_batch([post for post, _ in batch])
        for _, cap in batch:
            if cap is not None:
                store_artifacts(ws, cap)
        with transaction(ws.db):
            for (post, cap), analysis in zip(batch, analyses, strict=True):
                res = save_post(ws, post, cap, verdict=analysis.verdict, entities=analysis.entities)
                out.append(IngestResult(res, analysis))
        batch.clear()
        return out

    for post, cap in items:
        batch.append((post, cap))
        if len(batch) >= batch_size:
            yield from flush()
    if batch:
        yield from flush()
