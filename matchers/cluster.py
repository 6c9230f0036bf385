"""Seller clustering: explainable links between posts, cut into sellers.

Pure functions (no I/O besides reading the data file of common identifiers).
``storage/sellers.py`` loads posts and decisions, calls :func:`cluster` and
persists what it returns. See ``docs/clustering.md``.

How two posts end up in one seller
----------------------------------
Every comparison goes through a *blocking key*: never all pairs.

1. **Strong links**, applied first with a union-find:

   * ``same_account``: the same author account on one platform;
   * ``identifier``: the same phone (WhatsApp numbers are phones), Telegram /
     Snapchat / Instagram / TikTok handle, e-mail, wallet, IBAN or a seller's own
     domain, in the text or as the author account itself (a Telegram author
     ``@x`` and an ad saying "telegram: @x" share ``telegram:x``).

   An identifier's weight falls with the number of *distinct sellers* (current
   components) using it, IDF-like: full weight up to
   ``identifier_full_weight_authors``, falling to zero at
   ``max_authors_per_identifier``; beyond that, and for the official services'
   own numbers and domains (``matchers/data/common_identifiers.toml``), it
   never links. Identifiers are processed rarest first, so a seller's own
   accounts collapse before a number shared with others is counted.
2. **Weak links** between the components left after step 1:

   * ``text``: near-duplicate text (MinHash LSH over character shingles that
     keep digits and every script), verified by the estimated Jaccard;
   * ``handle``: similar account handles across platforms (rapidfuzz ratio on
     handles reduced to letters and digits);
   * ``image``: perceptual hashes within a Hamming distance, down-weighted by
     the number of distinct authors using the photo (stock or stolen photos);
   * ``template``: the same price list (two or more prices);
   * ``identifier`` whose weight fell under the threshold (shared by several).

   For a pair of components, the best weight of each *family* of evidence
   (identifiers; content = text and price list; handle; image) is summed. The
   pair merges when the sum reaches ``merge_threshold`` **and** at least two
   families agree (corroboration) or one link is strong on its own. A copied
   template (same text, same prices) is one family: it never merges alone.
3. **Buckets are capped**: a key shared by more than ``max_bucket_sellers``
   components (a copied template, a photo everybody uses) produces no pairs;
   an identifier is dropped once its distinct-author count passes the cap, so
   one value shared by 100k posts costs one pass and makes no giant cluster.
4. **Manual decisions** (``veille seller merge`` / ``split``) are constraints:
   a merge is a must-link applied first; a split is a cannot-link between the
   posts taken out and the rest, checked at every union, so the algorithm can
   never undo it. A later merge of the same posts lifts an earlier split.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from . import minhash

DATA_FILE = Path(__file__).parent / "data" / "common_identifiers.toml"

#: Entity kinds that identify a seller, and the namespace they link in.
#: WhatsApp numbers are phone numbers: both link in ``phone``.
IDENTIFIER_KINDS = {
    "phone": "phone", "whatsapp": "phone", "telegram": "telegram", "snapchat": "snapchat",
    "instagram": "instagram", "tiktok": "tiktok", "email": "email", "wallet": "wallet", "iban": "iban",
    "domain": "domain",
}
#: Platforms whose author handle is itself a linkable identifier.
ACCOUNT_NAMESPACES = {"telegram": "telegram", "snapchat": "snapchat", "instagram": "instagram",
                      "tiktok": "tiktok", "whatsapp": "phone"}
#: Relative strength of an identifier kind (1.0 = enough on its own when rare).
KIND_BASE = {"domain": 0.8}

LINK_TYPES = ("manual", "same_account", "identifier", "text", "handle", "image", "template")
#: Independent families of evidence. A price list is part of the text, so a
#: copied template (text + its prices) is one piece of evidence, not two:
#: corroboration needs two families, and a family counts with its best link.
FAMILY = {"manual": "manual", "same_account": "identifier", "identifier": "identifier", "text": "content",
          "template": "content", "handle": "handle", "image": "image"}


# ---------------------------------------------------------------------------- settings
@dataclass
class ClusterSettings:
    merge_threshold: float = 1.0
    handle_similarity_cutoff: float = 88.0
    text_similarity_cutoff: float = 0.6
    image_hamming_max: int = 6
    max_authors_per_identifier: int = 20
    identifier_full_weight_authors: int = 6
    max_bucket_sellers: int = 40
    text_min_chars: int = 40
    lsh_bands: int = 8
    text_weight: float = 0.7
    handle_weight: float = 0.5
    image_weight: float = 0.5
    template_weight: float = 0.3

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> ClusterSettings:
        s = cls()
        for k, v in (section or {}).items():
            if hasattr(s, k) and not isinstance(v, (dict, list)):
                setattr(s, k, type(getattr(s, k))(v))
        return s

    def check(self) -> list[str]:
        problems = []
        if not 0 < self.text_similarity_cutoff <= 1:
            problems.append("clustering.text_similarity_cutoff must be in (0, 1]")
        if not 0 <= self.handle_similarity_cutoff <= 100:
            problems.append("clustering.handle_similarity_cutoff must be in [0, 100]")
        if self.max_authors_per_identifier < 1 or self.identifier_full_weight_authors < 1:
            problems.append("clustering.max_authors_per_identifier and identifier_full_weight_authors "
                            "must be >= 1")
        if self.merge_threshold <= 0:
            problems.append("clustering.merge_threshold must be > 0")
        if self.lsh_bands not in (4, 8, 16, 32, 64):
            problems.append("clustering.lsh_bands must divide 64 (4, 8, 16, 32 or 64)")
        return problems


# ---------------------------------------------------------------------------- common identifiers
@dataclass(frozen=True)
class CommonIdentifiers:
    domains: frozenset[str]
    phones: frozenset[str]
    short_numbers: frozenset[str]
    handles: frozenset[str]
    email_domains: frozenset[str]
    version: str = ""

    def is_common(self, namespace: str, value: str) -> bool:
        v = value.lower()
        if namespace == "phone":
            if v.startswith("+"):
                return v in self.phones
            return re.sub(r"\D", "", v) in self.short_numbers
        if namespace == "domain":
            return _domain_listed(v, self.domains)
        if namespace == "email":
            return _domain_listed(v.rpartition("@")[2], self.email_domains)
        if namespace in ("telegram", "snapchat", "instagram", "tiktok"):
            return v.lstrip("@") in self.handles
        return False


def _domain_listed(domain: str, listed: frozenset[str]) -> bool:
    d = domain.strip(".").lower()
    while d:
        if d in listed:
            return True
        if "." not in d:
            return False
        d = d.split(".", 1)[1]
    return False


@lru_cache(maxsize=4)
def load_common(path: str | None = None) -> CommonIdentifiers:
    data = tomllib.loads(Path(path or DATA_FILE).read_text(encoding="utf-8"))
    doms = data.get("domains", {})
    return CommonIdentifiers(
        domains=frozenset(d.lower() for d in doms.get("official", []) + doms.get("platforms", [])),
        phones=frozenset(data.get("phones", {}).get("official", [])),
        short_numbers=frozenset(data.get("phones", {}).get("short", [])),
        handles=frozenset(h.lower() for h in data.get("handles", {}).get("official", [])),
        email_domains=frozenset(d.lower() for d in data.get("emails", {}).get("official_domains", [])),
        version=data.get("meta", {}).get("version", ""),
    )


# ---------------------------------------------------------------------------- inputs
@dataclass(slots=True)
class ClusterPost:
    """What clustering reads of one post (built by storage or the benchmark)."""

    id: int
    platform: str = ""
    author: str | None = None  # author handle (or name) on that platform
    text: str = ""
    identifiers: Sequence[tuple[str, str]] = ()  # (entity kind, normalised value)
    phashes: Sequence[str] = ()  # perceptual hashes, hex
    prices: Sequence[float] = ()
    handles: Sequence[str] = ()  # other handles mentioned (telegram/snapchat/... entity values)

    def account(self) -> str | None:
        a = normalise_handle(self.author)
        return f"{self.platform.lower()}:{a}" if a else None


def normalise_handle(handle: str | None) -> str:
    """Lower case, NFKC, without a leading ``@`` or surrounding spaces ('' when nothing is left)."""
    if not handle:
        return ""
    return _normalise_handle(str(handle)[:400])


@lru_cache(maxsize=1 << 17)
def _normalise_handle(handle: str) -> str:
    return unicodedata.normalize("NFKC", handle).strip().lstrip("@").strip().casefold()[:200]


_SKELETON = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1 << 17)
def handle_skeleton(handle: str | None) -> str:
    """Letters and digits only (any script): ``rdv_prefecture_75`` and ``rdv.prefecture75`` agree."""
    return _SKELETON.sub("", normalise_handle(handle))


def identifier_keys(post: ClusterPost, common: CommonIdentifiers) -> list[tuple[str, str, str]]:
    """``(namespace, value, key)`` of the post's linkable identifiers, common ones left out."""
    out: dict[str, tuple[str, str, str]] = {}
    for kind, value in post.identifiers:
        ns = IDENTIFIER_KINDS.get(kind)
        if not ns or not value:
            continue
        v = str(value).strip()
        if ns in ("telegram", "snapchat", "instagram", "tiktok", "email", "domain"):
            v = normalise_handle(v)
        if not v or common.is_common(ns, v):
            continue
        key = f"{ns}:{v}"
        out.setdefault(key, (ns, v, key))
    if post.author and post.platform.lower() in ACCOUNT_NAMESPACES:
        ns = ACCOUNT_NAMESPACES[post.platform.lower()]
        v = normalise_handle(post.author)
        if ns == "phone":
            digits = re.sub(r"[^\d+]", "", v)
            v = digits if re.fullmatch(r"\+\d{8,15}", digits) else ""
        if v and not common.is_common(ns, v):
            key = f"{ns}:{v}"
            out.setdefault(key, (ns, v, key))
    return list(out.values())


