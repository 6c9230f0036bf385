"""Pure matching functions: ``classify`` (offer classifier) and ``extract`` (identifiers).

Lexicons are data files under ``matchers/lexicons/``; see ``docs/classifier.md``.
"""

from .classify import classify
from .types import CATEGORIES, Entities, Entity, Reason, Verdict

try:
    from .extract import extract
except Exception as _exc:  # noqa: BLE001 - a broken extractor must not take the classifier down with it
    import logging as _logging

    _logging.getLogger("veille.matchers").warning("matchers.extract unavailable: %s", _exc)
    _extract_error = f"matchers.extract unavailable: {_exc}"

    def extract(text):  # type: ignore[no-redef]
        raise NotImplementedError(_extract_error)

__all__ = ["classify", "extract", "Verdict", "Reason", "Entity", "Entities", "CATEGORIES"]
