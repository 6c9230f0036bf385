"""Regex building blocks shared by the matchers and by redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable


def trie_pattern(words: Iterable[str]) -> str:
    """``words`` as one regex alternation factored as a trie.

    The first character is dispatched once instead of each word being tried in
    turn, which keeps long word lists fast on long texts. Continuations are
    tried in sorted order with the word end optional, so a match that must end
    at a word boundary finds the same words as a longest-first alternation.
    Empty words are ignored; an empty list gives ``""``.
    """
    trie: dict = {}
    for w in words:
        if not w:
            continue
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not end else "(?:" + "|".join(branches) + ")"
        return body + "?" if end else body

    return build(trie)