def handle_keys(post: ClusterPost) -> list[tuple[str, str]]:
    """``(skeleton, blocking key)`` for fuzzy handle matching (author handle and mentioned handles)."""
    out: dict[str, tuple[str, str]] = {}
    for h in (post.author, *post.handles):
        sk = handle_skeleton(h)
        if len(sk) < 4:
            continue  # emoji-only, one-letter or empty handles say nothing
        out.setdefault(f"hs:{sk}", (sk, f"hs:{sk}"))
        nodig = re.sub(r"\d+", "", sk)
        if len(nodig) >= 5:
            out.setdefault(f"hd:{nodig}", (sk, f"hd:{nodig}"))
        if len(sk) >= 8:
            out.setdefault(f"hp:{sk[:6]}", (sk, f"hp:{sk[:6]}"))
    return list(out.values())


def stable_key(key: str) -> int:
    """A stable non-negative 63-bit integer for a string key (storage indexes these)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def phash_int(h: str) -> int | None:
    try:
        v = int(str(h).strip().lower().removeprefix("0x"), 16)
    except (TypeError, ValueError):
        return None
    return v if 0 <= v < 1 << 64 else None


def price_list_key(prices: Iterable[float]) -> str | None:
    ps = sorted({round(float(p), 2) for p in prices if p is not None and math.isfinite(float(p))})
    if len(ps) < 2:
        return None
    return "tp:" + ",".join(f"{p:g}" for p in ps[:12])


# ---------------------------------------------------------------------------- union-find with constraints
class UnionFind:
    """Union-find over ``0..n-1`` with cannot-link labels on roots."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.size = [1] * n
        self.labels: dict[int, set[tuple[int, int]]] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def add_label(self, x: int, label: tuple[int, int]) -> None:
        self.labels.setdefault(self.find(x), set()).add(label)

    def conflict(self, ra: int, rb: int) -> tuple[int, int] | None:
        la, lb = self.labels.get(ra), self.labels.get(rb)
        if not la or not lb:
            return None
        if len(la) > len(lb):
            la, lb = lb, la
        for d, side in la:
            if (d, 1 - side) in lb:
                return (d, side)
        return None

    def union(self, a: int, b: int, force: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if not force and self.conflict(ra, rb) is not None:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        lb = self.labels.pop(rb, None)
        if lb:
            self.labels.setdefault(ra, set()).update(lb)
        return True


# ---------------------------------------------------------------------------- outputs
@dataclass
class Link:
    post_a: int
    post_b: int
    type: str
    weight: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"post_a": self.post_a, "post_b": self.post_b, "type": self.type,
                "weight": round(self.weight, 4), "evidence": self.evidence}


