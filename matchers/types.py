"""Result types shared by the matchers: verdicts, reasons and extracted entities.

These are plain dataclasses so that they cross process and JSON boundaries
unchanged: ``to_dict()`` gives what ``veille classify`` prints and what
storage keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("appointment_resale", "forged_documents", "none")

APPOINTMENT_SUBTYPES = ("prefecture", "visa_center", "other_admin")
DOCUMENT_SUBTYPES = ("id_card", "passport", "residence_permit", "driving_licence", "civil_status", "other")


@dataclass(frozen=True)
class Reason:
    """One matched rule or term, with its span in the *original* text.

    ``kind`` says what the match contributed: ``topic`` (what is offered),
    ``offer`` (a selling signal), ``negative`` (a hard-negative cue) or
    ``context``. ``start``/``end`` index the original, un-normalised text, so
    ``text[start:end]`` is what a judge can read.
    """

    rule: str
    term: str
    start: int
    end: int
    kind: str = "topic"
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:  # (asdict() deep-copies: 5x slower for these flat fields)
        return {"rule": self.rule, "term": self.term, "start": self.start, "end": self.end, "kind": self.kind,
                "weight": self.weight}


@dataclass
class Verdict:
    category: str = "none"
    subtype: str | None = None
    score: float = 0.0
    reasons: list[Reason] = field(default_factory=list)
    lexicon_version: str = ""

    @property
    def positive(self) -> bool:
        return self.category != "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "subtype": self.subtype,
            "score": round(float(self.score), 4),
            "reasons": [r.to_dict() for r in self.reasons],
            "lexicon_version": self.lexicon_version,
        }


@dataclass(frozen=True)
class Entity:
    """A normalised identifier found in a text.

    ``kind`` is one of: ``phone``, ``whatsapp``, ``telegram``, ``snapchat``,
    ``instagram``, ``tiktok``, ``email``, ``url``, ``domain``, ``price``,
    ``wallet``, ``iban``, ``place``. ``value`` is the normalised form used for
    linking (E.164 for phones, lower-case handle without ``@``, ``"120 EUR"``
    for prices …); ``raw`` is the text as written, at ``text[start:end]``.
    ``extra`` carries kind-specific details (amount and currency for prices,
    registered domain for URLs, place type and country for places …).
    """

    kind: str
    value: str
    raw: str
    start: int
    end: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "raw": self.raw,
            "start": self.start,
            "end": self.end,
            "extra": dict(self.extra),
        }


class Entities(list):
    """A list of :class:`Entity`, in order of appearance."""

    def of_kind(self, *kinds: str) -> list[Entity]:
        return [e for e in self if e.kind in kinds]

    def values(self, kind: str) -> list[str]:
        seen: dict[str, None] = {}
        for e in self:
            if e.kind == kind:
                seen.setdefault(e.value, None)
        return list(seen)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self]
