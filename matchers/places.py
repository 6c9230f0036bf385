"""Named places from the gazetteer (``matchers/data/gazetteer.toml``).

A place is only reported when a *trigger* names its type, so that "Nice",
"Sens" or "Paris" in passing are not places:

* ``préfecture de Bobigny``, ``pref 93``, ``préfecture du Val-de-Marne``,
  ``préfecture de police`` (Paris) → ``prefecture``;
* ``sous-préfecture de Saint-Denis``, ``s/préf. Raincy`` → ``sub_prefecture``;
* ``TLScontact Casablanca``, ``VFS Global à Alger``, ``Oran BLS`` → ``visa_center``;
* ``consulat de France à Fès``, ``ambassade de France Dakar`` → ``consulate``.

Names are compared after folding (lower case, accents and Arabic letter
variants folded, hyphens as spaces), token by token, longest name first.
The entity span covers the trigger and the name, in the original text.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

from .types import Entity

GAZETTEER_PATH = Path(__file__).parent / "data" / "gazetteer.toml"

_CHAR_FOLD = {
    "œ": "o", "æ": "a", "ß": "s", "ı": "i", "’": " ", "'": " ", "`": " ", "´": " ", "ʼ": " ",
    "-": " ", "_": " ", ".": " ", "‐": " ", "‑": " ", "–": " ", "—": " ", "/": " ",
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك", "ۀ": "ه",
}


def _build_table() -> dict[int, str]:
    """One character for one: lower case, accents dropped, Arabic letter variants merged."""
    table: dict[int, str] = {}
    for cp in list(range(0x21, 0x7F)) + list(range(0xA0, 0x2100)):
        ch = chr(cp)
        f = _CHAR_FOLD.get(ch)
        if f is None:
            low = ch.lower()
            if len(low) != 1:
                continue
            f = _CHAR_FOLD.get(low)
            if f is None:
                d = unicodedata.normalize("NFD", low)
                f = "".join(c for c in d if not unicodedata.combining(c))
        if len(f) == 1 and f != ch:
            table[cp] = f
    return table


_TABLE = _build_table()
_TOKEN = re.compile(r"\w+")


def fold(s: str) -> str:
    """Folded form of a name, tokens joined by single spaces."""
    return " ".join(_TOKEN.findall(s.translate(_TABLE)))


# Characters that sellers insert inside words (tatweel, zero-width, soft hyphen):
# dropped before names are compared.
_INSERTS = re.compile("[\u0640\u200b-\u200f\u2060\ufeff\u00ad]")


def _fold_tokens(s: str, base: int) -> list[tuple[str, int, int]]:
    """Folded tokens of ``s`` with their offsets in the text."""
    f = s.translate(_TABLE)
    if not _INSERTS.search(f):  # common case: one character for one
        return [(m.group(), base + m.start(), base + m.end()) for m in _TOKEN.finditer(f)]
    keep = [i for i, c in enumerate(f) if not _INSERTS.match(c)]
    g = "".join(f[i] for i in keep)
    return [(m.group(), base + keep[m.start()], base + keep[m.end() - 1] + 1) for m in _TOKEN.finditer(g)]


def _variants(name: str) -> set[str]:
    out = {fold(name)}
    for full, short in (("saint", "st"), ("sainte", "ste")):
        for v in list(out):
            if v.startswith(full + " "):
                out.add(short + v[len(full):])
            out.add(v.replace(" " + full + " ", " " + short + " "))
    return {v for v in out if v}


# the usual letter frequency orders, most frequent first (English for the Latin script, Russian, Arabic)
_LETTER_FREQUENCY = {"latin": "etaoinsrhldcumfpgwybvkxjqz", "cyrillic": "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
                     "arabic": "اليمونرتبهعدسفكقحجشصطزخذضثغظ"}


def _rarity(c: str, script: str) -> int:
    """Higher for rarer characters in a text of ``script``: letters by their usual frequency; a letter outside
    the order (a non-ASCII letter in Latin script, a Persian letter in Arabic script …) rarest; the rest
    (spaces, punctuation) least rare."""
    order = _LETTER_FREQUENCY[script]
    i = order.find(c)
    if i >= 0:
        return i
    return 100 if c.isalpha() and (script != "latin" or not c.isascii()) else -1


class Gazetteer:
    def __init__(self, data: dict) -> None:
        self.meta = data.get("meta", {})
        city_alias = {k: list(v) for k, v in data.get("city_aliases", {}).items()}
        # type -> folded name -> list of entries
        self.names: dict[str, dict[str, list[dict]]] = {
            "prefecture": {}, "sub_prefecture": {}, "visa_center": {}, "consulate": {}}
        self.by_code: dict[str, dict] = {}
        self.max_tokens = 1
        self.providers: dict[str, str] = {}
        for canon, aliases in data.get("providers", {}).items():
            for a in [canon, *aliases]:
                self.providers[fold(a)] = canon

        def add(kind: str, name: str, entry: dict, aliases=()) -> None:
            for n in [name, *aliases, *city_alias.get(name, ())]:
                for v in _variants(n):
                    lst = self.names[kind].setdefault(v, [])
                    if entry not in lst:
                        lst.append(entry)
                    self.max_tokens = max(self.max_tokens, v.count(" ") + 1)

        for d in data.get("departement", []):
            code = str(d["code"])
            pref = {"type": "prefecture", "country": "FR", "name": d["prefecture"], "department": code,
                    "department_name": d["name"]}
            self.by_code[code.lower()] = pref
            add("prefecture", d["prefecture"], pref, d.get("aliases", ()))
            dept_entry = dict(pref, via="department")
            for n in [d["name"], *d.get("name_aliases", ())]:
                add("prefecture", n, dept_entry)
            sp_aliases = d.get("sub_prefecture_aliases", {})
            for sp in d.get("sub_prefectures", []):
                e = {"type": "sub_prefecture", "country": "FR", "name": sp, "department": code,
                     "department_name": d["name"]}
                add("sub_prefecture", sp, e, sp_aliases.get(sp, ()))
        self.police = None
        for pp in data.get("prefecture_de_police", []):
            self.police = {"type": "prefecture", "country": "FR", "name": pp["name"],
                           "department": pp["department"], "department_name": pp.get("department_name", "")}
        for v in data.get("visa_center", []):
            e = {"type": "visa_center", "country": v["country"], "name": v["city"], "provider": v["provider"]}
            add("visa_center", v["city"], e, v.get("aliases", ()))
        countries = data.get("countries", {})
        for c in data.get("consulate", []):
            e = {"type": "consulate", "country": c["country"], "name": c["city"],
                 "post": c.get("post", "consulate")}
            add("consulate", c["city"], e, c.get("aliases", ()))
            if "embassy" in e["post"]:
                add("consulate", countries.get(c["country"], [""])[0] or c["city"], dict(e, via="country"),
                    countries.get(c["country"], ())[1:])
        # For each kind: first (and last) token of every name -> longest name length.
        self.edge_tokens: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        for kind, table in self.names.items():
            first: dict[str, int] = {}
            last: dict[str, int] = {}
            for key in table:
                toks = key.split(" ")
                first[toks[0]] = max(first.get(toks[0], 0), len(toks))
                last[toks[-1]] = max(last.get(toks[-1], 0), len(toks))
            self.edge_tokens[kind] = (first, last)
        connectors = data.get("connectors", {}).get("words", [])
        self.connectors = frozenset(fold(w) for w in connectors)
        trig = data.get("triggers", {})
        self.trigger_re = self._trigger_re(trig)
        # Stems: what every trigger contains, used to find candidate positions
        # fast: plain strings (searched with str.find) or regular expressions
        # starting with plain characters. Grouped by script, so that the
        # Arabic ones are not searched in a text without Arabic letters.
        stems = {*trig.get("stems", ()), *self.providers}
        self.stems = tuple(sorted(stems))
        self.stem_groups: dict[str, list] = {"latin": [], "cyrillic": [], "arabic": []}
        for x in self.stems:
            plain = not any(c in x for c in "[]()?*+\\|{}.^$")
            if plain and any(y != x and y in x for y in stems):
                continue  # a shorter plain stem finds it
            first = x.lstrip("[\\")[:1]
            script = ("arabic" if "\u0600" <= first <= "\u06ff" else
                      "cyrillic" if "\u0400" <= first <= "\u04ff" else "latin")
            self.stem_groups[script].append(x if plain else re.compile(x))
        # Searches that rule a stem out before its own search (a search for several characters walks the
        # whole text; a character's search is a memchr, and stops at the first one): for a stem (or the
        # leading plain characters of a pattern), its rarest character by the usual letter frequency order of
        # its script (see _rarity); and a plain stem's gate, the longest string of 3 characters or more
        # that it shares with another plain stem of its group ("mba" for "embaj" and "mbass"): when the text
        # lacks it, neither is searched. Stems keep their order (the hits are the same, cap included).
        self.gated_stems: dict[str, list] = {}  # script -> [(stem, gate or None, character or ""), …]
        for script, group in self.stem_groups.items():
            plains = [x for x in group if isinstance(x, str)]
            gates: list = []
            for x in group:
                best = ""
                if isinstance(x, str):
                    lead = x
                    for i in range(len(x)):
                        for j in range(i + max(3, len(best) + 1), len(x) + 1):
                            if any(y != x and x[i:j] in y for y in plains):
                                best = x[i:j]
                else:
                    lead = re.match(r"[^\[\]()?*+\\|{}.^$]*", x.pattern).group()
                    if lead and x.pattern[len(lead):len(lead) + 1] in "?*{":
                        lead = lead[:-1]  # the last plain character is optional
                rare = max(lead, key=lambda c, sc=script: _rarity(c, sc), default="")
                gates.append((x, best or None, rare))
            self.gated_stems[script] = gates

    def _trigger_re(self, trig: dict) -> re.Pattern:
        groups = []
        for name in ("police", "sub_prefecture", "prefecture", "consulate"):
            pats = trig.get(name, [])
            if pats:
                groups.append(f"(?P<{name}>" + "|".join(pats) + ")")
        prov = sorted(self.providers, key=len, reverse=True)
        prov_pats = [r"[\s\-]*".join(re.escape(t) for t in p.split(" ")) for p in prov]
        groups.append("(?P<visa_center>" + "|".join(prov_pats) + ")")
        return re.compile(r"(?:" + "|".join(groups) + r")(?!\w)")

    def lookup(self, kind: str, tokens: list[tuple[str, int, int]], start: int, backward: bool = False):
        """Longest name of ``kind`` at token ``start`` (or ending there, backward)."""
        table = self.names[kind]
        edge = self.edge_tokens[kind][1 if backward else 0]
        if not 0 <= start < len(tokens):
            return None
        if tokens[start][0] not in edge:
            # Arabic proclitics glued to a name: "بوهران" (in Oran), "لالرباط", "والجزائر".
            t0, s0, e0 = tokens[start]
            if not backward and len(t0) > 3 and t0[0] in "بلوف" and t0[1:] in edge:
                tokens = [*tokens[:start], (t0[1:], s0, e0), *tokens[start + 1:]]
            else:
                return None
        for n in range(min(edge[tokens[start][0]], len(tokens)), 0, -1):
            if backward:
                if start - n + 1 < 0:
                    continue
                seq = tokens[start - n + 1:start + 1]
            else:
                seq = tokens[start:start + n]
                if len(seq) < n:
                    continue
            key = " ".join(t[0] for t in seq)
            hit = table.get(key)
            if hit:
                return hit, seq[0][1], seq[-1][2]
        return None


_GAZ: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    global _GAZ
    if _GAZ is None:
        _GAZ = Gazetteer(tomllib.loads(GAZETTEER_PATH.read_text(encoding="utf-8")))
    return _GAZ


def _value(e: dict) -> str:
    if e["type"] in ("prefecture", "sub_prefecture"):
        return f"{e['type']}:FR-{e['department']}:{e['name']}"
    if e["type"] == "visa_center":
        return f"visa_center:{e['country']}:{e['provider']}:{e['name']}"
    return f"consulate:{e['country']}:{e['name']}"


def _emit(out: list, text: str, s: int, e: int, entry: dict, others: list[dict] | None = None) -> None:
    extra = {k: v for k, v in entry.items()}
    also = [_value(o) for o in (others or []) if o is not entry and _value(o) != _value(entry)]
    if also:
        extra["also"] = sorted(set(also))
    out.append(Entity("place", _value(entry), text[s:e], s, e, extra))


_WINDOW = 48  # characters read after a trigger
_MAX_TRIGGERS = 2000  # places reported per text, at most
_MAX_HITS = 50_000  # stem occurrences examined per text, at most
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def has_trigger(lt: str) -> bool:
    """Cheap test: does the lower-cased text hold a trigger stem at all?"""
    g = gazetteer()
    return any((p in lt) if isinstance(p, str) else p.search(lt) is not None
               for group in g.stem_groups.values() for p in group)


# UTF-8 lead bytes: U+0400-U+04FF are exactly the characters led by 0xD0-0xD3, U+0600-U+06FF those led by
# 0xD8-0xDB (a lead byte is never a continuation byte), so one bytes.translate and two byte searches
# (all in C) tell which script a text holds
_SCRIPT_BYTES = bytes(67 if 0xD0 <= b <= 0xD3 else 65 if 0xD8 <= b <= 0xDB else 46 for b in range(256))


def _scripts(lt: str) -> tuple[bool, bool]:
    """(has Cyrillic, has Arabic script) of ``lt``."""
    m = lt.encode("utf-8", "surrogatepass").translate(_SCRIPT_BYTES)
    return b"C" in m, b"A" in m


def _triggers(g: Gazetteer, lt: str, classes: bytes | None = None):
    """Trigger matches, found from the stems (plain substring search, fast) and
    confirmed by the trigger regex anchored just before each stem. ``classes``: bytes whose "C", and "A",
    "B" or "P", say whether ``lt`` may hold Cyrillic or Arabic-script letters (when absent, certainly not),
    if known (extract._TEXT_BYTES)."""
    hits: list[int] = []
    groups = ["latin"]
    if not lt.isascii():
        cyrillic, arabic = _scripts(lt) if classes is None else (
            b"C" in classes, b"A" in classes or b"B" in classes or b"P" in classes)
        if cyrillic:
            groups.append("cyrillic")
        if arabic:
            groups.append("arabic")
    gated: dict[str, bool] = {}
    for script in groups:
        for pat, gate, rare in g.gated_stems[script]:
            if rare and rare not in lt:
                continue
            if gate is not None:
                ok = gated.get(gate)
                if ok is None:
                    ok = gated[gate] = gate in lt
                if not ok:
                    continue  # the stem holds its gate, which the text lacks
            if isinstance(pat, str):
                i = lt.find(pat)
                while i != -1 and len(hits) < _MAX_HITS:
                    hits.append(i)
                    i = lt.find(pat, i + 1)
            else:
                for m in pat.finditer(lt):
                    hits.append(m.start())
                    if len(hits) >= _MAX_HITS:
                        break
    hits.sort()
    done = -1
    found = 0
    for p in hits:
        if p < done:
            continue
        if found >= _MAX_TRIGGERS:
            return
        # The trigger starts at the stem's word, or one word earlier when joined by
        # "-", "/" or a space ("sous-préfecture", "s/préf", "consulat général").
        q = p
        while q > 0 and p - q < 8 and (lt[q - 1].isalnum() or lt[q - 1] == "_"):
            q -= 1
        starts = [q]
        if q >= 2 and lt[q - 1] in "-/ ":
            r = q - 1
            while r > 0 and q - r < 6 and lt[r - 1].isalnum():
                r -= 1
            if r < q - 1 and (r == 0 or not lt[r - 1].isalnum()):
                starts.insert(0, r)
        for q in starts:
            if q > 0 and (lt[q - 1].isalnum() or lt[q - 1] == "_"):
                continue
            m = g.trigger_re.match(lt, q)
            if m and m.end() > p:
                done = m.end()
                found += 1
                yield m
                break


@lru_cache(maxsize=8192)
def _name_after(kinds: tuple[str, ...], window: str) -> tuple | None:
    """The first name of one of ``kinds`` in ``window`` (text after a trigger),
    skipping connector words: ``(entries, start, end)`` relative to the window.

    Pure, hence cached: the same phrases come back in post after post.
    """
    g = gazetteer()
    toks = _fold_tokens(window, 0)[:8]
    for i, tok in enumerate(toks[:6]):
        if "prefecture" in kinds and i <= 2 and tok[0] in g.by_code:
            return (g.by_code[tok[0]],), tok[1], tok[2]
        for kd in kinds:
            hit = g.lookup(kd, toks, i)
            if hit:
                return tuple(hit[0]), hit[1], hit[2]
        if tok[0] not in g.connectors:
            break
    return None


@lru_cache(maxsize=4096)
def _name_before(kind: str, window: str) -> tuple | None:
    g = gazetteer()
    toks = _fold_tokens(window, 0)
    if not toks:
        return None
    hit = g.lookup(kind, toks, len(toks) - 1, backward=True)
    return (tuple(hit[0]), hit[1], hit[2]) if hit else None


def find_places(text: str, lt: str, out: list, classes: bytes | None = None) -> None:
    """Append the places named in ``text`` to ``out``.

    ``lt`` is ``text`` with digits folded and lower-cased, one character for one. ``classes``: bytes
    whose "C", and "A", "B" or "P", say whether ``lt`` may hold Cyrillic or Arabic-script letters (absent:
    certainly not), if known (the extractor's byte classes of ``text``).
    """
    g = gazetteer()
    for m in _triggers(g, lt, classes):
        kind = m.lastgroup
        ts, te = m.span()
        if kind == "police":
            if g.police:
                _emit(out, text, ts, te, g.police)
            continue
        provider = g.providers.get(fold(m.group())) if kind == "visa_center" else None
        kinds = ("prefecture", "sub_prefecture") if kind == "prefecture" else (kind,)
        found = None
        hit = _name_after(kinds, lt[te:te + _WINDOW])
        if hit:
            found = (hit[0], te + hit[1], te + hit[2], True)
        elif kind == "visa_center":
            lo = max(0, ts - 40)
            hit = _name_before(kind, lt[lo:ts])
            if hit:
                found = (hit[0], lo + hit[1], lo + hit[2], False)
        if found is None:
            continue
        entries, ns, ne, forward = found
        if kind == "visa_center":
            entries = [e for e in entries if e.get("provider") == provider] or []
            if not entries:
                continue
        entry = entries[0]
        s, e = (ts, ne) if forward else (ns, te)
        others = list(entries)
        if kind == "prefecture" and entry["type"] == "prefecture":
            name_key = fold(text[ns:ne])
            others += g.names["sub_prefecture"].get(name_key, [])
        _emit(out, text, s, e, entry, others)