@dataclass
class Decision:
    """An investigator's decision, as constraints on posts."""

    id: int
    kind: str  # "merge" | "split"
    group_a: Sequence[int]  # merge: all posts of both sellers; split: posts taken out
    group_b: Sequence[int] = ()  # split: the posts left in the seller


@dataclass
class ClusterResult:
    clusters: list[list[int]]  # post ids, each list sorted, clusters sorted by first post id
    links: list[Link]
    stats: dict[str, Any] = field(default_factory=dict)

    def assignment(self) -> dict[int, int]:
        """post id -> index of its cluster."""
        return {p: i for i, c in enumerate(self.clusters) for p in c}


def identifier_weight(n: int, s: ClusterSettings, base: float = 1.0) -> float:
    """IDF-like weight of an identifier used by ``n`` distinct sellers/authors."""
    full, cap = s.identifier_full_weight_authors, s.max_authors_per_identifier
    if n <= full:
        return base * s.merge_threshold
    if n > cap:
        return 0.0
    return base * s.merge_threshold * (math.log(cap + 1) - math.log(n)) / (math.log(cap + 1) - math.log(full))


# ---------------------------------------------------------------------------- the algorithm
def text_spans(a: str, b: str, limit: int = 3, max_chars: int = 3000) -> list[dict[str, int]]:
    """The longest passages the two texts share: ``[{a_start, a_end, b_start, b_end}]``."""
    a, b = a[:max_chars], b[:max_chars]
    blocks = [op for op in Indel.opcodes(a, b) if op.tag == "equal" and op.src_end - op.src_start >= 8]
    blocks.sort(key=lambda op: op.src_end - op.src_start, reverse=True)
    return [{"a_start": op.src_start, "a_end": op.src_end, "b_start": op.dest_start, "b_end": op.dest_end}
            for op in blocks[:limit]]


