"""Bulk analysis (classify, then extract, chunk by chunk) and ``veille classify``'s line-by-line reading.

:func:`analyse_many` runs ``classify`` over a chunk of texts, then ``extract``
over the same chunk, rather than alternating the two per text: each stage's
working set (the interpreter's view of its code, its allocator pools) then
stays in the CPU caches for a whole chunk (+3 to +8 % posts per CPU-second at
100k posts, +11 % against per-post calls that keep their results as ingestion
does; ``bench/classify_throughput.py`` and docs/classifier.md, "Bulk analysis").
Results are identical to calling the two per text (they are pure functions),
and so is failure isolation: a stage that raises on one text leaves that
text's result empty with its exception, and every other text and stage goes
on. Every bulk path uses it: ``veille classify`` (:func:`classify_lines`),
``storage.ingest.ingest_many``, ``storage.reclassify`` and the daily run's
classify stage.

:func:`classify_lines`: every input line gives exactly one output object, in
order. A line that cannot be used (invalid UTF-8, invalid JSON, not an object,
no ``text`` string, too long) gives ``{"line", "id", "error"}`` and the run
goes on; a matcher failure on one line is reported the same way. Lines are read
and answered a chunk at a time (at most ``chunk`` lines, :data:`CHUNK` by
default, or :data:`CHUNK_CHARS` characters of text); ``veille classify`` asks
for chunks of one line when it reads a pipe or a terminal, so a live stream is
answered line by line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .classify import classify
from .types import Entities, Verdict

T = TypeVar("T")

#: Lines longer than this many bytes are refused with a per-line error.
MAX_LINE_BYTES = 4 * 1024 * 1024

#: Texts per chunk: classify runs over this many texts, then extract over the same ones. Chosen with
#: ``bench/classify_throughput.py --chunks 64,128,256,512,1024`` (docs/classifier.md, "Bulk analysis").
CHUNK = 256

#: A chunk also ends once its texts hold this many characters, so memory stays bounded whatever
#: the texts' lengths (a chunk of 256 texts of 4 MB each would not be).
CHUNK_CHARS = 1_000_000


@dataclass(slots=True)
class Outcome:
    """What the two stages gave for one text: each stage's result, or the exception it raised."""

    verdict: Verdict | None = None
    entities: Entities | None = None
    classify_error: Exception | None = None
    extract_error: Exception | None = None

    def errors(self) -> dict[str, str]:
        """``{stage: "ExceptionType: message"}`` for each stage that raised."""
        out = {}
        if self.classify_error is not None:
            out["classify"] = describe(self.classify_error)
        if self.extract_error is not None:
            out["extract"] = describe(self.extract_error)
        return out


def describe(exc: BaseException) -> str:
    """``"ExceptionType: message"``, how every bulk path reports a stage failure."""
    return f"{type(exc).__name__}: {exc}"


def _package_extract():
    from . import extract  # the package's extract: the real one, or a stub that raises if it failed to import

    return extract


def analyse_chunk(texts: Sequence[str], langs: Sequence[str | None] | None = None, *,
                  classify_fn: Callable | None = None, extract_fn: Callable | None = None,
                  with_entities: bool = True) -> list[Outcome]:
    """Classify every text of ``texts`` (with its ``langs`` hint), then extract from every text.

    One :class:`Outcome` per text, in order. ``classify_fn``/``extract_fn`` default to the
    matchers' own; a stage raising on a text is caught for that text only (``except Exception``,
    as per-text code does), and extract runs on every text even where classify raised.
    """
    cls = classify if classify_fn is None else classify_fn
    out = [Outcome() for _ in texts]
    for o, text, lang in zip(out, texts, [None] * len(texts) if langs is None else langs, strict=True):
        try:
            o.verdict = cls(text, lang_hint=lang)
        except Exception as exc:  # noqa: BLE001 - one text's failure must not stop the others
            o.classify_error = exc
    if with_entities:
        ext = _package_extract() if extract_fn is None else extract_fn
        for o, text in zip(out, texts, strict=True):
            try:
                o.entities = ext(text)
            except Exception as exc:  # noqa: BLE001
                o.extract_error = exc
    return out


def chunks(items: Iterable[T], size: int = CHUNK, max_chars: int = CHUNK_CHARS,
           length: Callable[[T], int] | None = None) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items; with ``length``, a list also ends once the
    lengths of its items reach ``max_chars`` (an item longer than that is a list on its own)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    buf: list[T] = []
    total = 0
    for item in items:
        buf.append(item)
        if length is not None:
            total += length(item)
        if len(buf) >= size or total >= max_chars:
            yield buf
            buf = []
            total = 0
    if buf:
        yield buf


