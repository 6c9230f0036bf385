"""Pure matching functions: ``classify`` (offer classifier) and ``extract`` (identifiers).

Lexicons are data files under ``matchers/lexicons/``; see ``docs/classifier.md``.
"""

from .classify import classify
from .types import CATEGORIES, Entities, Entity, Reason, Verdict

try:  # extract.py is written in parallel; export it as soon as it exists
    from .extract import extract
except ImportError as _exc:  # pragma: no cover - only until matchers/extract.py lands
    if getattr(_exc, "name", None) not in (f"{__name__}.extract",):
        raise

    def extract(text):  # type: ignore[no-redef]
        raise NotImplementedError("matchers.extract is not available yet")

__all__ = ["classify", "extract", "Verdict", "Reason", "Entity", "Entities", "CATEGORIES"]