def cluster(
    posts: Sequence[ClusterPost],
    settings: ClusterSettings | None = None,
    *,
    decisions: Sequence[Decision] = (),
    preclustered: dict[int, Any] | None = None,
    author_counts: dict[str, int] | None = None,
    signatures: np.ndarray | None = None,
    common: CommonIdentifiers | None = None,
    explain_text: bool = True,
    text_lengths: Sequence[int] | None = None,
) -> ClusterResult:
    """Cluster ``posts`` into sellers; return the clusters and the links that made them.

    ``preclustered`` maps post id -> an existing group (seller) id: posts of one
    group are joined first without new links (incremental runs pass the
    existing sellers of candidate posts). ``author_counts`` gives, per
    identifier key (``"phone:+33…"``), the number of distinct authors using it
    in the whole store, when ``posts`` is only part of it. ``signatures`` are
    precomputed MinHash signatures aligned with ``posts`` (``text_lengths``: the
    lengths of their normalised texts, required with ``signatures``).
    """
    s = settings or ClusterSettings()
    common = common or load_common()
    n = len(posts)
    ids = [p.id for p in posts]
    index = {pid: i for i, pid in enumerate(ids)}
    if len(index) != n:
        raise ValueError("duplicate post ids given to cluster()")
    uf = UnionFind(n)
    links: list[Link] = []
    stats: dict[str, Any] = defaultdict(int)

    # -- manual decisions: cannot-links (splits), then must-links (merges), in order
    # Decisions apply in order, and a later one wins where two disagree: a later merge of both sides of a
    # split lifts the split; a later split takes its posts out of the earlier merges that joined them.
    active_splits: dict[int, tuple[set[int], set[int]]] = {}
    merges: list[tuple[Decision, set[int]]] = []
    for d in sorted(decisions, key=lambda d: d.id):
        if d.kind == "split":
            sa = {index[p] for p in d.group_a if p in index}
            sb = {index[p] for p in d.group_b if p in index}
            active_splits[d.id] = (sa, sb)
            for _m, members in merges:
                if members & sa and members & sb:
                    members -= sa
        elif d.kind == "merge":
            ga = {index[p] for p in d.group_a if p in index} | {index[p] for p in d.group_b if p in index}
            for sid, (sa, sb) in list(active_splits.items()):
                if ga & sa and ga & sb:  # a later merge of both sides lifts the split
                    del active_splits[sid]
            merges.append((d, ga))
    for sid, (sa, sb) in active_splits.items():
        for i in sa:
            uf.add_label(i, (sid, 0))
        for i in sb:
            uf.add_label(i, (sid, 1))
    for sid, (sa, _sb) in active_splits.items():
        first = min(sa) if sa else None
        for i in sa:
            if uf.union(first, i, force=True):
                links.append(Link(ids[first], ids[i], "manual", s.merge_threshold,
                                  {"decision": sid, "kind": "split", "reason": "investigator: same seller"}))
    for d, ga in merges:
        members = sorted(ga)
        for i in members[1:]:
            if uf.union(members[0], i, force=True):
                links.append(Link(ids[members[0]], ids[i], "manual", s.merge_threshold,
                                  {"decision": d.id, "kind": "merge", "reason": "investigator: same seller"}))

    # -- existing groups (incremental): joined without new links
    if preclustered:
        first_of: dict[Any, int] = {}
        for pid, gid in preclustered.items():
            i = index.get(pid)
            if i is None or gid is None:
                continue
            j = first_of.setdefault(gid, i)
            if j != i:
                uf.union(j, i)

    # -- same account
    acct_first: dict[str, int] = {}
    author_id: list[Any] = [None] * n
    for i, p in enumerate(posts):
        a = p.account()
        author_id[i] = a if a else ("post", p.id)
        if not a:
            continue
        j = acct_first.setdefault(a, i)
        if j != i and uf.union(j, i):
            links.append(Link(ids[j], ids[i], "same_account", s.merge_threshold, {"account": a}))

    # -- identifiers: buckets, distinct authors, rarest first
    buckets: dict[str, list[int]] = defaultdict(list)
    first_author: dict[str, Any] = {}  # most keys have one author: a set only from the second one
    bucket_authors: dict[str, set] = {}
    too_common: set[str] = set()
    cap = s.max_authors_per_identifier
    for i, p in enumerate(posts):
        for _ns, _v, key in identifier_keys(p, common):
            if key in too_common:
                continue
            a = author_id[i]
            fa = first_author.setdefault(key, a)
            if fa != a:
                au = bucket_authors.get(key)
                if au is None:
                    au = bucket_authors[key] = {fa}
                au.add(a)
                if len(au) > cap:
                    too_common.add(key)
                    del buckets[key]
                    del bucket_authors[key]
                    continue
            buckets[key].append(i)
    stats["identifiers_too_common"] = len(too_common)
    if author_counts:
        for key in list(buckets):
            if author_counts.get(key, 0) > cap:
                too_common.add(key)
                del buckets[key]
    weak: list[tuple[int, int, str, float, dict]] = []  # (i, j, type, weight, evidence)

    def n_authors(key: str) -> int:
        local = len(bucket_authors.get(key, ())) or 1
        return max(local, author_counts.get(key, 0)) if author_counts else local

    order = sorted(buckets, key=lambda k: (n_authors(k), k))
    for key in order:
        members = buckets[key]
        if len(members) < 2:
            continue
        ns, v = key.split(":", 1)
        roots: dict[int, int] = {}
        for i in members:
            roots.setdefault(uf.find(i), i)
        if len(roots) < 2:
            continue
        k = len(roots)
        # incremental runs see only part of the store: the store-wide author count is a floor
        k_eff = max(k, author_counts.get(key, 0)) if author_counts else k
        w = identifier_weight(k_eff, s, KIND_BASE.get(ns, 1.0))
        ev = {"kind": ns, "value": v, "authors": n_authors(key), "sellers": k}
        reps = list(roots.values())
        if w >= s.merge_threshold:
            # join every holder to the first group it may join: a holder kept apart from one group by a
            # split decision still joins the others (without decisions: all join the first)
            hubs = [reps[0]]
            for i in reps[1:]:
                for h in hubs:
                    if uf.find(h) == uf.find(i):
                        break
                    if uf.union(h, i):
                        links.append(Link(ids[h], ids[i], "identifier", w, ev))
                        break
                else:
                    hubs.append(i)
        elif w > 0:
            for x in range(len(reps)):
                for y in range(x + 1, len(reps)):
                    weak.append((reps[x], reps[y], "identifier", w, ev))

    # -- weak evidence between the components left
    root = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    compared: set[tuple[int, int, str]] = set()
    max_roots = s.max_bucket_sellers

    def candidate_groups(keys_of: dict[Any, list[int]], kind: str):
        for members in keys_of.values():
            if len(members) < 2:
                continue
            reps: dict[int, int] = {}
            for i in members:
                reps.setdefault(int(root[i]), i)
                if len(reps) > max_roots:
                    break
            if len(reps) > max_roots:
                stats[f"{kind}_buckets_capped"] += 1
                continue
            if len(reps) > 1:
                yield list(reps.items())

    # text: MinHash LSH
    if signatures is None or text_lengths is None:
        norm = [minhash.normalise_text(p.text) for p in posts]
        if signatures is None:
            signatures = minhash.signatures(norm)
        text_lengths = [len(t) for t in norm]
        del norm
    has_text = np.fromiter((ln >= s.text_min_chars for ln in text_lengths), dtype=bool, count=n)
    pa: list[int] = []
    pb: list[int] = []
    text_seen: set[int] = set()

    def flush_text() -> None:
        """Similarities of the collected candidate pairs at once (estimated Jaccard)."""
        if not pa:
            return
        ia, ib = np.asarray(pa, dtype=np.int64), np.asarray(pb, dtype=np.int64)
        pa.clear()
        pb.clear()
        sims = (signatures[ia] == signatures[ib]).sum(axis=1) / minhash.NUM_PERM
        stats["text_comparisons"] += len(ia)
        for k in np.nonzero(sims >= s.text_similarity_cutoff)[0].tolist():
            sim = float(sims[k])
            weak.append((int(ia[k]), int(ib[k]), "text", s.text_weight * sim, {"similarity": round(sim, 3)}))

    if n and has_text.any():
        bands = minhash.band_keys_matrix(signatures, s.lsh_bands)
        idx = np.nonzero(has_text)[0]
        for b in range(bands.shape[1]):
            col = bands[idx, b]
            order_b = np.argsort(col, kind="stable")
            sk = col[order_b]
            if len(sk) < 2:
                continue
            cut = np.nonzero(sk[1:] != sk[:-1])[0] + 1
            starts = np.concatenate(([0], cut))
            ends = np.concatenate((cut, [len(sk)]))
            multi = (ends - starts) >= 2
            if not multi.any():
                continue
            rs = root[idx[order_b]]
            differ = np.minimum.reduceat(rs, starts) != np.maximum.reduceat(rs, starts)
            keep = multi & differ  # buckets spanning two or more components
            for st, en in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
                members = idx[order_b[st:en]].tolist()
                for grp in candidate_groups({0: members}, "text"):
                    for x in range(len(grp)):
                        rx, i = grp[x]
                        for y in range(x + 1, len(grp)):
                            ry, j = grp[y]
                            pk = rx * n + ry if rx < ry else ry * n + rx
                            if pk in text_seen:
                                continue
                            text_seen.add(pk)
                            pa.append(i)
                            pb.append(j)
                    if len(pa) >= 500_000:
                        flush_text()
        flush_text()
        del text_seen

    # handles: fuzzy, blocked on skeleton keys
    hkeys: dict[str, list[int]] = defaultdict(list)
    skel: dict[int, list[str]] = {}
    for i, p in enumerate(posts):
        hk = handle_keys(p)
        if hk:
            skel[i] = list({sk for sk, _ in hk})
            for _sk, key in hk:
                hkeys[key].append(i)
    for grp in candidate_groups(hkeys, "handle"):
        for x in range(len(grp)):
            rx, i = grp[x]
            for y in range(x + 1, len(grp)):
                ry, j = grp[y]
                pair = (min(rx, ry), max(rx, ry), "handle")
                if pair in compared:
                    continue
                compared.add(pair)
                best = (0.0, "", "")
                for a in skel[i]:
                    for b in skel[j]:
                        sc = fuzz.ratio(a, b)
                        if sc > best[0]:
                            best = (sc, a, b)
                stats["handle_comparisons"] += 1
                if best[0] >= s.handle_similarity_cutoff:
                    weak.append((i, j, "handle", s.handle_weight * best[0] / 100.0,
                                 {"a": best[1], "b": best[2], "score": round(best[0], 1)}))

    # images: perceptual hashes, 4 x 16-bit band keys, stock photos down-weighted
    pkeys: dict[tuple[int, int], list[int]] = defaultdict(list)
    phs: dict[int, list[int]] = {}
    ph_authors: dict[int, set] = defaultdict(set)
    for i, p in enumerate(posts):
        vals = [v for v in (phash_int(h) for h in p.phashes[:20]) if v is not None and v != 0]
        if not vals:
            continue
        phs[i] = vals
        for v in vals:
            if len(ph_authors[v]) <= cap:
                ph_authors[v].add(author_id[i])
            for b in range(4):
                pkeys[(b, (v >> (16 * b)) & 0xFFFF)].append(i)
    for grp in candidate_groups(pkeys, "image"):
        for x in range(len(grp)):
            rx, i = grp[x]
            for y in range(x + 1, len(grp)):
                ry, j = grp[y]
                pair = (min(rx, ry), max(rx, ry), "image")
                if pair in compared:
                    continue
                compared.add(pair)
                best = None
                for a in phs[i]:
                    for b in phs[j]:
                        dist = (a ^ b).bit_count()
                        if dist <= s.image_hamming_max and (best is None or dist < best[0]):
                            best = (dist, a, b)
                if best is None:
                    continue
                users = max(len(ph_authors[best[1]]), len(ph_authors[best[2]]))
                w = s.image_weight * identifier_weight(users, s) / s.merge_threshold
                if w > 0:
                    weak.append((i, j, "image", w, {"phash_a": f"{best[1]:016x}",
                                                    "phash_b": f"{best[2]:016x}",
                                                    "distance": best[0], "authors": users}))

    # templates: the same price list
    tkeys: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(posts):
        k = price_list_key(p.prices)
        if k:
            tkeys[k].append(i)
    for key, members in tkeys.items():
        for grp in candidate_groups({key: members}, "template"):
            _r0, i0 = grp[0]
            for _r, j in grp[1:]:
                weak.append((i0, j, "template", s.template_weight, {"prices": key[3:]}))

    stats["weak_links"] = len(weak)

    # -- merge components on corroborated weak evidence (a few rounds: merges add up)
    for _round in range(4):
        agg: dict[tuple[int, int], dict[str, tuple[float, int, int, dict]]] = {}
        for i, j, typ, w, ev in weak:
            ri, rj = uf.find(i), uf.find(j)
            if ri == rj:
                continue
            key2 = (ri, rj) if ri < rj else (rj, ri)
            d = agg.setdefault(key2, {})
            if typ not in d or d[typ][0] < w:
                d[typ] = (w, i, j, ev)
        scored = []
        for (ri, rj), d in agg.items():
            fam: dict[str, float] = {}
            for typ, v in d.items():
                f = FAMILY[typ]
                fam[f] = max(fam.get(f, 0.0), v[0])
            total = sum(fam.values())
            strong = any(v >= s.merge_threshold for v in fam.values())
            if total >= s.merge_threshold and (len(fam) >= 2 or strong):
                scored.append((total, ri, rj, d))
        if not scored:
            break
        scored.sort(key=lambda t: (-t[0], t[1], t[2]))
        merged_any = False
        for total, ri, rj, d in scored:
            if uf.find(ri) == uf.find(rj):
                continue
            if uf.union(ri, rj):
                merged_any = True
                stats["weak_merges"] += 1
                group = stats["weak_merges"]
                for typ, (w, i, j, ev) in d.items():
                    ev = dict(ev)
                    ev["merge_group"] = group  # the links that together justified this merge
                    if typ == "text" and explain_text:
                        ev["spans"] = text_spans(posts[i].text, posts[j].text)
                    ev["combined"] = round(total, 4)
                    links.append(Link(ids[i], ids[j], typ, w, ev))
            else:
                stats["blocked_by_decision"] += 1
        if not merged_any:
            break

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[uf.find(i)].append(ids[i])
    clusters = sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
    stats["posts"] = n
    stats["clusters"] = len(clusters)
    stats["links"] = len(links)
    return ClusterResult(clusters, links, dict(stats))