def analyse_many(texts: Iterable[str], langs: Iterable[str | None] | None = None, *, chunk: int = CHUNK,
                 classify_fn: Callable | None = None, extract_fn: Callable | None = None,
                 with_entities: bool = True) -> Iterator[Outcome]:
    """:func:`analyse_chunk` over a stream of texts, a chunk at a time (bounded memory).

    Yields one :class:`Outcome` per text, in order; ``langs``, when given, is consumed in step with
    ``texts``. A chunk is at most ``chunk`` texts and :data:`CHUNK_CHARS` characters.
    """
    pairs = ((t, None) for t in texts) if langs is None else zip(texts, langs, strict=True)
    for part in chunks(pairs, chunk, CHUNK_CHARS, length=_pair_len):
        yield from analyse_chunk([t for t, _ in part], [g for _, g in part], classify_fn=classify_fn,
                                 extract_fn=extract_fn, with_entities=with_entities)


def _pair_len(pair: tuple[Any, Any]) -> int:
    text = pair[0]
    return len(text) if isinstance(text, str) else 0


# ------------------------------------------------------------------ veille classify
def _result(text: str, id_: Any, o: Outcome, with_entities: bool) -> dict:
    v = o.verdict
    out = {"id": id_, "category": v.category, "subtype": v.subtype, "score": round(v.score, 4),
           "reasons": [r.to_dict() for r in v.reasons], "entities": [], "lexicon_version": v.lexicon_version}
    if with_entities:
        if o.extract_error is not None:
            out["entities_error"] = describe(o.extract_error)
        else:
            out["entities"] = [e.to_dict() for e in o.entities]
    return out


def _parse(lineno: int, raw: bytes, plain: bool) -> dict | tuple[str, Any, str | None]:
    """A line's error object, or its ``(text, id, lang)``."""
    if len(raw) > MAX_LINE_BYTES:
        return {"line": lineno, "id": None, "error": f"line longer than {MAX_LINE_BYTES} bytes"}
    raw = raw.rstrip(b"\r\n")
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"line": lineno, "id": None, "error": f"invalid UTF-8 at byte {exc.start}"}
    if plain:
        return (s, lineno, None)
    if not s.strip():
        return {"line": lineno, "id": None, "error": "empty line"}
    try:
        obj = json.loads(s)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        return {"line": lineno, "id": None, "error": f"invalid JSON: {msg}"}
    if not isinstance(obj, dict):
        return {"line": lineno, "id": None, "error": "a line must be a JSON object with a \"text\" string"}
    id_ = obj.get("id")
    if id_ is not None and not isinstance(id_, (str, int)):
        id_ = json.dumps(id_, ensure_ascii=False)[:200]
    text = obj.get("text")
    if not isinstance(text, str):
        return {"line": lineno, "id": id_, "error": "missing or non-string \"text\""}
    lang = obj.get("lang") if isinstance(obj.get("lang"), str) else None
    return (text, id_, lang)


def _parsed_len(item: tuple[int, dict | tuple]) -> int:
    p = item[1]
    return len(p[0]) if isinstance(p, tuple) else 0


def classify_lines(lines: Iterable[bytes], plain: bool = False, with_entities: bool = True,
                   chunk: int = CHUNK) -> Iterator[dict]:
    """Classify each line (bytes, with or without its newline); yield one dict per line, in order.

    Lines are parsed, then analysed with :func:`analyse_chunk`, ``chunk`` lines at a time.
    """
    parsed = ((lineno, _parse(lineno, raw, plain)) for lineno, raw in enumerate(lines, 1))
    for part in chunks(parsed, chunk, CHUNK_CHARS, length=_parsed_len):
        todo = [p for _, p in part if isinstance(p, tuple)]
        outcomes = iter(analyse_chunk([t for t, _, _ in todo], [g for _, _, g in todo],
                                      with_entities=with_entities))
        for lineno, p in part:
            if isinstance(p, dict):
                yield p
                continue
            text, id_, _ = p
            o = next(outcomes)
            if o.classify_error is not None:
                yield {"line": lineno, "id": id_, "error": f"classify failed: {describe(o.classify_error)}"}
            else:
                yield _result(text, id_, o, with_entities)
