"""Line-by-line classification for ``veille classify``: JSONL or plain text in, one JSON object out per line.

Every input line gives exactly one output object, in order. A line that cannot
be used (invalid UTF-8, invalid JSON, not an object, no ``text`` string, too
long) gives ``{"line", "id", "error"}`` and the run goes on; a matcher failure
on one line is reported the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .classify import classify

#: Lines longer than this many bytes are refused with a per-line error.
MAX_LINE_BYTES = 4 * 1024 * 1024


def _extract_fn():
    try:
        from . import extract
    except ImportError:  # pragma: no cover
        return None
    return extract


def _result(text: str, id_: Any, lineno: int, extract, lang: str | None = None) -> dict:
    try:
        v = classify(text, lang_hint=lang)
    except Exception as exc:  # noqa: BLE001 - a matcher bug on one line must not stop the run
        return {"line": lineno, "id": id_, "error": f"classify failed: {type(exc).__name__}: {exc}"}
    out = {"id": id_, "category": v.category, "subtype": v.subtype, "score": round(v.score, 4),
           "reasons": [r.to_dict() for r in v.reasons], "entities": [], "lexicon_version": v.lexicon_version}
    if extract is not None:
        try:
            out["entities"] = [e.to_dict() for e in extract(text)]
        except Exception as exc:  # noqa: BLE001
            out["entities_error"] = f"{type(exc).__name__}: {exc}"
    return out


def classify_lines(lines: Iterable[bytes], plain: bool = False, with_entities: bool = True) -> Iterator[dict]:
    """Classify each line (bytes, with or without its newline); yield one dict per line."""
    extract = _extract_fn() if with_entities else None
    for lineno, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE_BYTES:
            yield {"line": lineno, "id": None, "error": f"line longer than {MAX_LINE_BYTES} bytes"}
            continue
        raw = raw.rstrip(b"\r\n")
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield {"line": lineno, "id": None, "error": f"invalid UTF-8 at byte {exc.start}"}
            continue
        if plain:
            yield _result(s, lineno, lineno, extract)
            continue
        if not s.strip():
            yield {"line": lineno, "id": None, "error": "empty line"}
            continue
        try:
            obj = json.loads(s)
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            yield {"line": lineno, "id": None, "error": f"invalid JSON: {msg}"}
            continue
        if not isinstance(obj, dict):
            yield {"line": lineno, "id": None, "error": "a line must be a JSON object with a \"text\" string"}
            continue
        id_ = obj.get("id")
        if id_ is not None and not isinstance(id_, (str, int)):
            id_ = json.dumps(id_, ensure_ascii=False)[:200]
        text = obj.get("text")
        if not isinstance(text, str):
            yield {"line": lineno, "id": id_, "error": "missing or non-string \"text\""}
            continue
        lang = obj.get("lang") if isinstance(obj.get("lang"), str) else None
        yield _result(text, id_, lineno, extract, lang)
