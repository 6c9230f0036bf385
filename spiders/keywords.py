"""Default search keywords of a profile, taken from the classifier's lexicons.

A profile names lexicon sections in ``[keywords] from_lexicon`` as
``"section.name"`` or ``"section.name:N"`` (the first N terms, 3 by default).
For each language of the profile, the terms are read from
``matchers/lexicons/<lang>.toml`` (so a lexicon update changes what the
crawls search for). When that lexicon or section does not exist, the
profile's own ``[keywords] <lang> = [...]`` list is used instead.
"""

from __future__ import annotations

import logging
import tomllib
from importlib import resources
from pathlib import Path

from .profile import Profile

log = logging.getLogger("veille.spiders.keywords")
MAX_KEYWORDS = 40


def _lexicon(lang: str) -> dict | None:
    try:
        p = Path(str(resources.files("matchers").joinpath("lexicons", f"{lang}.toml")))
    except ModuleNotFoundError:
        return None
    if not p.is_file():
        return None
    try:
        return tomllib.loads(p.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("lexicon %s unreadable: %s", p, exc)
        return None


def _section(lex: dict, dotted: str) -> list[str]:
    node = lex
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    terms = node.get("terms") if isinstance(node, dict) else None
    return [t for t in terms if isinstance(t, str) and not t.endswith("*")] if isinstance(terms, list) else []


def default_keywords(profile: Profile) -> list[str]:
    out: list[str] = []
    for lang in profile.languages:
        lex = _lexicon(lang)
        got: list[str] = []
        if lex is not None:
            for spec in profile.keyword_sections:
                name, _, n = spec.partition(":")
                got += _section(lex, name)[: int(n) if n.isdigit() else 3]
        if not got:
            got = list(profile.keywords.get(lang, []))
        for k in got:
            if k not in out:
                out.append(k)
    return out[:MAX_KEYWORDS]