# ---------------------------------------------------------------------------- stable ids
@dataclass
class Assignment:
    seller_of: dict[int, int]  # post id -> seller id
    new_sellers: list[int]
    merged: dict[int, int]  # old seller id -> seller id it was merged into
    split: dict[int, list[int]]  # old seller id -> the seller ids its posts went to
    kept: list[int]


def assign_ids(clusters: Sequence[Sequence[int]], previous: dict[int, int], next_id: int,
               sizes: dict[int, int] | None = None) -> Assignment:
    """Give each cluster a seller id, keeping previous ids where posts stay together.

    A cluster keeps the previous id that most of its posts had (ties: the
    older, smaller id); each previous id goes to at most one cluster. A
    cluster whose posts were all new gets a fresh id from ``next_id``.
    """
    cands = []
    for ci, c in enumerate(clusters):
        counts: dict[int, int] = defaultdict(int)
        for p in c:
            sid = previous.get(p)
            if sid is not None:
                counts[sid] += 1
        for sid, k in counts.items():
            cands.append((-k, sid, ci))
    cands.sort()
    chosen: dict[int, int] = {}
    used: set[int] = set()
    for _negk, sid, ci in cands:
        if ci in chosen or sid in used:
            continue
        chosen[ci] = sid
        used.add(sid)
    seller_of: dict[int, int] = {}
    new_sellers = []
    cluster_sid = []
    for ci, c in enumerate(clusters):
        sid = chosen.get(ci)
        if sid is None:
            sid = next_id
            next_id += 1
            new_sellers.append(sid)
        cluster_sid.append(sid)
        for p in c:
            seller_of[p] = sid
    went: dict[int, set[int]] = defaultdict(set)
    for p, old in previous.items():
        if p in seller_of:
            went[old].add(seller_of[p])
    merged = {old: next(iter(dst)) for old, dst in went.items() if old not in used and len(dst) == 1}
    split = {old: sorted(dst) for old, dst in went.items() if len(dst) > 1}
    return Assignment(seller_of, new_sellers, merged, split, sorted(used))
