"""Sellers: all the SQL of seller clustering (issue 6).

- :func:`update_clusters` (``veille cluster [--full]`` and ``veille daily``):
  cluster the posts stored since the last run into sellers, incrementally, or
  rebuild everything with ``full=True``; returns a :class:`ClusterReport`.
- :func:`list_sellers`, :func:`seller_detail`, :func:`explain_links`: what
  ``veille sellers`` and ``veille seller show`` print.
- :func:`merge_sellers`, :func:`split_seller`: an investigator's decisions,
  recorded in ``seller_decisions`` and in the custody log, and never undone
  by re-clustering (a split is a hard cannot-link).
- :func:`evaluate_sellers`: ``veille eval sellers TRUTH.jsonl``.

Which posts are clustered: every post *not* classified ``none`` (positives,
and posts not classified yet). Posts the classifier rejected are left out
(``seller_id`` null): they are warnings, news, unrelated ads.

The matching itself is :func:`matchers.cluster.cluster` (pure); this module
loads posts, entities and previous state in bulk and writes with
``executemany``. Every run is one transaction: killing it leaves the previous
state intact, and re-running finishes the job.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import custody
from .db import rows, transaction
from .errors import ConfigError, InputError, NotFoundError
from .post import iso, utcnow
from .sellers_schema import NOT_SELLER_ROLE

# Authors whose posts are the seller's own (as in storage.relisting); anyone else writing in a group (a buyer,
# a victim, someone who replied: role third_party…) is never clustered into a seller, even when quoting its number.
NOT_SELLER = NOT_SELLER_ROLE.replace("author_role", "p.author_role")
ELIGIBLE = f"(p.category is null or p.category != 'none') and not ({NOT_SELLER})"
IDENT_ENTITY_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban",
                      "domain")
ENTITY_KINDS_LOADED = (*IDENT_ENTITY_KINDS, "price")
MAX_SUMMARY_ITEMS = 50


@dataclass
class ClusterReport:
    mode: str  # "incremental" | "full"
    posts_clustered: int = 0  # new posts, and posts whose content changed since they were clustered
    posts_changed: int = 0  # of which: posts re-keyed because their content changed
    sellers_total: int = 0
    new_sellers: list[int] = field(default_factory=list)
    new_platform: list[dict[str, Any]] = field(default_factory=list)  # {seller, platforms}
    merges: list[dict[str, Any]] = field(default_factory=list)  # {into, merged: [...]}
    links_added: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> int:
        """Posts clustered by this run (what `veille daily` counts as the stage's items)."""
        return self.posts_clustered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- helpers
def _settings(ws):
    from matchers.cluster import ClusterSettings

    s = ClusterSettings.from_config(ws.config.section("clustering"))
    problems = s.check()
    if problems:
        raise ConfigError("; ".join(problems))
    return s


def _temp_ids(db, name: str, ids: Iterable[int]) -> None:
    """Fill temp table ``name`` (a fixed identifier from this module, never user input) with ids."""
    db.execute(f"create temp table if not exists {name} (id integer primary key)")
    db.execute(f"delete from {name}")  # noqa: S608
    db.conn.executemany(f"insert or ignore into {name}(id) values (?)", ((int(i),) for i in ids))  # noqa: S608


def _media_phashes(media_json: str | None) -> list[str]:
    try:
        media = json.loads(media_json or "[]")
    except ValueError:
        return []
    out = []
    for m in media if isinstance(media, list) else []:
        if isinstance(m, dict) and isinstance(m.get("phash"), str):
            out.append(m["phash"][:32])
    return out


def _load_posts(db, table: str, sign: bool = False, chunk: int = 50_000):
    """ClusterPosts for the post ids in temp ``table``, plus their rows' (seller_id, content hash).

    With ``sign``, also their MinHash signatures and normalised-text lengths, computed chunk by chunk
    while loading, and the texts are dropped (bounded memory on full runs): returns
    ``(posts, facts, signatures, lengths)``.
    """
    from matchers import minhash
    from matchers.cluster import ClusterPost

    ents: dict[int, list[tuple[str, str]]] = defaultdict(list)
    prices: dict[int, list[float]] = defaultdict(list)
    kinds = ",".join(f"'{k}'" for k in ENTITY_KINDS_LOADED)
    cur = db.conn.execute(
        f"select e.post_id, e.kind, e.value, e.extra from {table} t cross join entities e on e.post_id = t.id "  # noqa: S608
        f"where e.kind in ({kinds})")
    for pid, kind, value, extra in cur:
        if kind == "price":
            try:
                amount = json.loads(extra or "{}").get("amount")
            except ValueError:
                amount = None
            if isinstance(amount, (int, float)):
                prices[pid].append(float(amount))
        else:
            ents[pid].append((kind, value))
    posts, facts = [], {}
    cur = db.conn.execute(
        "select p.id, p.platform, p.author_handle, p.author_url, p.title, p.text, p.media, p.seller_id, "  # noqa: S608
        f"p.content_sha256 from {table} t cross join posts p on p.id = t.id order by p.id")
    sig_parts: list[np.ndarray] = []
    lens: list[int] = []
    pending: list[str] = []

    def sign_pending() -> None:
        norm = [minhash.normalise_text(t) for t in pending]
        sig_parts.append(minhash.signatures(norm))
        lens.extend(len(t) for t in norm)
        pending.clear()

    for pid, platform, handle, author_url, title, text, media, seller_id, sha in cur:
        body = f"{title}\n{text}" if title and text else (title or text or "")
        author = handle or author_url or None  # a display name is not unique: never an account key
        idents = ents.pop(pid, [])
        if sign:
            pending.append(body)
            body = ""
        posts.append(ClusterPost(pid, platform or "", author, body, idents, _media_phashes(media),
                                 prices.pop(pid, []),
                                 [v for k, v in idents if k in ("telegram", "snapchat", "instagram", "tiktok")]))
        facts[pid] = (seller_id, sha)
        if sign and len(pending) >= chunk:
            sign_pending()
    if not sign:
        return posts, facts
    if pending:
        sign_pending()
    sigs = np.vstack(sig_parts) if sig_parts else np.zeros((0, minhash.NUM_PERM), dtype=np.uint32)
    return posts, facts, sigs, lens


def _post_keys(posts, sigs: np.ndarray, s, norm_lens: list[int]) -> list[tuple[int, int, int]]:
    """(key, post_id, author) rows for cluster_keys: every blocking key of each post (sorted)."""
    from matchers import minhash
    from matchers.cluster import (
        handle_keys,
        identifier_keys,
        load_common,
        phash_int,
        price_list_key,
        stable_key,
    )

    common = load_common()
    out: list[tuple[int, int, int]] = []
    bands = minhash.band_keys_matrix(sigs, s.lsh_bands) if len(posts) else np.zeros((0, s.lsh_bands), np.int64)
    for i, p in enumerate(posts):
        acct = p.account()
        author = stable_key("acct:" + acct) if acct else -p.id
        keys = set()
        if acct:
            keys.add(stable_key("acct:" + acct))
        for _ns, _v, key in identifier_keys(p, common):
            keys.add(stable_key(key))
        if norm_lens[i] >= s.text_min_chars:
            keys.update(int(k) for k in bands[i])
        for _sk, key in handle_keys(p):
            keys.add(stable_key(key))
        for h in p.phashes[:20]:
            v = phash_int(h)
            if v:
                for b in range(4):
                    keys.add(stable_key(f"ph{b}:{(v >> (16 * b)) & 0xFFFF}"))
        tk = price_list_key(p.prices)
        if tk:
            keys.add(stable_key(tk))
        out.extend((k, p.id, author) for k in keys)
    out.sort()  # inserted in key order: sequential B-tree appends
    return out


def _decisions(db, seller_of: dict[int, int] | None = None) -> list:
    """Decisions as constraints. With ``seller_of`` (incremental runs), each side
    is widened to the loaded posts whose *current* seller holds that side."""
    from matchers.cluster import Decision

    out = []
    side_sellers: dict[int, tuple[set, set]] = {}
    for d in rows(db, "select id, kind, posts, posts_b from seller_decisions order by id"):
        a = [int(x) for x in json.loads(d["posts"] or "[]")]
        b = [int(x) for x in json.loads(d["posts_b"] or "[]")]
        out.append(Decision(d["id"], d["kind"], a, b))
        side_sellers[d["id"]] = (set(a), set(b))
    if seller_of is None or not out:
        return out
    cur_of = dict(seller_of)
    needed = {p for a, b in side_sellers.values() for p in (*a, *b) if p not in cur_of}
    if needed:
        _temp_ids(db, "_cl_dec", needed)
        for pid, sid in db.conn.execute("select p.id, p.seller_id from _cl_dec t cross join posts p on p.id = t.id"):
            cur_of[pid] = sid
    widened = []
    for d in out:
        sa = {cur_of.get(p) for p in d.group_a} - {None}
        sb = {cur_of.get(p) for p in d.group_b} - {None}
        ga = set(d.group_a) | {p for p, sid in seller_of.items() if sid in sa}
        gb = set(d.group_b) | {p for p, sid in seller_of.items() if sid in sb}
        widened.append(Decision(d.id, d.kind, sorted(ga), sorted(gb)))
    return widened


# ----------------------------------------------------------------------------- clustering runs
def update_clusters(ws, full: bool = False, progress=None) -> ClusterReport:
    """Cluster the posts stored since the last run (or all of them with ``full``).

    Returns the new sellers, the sellers seen on a platform for the first
    time, and the merges, for ``veille cluster`` and the daily digest.
    """
    from matchers import minhash
    from matchers.cluster import cluster

    t0 = time.time()
    c0 = time.process_time()
    s = _settings(ws)
    db = ws.db
    rep = ClusterReport("full" if full else "incremental")
    now = iso(utcnow())
    left_sellers: set[int] = set()
    changed: dict[int, str] = {}
    with transaction(db):
        run_id = db.execute("insert into runs(source, kind, started_at) values (?,?,?)",
                            ["cluster", rep.mode, now]).lastrowid
        if full:
            db.execute("delete from cluster_keys")
            db.execute("delete from cluster_posts")
            db.execute("delete from seller_links")
            new_ids = [r[0] for r in db.conn.execute(f"select p.id from posts p where {ELIGIBLE}")]  # noqa: S608
        else:
            # posts re-classified as none since they were clustered leave their seller
            gone = [r[0] for r in db.conn.execute(
                "select c.post_id from posts p join cluster_posts c on c.post_id = p.id where p.category = 'none'")]
            # and posts whose author is no longer (or not) one of the seller's roles (partial index: few rows)
            gone += [r[0] for r in db.conn.execute(
                "select c.post_id from posts p indexed by posts_not_seller_role join cluster_posts c "  # noqa: S608
                f"on c.post_id = p.id where {NOT_SELLER} and p.category is not 'none'")]
            if gone:
                _temp_ids(db, "_cl_gone", gone)
                left_sellers.update(r[0] for r in db.conn.execute(
                    "select distinct seller_id from posts where id in (select id from _cl_gone) "
                    "and seller_id is not null"))
                db.execute("delete from cluster_posts where post_id in (select id from _cl_gone)")
                db.execute("delete from cluster_keys where post_id in (select id from _cl_gone)")
                db.execute("update posts set seller_id = null where id in (select id from _cl_gone)")
            new_ids = [r[0] for r in db.conn.execute(
                f"select p.id from posts p left join cluster_posts c on c.post_id = p.id "  # noqa: S608
                f"where c.post_id is null and {ELIGIBLE}")]
            changed = _rekey_changed(db)
            new_ids += sorted(changed)
        _temp_ids(db, "_cl_new", new_ids)
        # texts are signed while loading and dropped: spans are computed afterwards for text links only
        new_posts, new_facts, new_sigs, norm_lens = _load_posts(db, "_cl_new", sign=True)
        # incremental runs look the new posts' keys up; full runs only store them (in chunks, below)
        key_rows = [] if full else _post_keys(new_posts, new_sigs, s, norm_lens)
        if progress:
            progress(f"{len(new_posts)} post(s) to cluster")

        cand_posts, cand_facts, cand_sigs, author_counts = [], {}, None, None
        if not full and new_posts:
            cand_posts, cand_facts, cand_sigs, author_counts = _candidates(db, new_posts, key_rows, s)
        posts = new_posts + cand_posts
        sigs = new_sigs if not cand_posts else np.vstack([new_sigs, cand_sigs])
        facts = {**new_facts, **cand_facts}
        if full:
            previous = {pid: f[0] for pid, f in new_facts.items() if f[0] is not None}
            decisions = _decisions(db)
            pre = None
        else:
            previous = {pid: f[0] for pid, f in cand_facts.items() if f[0] is not None}
            # re-keyed (edited) posts keep their seller: what their earlier version shared stays evidence
            previous.update({pid: new_facts[pid][0] for pid in changed
                             if pid in new_facts and new_facts[pid][0] is not None})
            decisions = _decisions(db, previous)
            pre = previous
        lens = norm_lens + [len(minhash.normalise_text(p.text)) for p in cand_posts]
        for p in cand_posts:
            p.text = ""
        res = cluster(posts, s, decisions=decisions, preclustered=pre, author_counts=author_counts,
                      signatures=sigs, text_lengths=lens, explain_text=False)
        _add_text_spans(db, res.links)
        rep.stats = res.stats

        before_platforms = _platforms(db, None if full else set(previous.values()))
        if full:
            assignment, merges = _assign_full(db, res.clusters, previous)
        else:
            assignment, merges = _assign_incremental(db, res.clusters, previous)
        rep.merges = merges
        rep.posts_clustered = len(new_posts)
        rep.posts_changed = len(changed)
        created_sellers = _write_assignment(db, assignment, previous, merges, now, full)
        rep.new_sellers = sorted(created_sellers)
        if full:  # posts no longer eligible (re-classified as none) leave their seller
            db.execute("update posts set seller_id = null where seller_id is not null and not "  # noqa: S608
                       f"({ELIGIBLE.replace('p.', '')})")
        if not full:
            # an incremental run re-applies the decisions to the posts it loaded, which already share a seller
            # because of them: the links stored then explain those joins (a decision is written once)
            res.links = [lk for lk in res.links if lk.type != "manual" or previous.get(lk.post_a) is None
                         or previous.get(lk.post_a) != previous.get(lk.post_b)]
        db.conn.executemany(
            "insert into seller_links(post_a, post_b, type, weight, evidence, created_at, run_id) "
            "values (?,?,?,?,?,?,?)",
            ((lk.post_a, lk.post_b, lk.type, lk.weight, json.dumps(lk.evidence, ensure_ascii=False), now, run_id)
             for lk in res.links))
        rep.links_added = len(res.links)
        if full:
            for k0 in range(0, len(new_posts), 50_000):
                chunk = _post_keys(new_posts[k0:k0 + 50_000], new_sigs[k0:k0 + 50_000], s,
                                   norm_lens[k0:k0 + 50_000])
                db.conn.executemany("insert or ignore into cluster_keys(key, post_id, author) values (?,?,?)",
                                    chunk)
                del chunk
        else:
            db.conn.executemany("insert or ignore into cluster_keys(key, post_id, author) values (?,?,?)",
                                key_rows)
        db.conn.executemany(
            "insert or replace into cluster_posts(post_id, sig, content_sha256, clustered_at) values (?,?,?,?)",
            ((p.id, new_sigs[i].tobytes(), facts[p.id][1], now) for i, p in enumerate(new_posts)))
        affected = set(assignment.values()) | {m for g in merges for m in g["merged"]} | left_sellers
        if full:
            affected |= set(before_platforms)
        _refresh_summaries(db, affected, now)
        after = _platforms(db, set(before_platforms))
        for sid, plats in sorted(after.items()):
            if sid in before_platforms and plats - before_platforms[sid]:
                rep.new_platform.append({"seller": sid, "platforms": sorted(plats - before_platforms[sid])})
        rep.sellers_total = db.execute("select count(*) from sellers where status = 'active'").fetchone()[0]
        rep.seconds = round(time.time() - t0, 3)
        rep.cpu_seconds = round(time.process_time() - c0, 3)
        db.execute("update runs set finished_at=?, status='ok', items=? where id=?",
                   [iso(utcnow()), rep.posts_clustered, run_id])
        custody.append(db, "cluster", {
            "run_id": run_id, "mode": rep.mode, "posts_clustered": rep.posts_clustered,
            "new_sellers": len(rep.new_sellers), "merges": rep.merges[:200], "links_added": rep.links_added,
            "sellers_total": rep.sellers_total, "settings": asdict(s)},
            subject_type="run", subject_id=run_id)
    return rep


def _rekey_changed(db) -> dict[int, str]:
    """Clustered posts whose content changed since (a new version): drop their blocking keys so this
    run computes them again from the current text and identifiers, and mark their text and price-list
    links with the version they were computed on (``evidence.compared``: post id -> content hash),
    so ``veille seller show`` quotes that version. Returns post id -> the content hash clustered before."""
    changed = {pid: sha for pid, sha in db.conn.execute(
        "select p.id, c.content_sha256 from posts p indexed by posts_edited "  # noqa: S608
        f"cross join cluster_posts c on c.post_id = p.id where p.version > 1 and {ELIGIBLE} "
        "and c.content_sha256 is not p.content_sha256")}
    if not changed:
        return changed
    _temp_ids(db, "_cl_chg", changed)
    db.execute("delete from cluster_keys where post_id in (select id from _cl_chg)")
    marked = []
    for lid, a, b, ev in db.conn.execute(
            "select l.id, l.post_a, l.post_b, l.evidence from seller_links l where l.type in ('text', 'template') "
            "and (l.post_a in (select id from _cl_chg) or l.post_b in (select id from _cl_chg))").fetchall():
        try:
            evidence = json.loads(ev or "{}")
        except ValueError:
            continue
        compared = evidence.setdefault("compared", {})
        for pid in (a, b):
            if pid in changed and changed[pid]:
                compared.setdefault(str(pid), changed[pid])  # the first edit after the link names its version
        marked.append((json.dumps(evidence, ensure_ascii=False), lid))
    db.conn.executemany("update seller_links set evidence = ? where id = ?", marked)
    return changed


def _add_text_spans(db, links) -> None:
    """Fill the shared passages of the text links from the stored texts (title + text, as clustered)."""
    from matchers.cluster import text_spans

    tl = [lk for lk in links if lk.type == "text" and "spans" not in lk.evidence]
    if not tl:
        return
    _temp_ids(db, "_cl_txt", {p for lk in tl for p in (lk.post_a, lk.post_b)})
    texts = {pid: (f"{t}\n{x}" if t and x else (t or x or "")) for pid, t, x in db.conn.execute(
        "select p.id, p.title, p.text from _cl_txt t cross join posts p on p.id = t.id")}
    for lk in tl:
        lk.evidence["spans"] = text_spans(texts.get(lk.post_a, ""), texts.get(lk.post_b, ""))


def _candidates(db, new_posts, key_rows, s):
    """Existing clustered posts sharing a blocking key with a new post (capped per key)."""
    from matchers.cluster import identifier_keys, load_common, stable_key

    # Bounded work per key, whatever the bucket size: the latest posts of each key (index seek),
    # then one post per seller (a seller's posts are joined beforehand anyway).
    cap_sellers = max(s.max_bucket_sellers, s.max_authors_per_identifier)
    per_key = 3 * cap_sellers
    new_ids = {p.id for p in new_posts}
    keys = sorted({k for k, _pid, _a in key_rows})
    hits: dict[int, list[int]] = {}
    q = db.conn.cursor()
    for k in keys:
        got = [r[0] for r in q.execute("select post_id from cluster_keys where key = ? order by post_id desc limit ?",
                                       [k, per_key])]
        got = [pid for pid in got if pid not in new_ids]
        if got:
            hits[k] = got
    _temp_ids(db, "_cl_hit", {pid for v in hits.values() for pid in v})
    seller_of = dict(db.conn.execute("select p.id, p.seller_id from _cl_hit t cross join posts p on p.id = t.id"))
    cand = set()
    for pids in hits.values():
        reps: dict[Any, int] = {}
        for pid in pids:
            reps.setdefault(seller_of.get(pid) or -pid, pid)
        if len(reps) < cap_sellers:  # a key shared by more sellers makes no comparison: skip it
            cand.update(reps.values())
    _temp_ids(db, "_cl_cand", cand)
    cposts, cfacts = _load_posts(db, "_cl_cand")
    # distinct authors of each identifier of the loaded posts (new AND candidates: two candidates may share
    # an agency number that looks rare among the few posts loaded) in the whole store, counting stops past
    # the cap
    common = load_common()
    author_counts: dict[str, int] = {}
    seen_keys = set()
    for p in (*new_posts, *cposts):
        for _ns, _v, key in identifier_keys(p, common):
            if key in seen_keys:
                continue
            seen_keys.add(key)
            n = q.execute("select count(*) from (select distinct author from cluster_keys where key = ? limit ?)",
                          [stable_key(key), s.max_authors_per_identifier + 1]).fetchone()[0]
            if n:
                author_counts[key] = n
    from matchers import minhash

    sigs = np.full((len(cposts), minhash.NUM_PERM), 0xFFFFFFFF, dtype=np.uint32)
    pos = {p.id: i for i, p in enumerate(cposts)}
    for pid, sig in db.conn.execute("select c.post_id, c.sig from _cl_cand t cross join cluster_posts c on c.post_id = t.id"):
        if sig and pid in pos and len(sig) == 4 * minhash.NUM_PERM:
            sigs[pos[pid]] = np.frombuffer(sig, dtype=np.uint32)
    return cposts, cfacts, sigs, author_counts


def _platforms(db, ids: set[int] | None) -> dict[int, set[str]]:
    """Platforms of the active sellers (all, or these ids)."""
    if ids is None:
        cur = db.conn.execute("select id, platforms from sellers where status = 'active'")
    else:
        _temp_ids(db, "_cl_pl", ids)
        cur = db.conn.execute("select s.id, s.platforms from _cl_pl t cross join sellers s on s.id = t.id "
                              "where s.status = 'active'")
    return {sid: set(json.loads(p or "[]")) for sid, p in cur}


def _next_seller_id(db) -> int:
    return (db.execute("select coalesce(max(id), 0) from sellers").fetchone()[0] or 0) + 1


def _assign_full(db, clusters, previous):
    from matchers.cluster import assign_ids

    a = assign_ids(clusters, previous, _next_seller_id(db))
    by_into: dict[int, list[int]] = defaultdict(list)
    for old, into in a.merged.items():
        by_into[into].append(old)
    merges = [{"into": into, "merged": sorted(olds)} for into, olds in sorted(by_into.items())]
    return a.seller_of, merges


def _assign_incremental(db, clusters, previous):
    """New posts join the seller of the existing posts they linked to; sellers a new post links are merged."""
    sizes = {}
    olds = set(previous.values())
    if olds:
        _temp_ids(db, "_cl_s", olds)
        sizes = dict(db.conn.execute("select s.id, s.post_count from _cl_s t cross join sellers s on s.id = t.id"))
    nxt = _next_seller_id(db)
    seller_of: dict[int, int] = {}
    merges = []
    for c in clusters:
        existing = sorted({previous[p] for p in c if p in previous})
        if existing:
            winner = min(existing, key=lambda sid: (-sizes.get(sid, 0), sid))
            losers = [sid for sid in existing if sid != winner]
            if losers:
                merges.append({"into": winner, "merged": losers})
        else:
            winner = nxt
            nxt += 1
        for p in c:
            if p not in previous:
                seller_of[p] = winner
    return seller_of, merges


def _write_assignment(db, seller_of: dict[int, int], previous: dict[int, int], merges, now: str,
                      full: bool) -> set[int]:
    existing = {r[0] for r in db.conn.execute("select id from sellers")}
    used = set(seller_of.values())
    created = used - existing
    db.conn.executemany(
        "insert into sellers(id, label, created_at, updated_at) values (?,?,?,?)",
        ((sid, None, now, now) for sid in sorted(created)))
    changes = [(sid, p) for p, sid in seller_of.items() if previous.get(p) != sid]
    if len(changes) < 50_000:  # index lookups
        db.conn.executemany("update posts set seller_id = ? where id = ?", changes)
    else:  # one pass over posts
        db.execute("create temp table if not exists _cl_asg (post_id integer primary key, seller_id integer)")
        db.execute("delete from _cl_asg")
        db.conn.executemany("insert into _cl_asg(seller_id, post_id) values (?,?)", changes)
        db.execute("update posts set seller_id = a.seller_id from _cl_asg a where posts.id = a.post_id")
    for g in merges:
        for old in g["merged"]:
            db.execute("update posts set seller_id = ? where seller_id = ?", [g["into"], old])
            db.execute("update sellers set status = 'merged', merged_into = ?, updated_at = ? where id = ?",
                       [g["into"], now, old])
    if used:
        _temp_ids(db, "_cl_s", used)
        db.execute("update sellers set status = 'active', merged_into = null where id in (select id from _cl_s) "
                   "and status != 'active'")
    if full:  # sellers left without posts
        db.execute("update sellers set status = case when merged_into is null then 'empty' else status end, "
                   "post_count = 0 where status = 'active' and id not in (select distinct seller_id from posts "
                   "where seller_id is not null)")
    return created


def _refresh_summaries(db, seller_ids: Iterable[int], now: str) -> None:
    """Recompute the summary columns of these sellers from their posts (bulk)."""
    ids = set(seller_ids)
    if not ids:
        return
    _temp_ids(db, "_cl_sum", ids)
    base = {}
    for r in db.conn.execute(
            "select p.seller_id, count(*), min(coalesce(p.posted_at, p.first_seen_at)), "
            "max(coalesce(p.posted_at, p.last_seen_at)), min(p.price), max(p.price) "
            "from _cl_sum t cross join posts p on p.seller_id = t.id group by p.seller_id"):
        base[r[0]] = {"post_count": r[1], "first_seen": r[2], "last_seen": r[3], "price_min": r[4],
                      "price_max": r[5], "platforms": Counter(), "accounts": Counter(), "categories": Counter(),
                      "identifiers": Counter()}
    for sid, platform, handle, category, n in db.conn.execute(
            "select p.seller_id, p.platform, p.author_handle, p.category, count(*) from _cl_sum t "
            "cross join posts p on p.seller_id = t.id group by 1, 2, 3, 4"):
        b = base[sid]
        b["platforms"][platform] += n
        if handle:
            b["accounts"][f"{platform}:{handle}"] += n
        if category:
            b["categories"][category] += n
    kinds = ",".join(f"'{k}'" for k in IDENT_ENTITY_KINDS)
    for sid, kind, value, n in db.conn.execute(
            "select p.seller_id, e.kind, e.value, count(*) from _cl_sum t cross join posts p "  # noqa: S608
            f"on p.seller_id = t.id cross join entities e on e.post_id = p.id where e.kind in ({kinds}) "
            "group by 1, 2, 3"):
        base[sid]["identifiers"][f"{'phone' if kind == 'whatsapp' else kind}:{value}"] += n
    out = []
    for sid, b in base.items():
        accounts = [a for a, _ in b["accounts"].most_common(MAX_SUMMARY_ITEMS)]
        idents = [i for i, _ in b["identifiers"].most_common(MAX_SUMMARY_ITEMS)]
        label = (idents[0].split(":", 1)[1] if idents else accounts[0] if accounts else f"seller {sid}")[:80]
        out.append((label, now, json.dumps(sorted(b["platforms"])), json.dumps(accounts, ensure_ascii=False),
                    json.dumps(idents, ensure_ascii=False), b["first_seen"], b["last_seen"], b["post_count"],
                    json.dumps(sorted(b["categories"])), b["price_min"], b["price_max"], sid))
    db.conn.executemany(
        "update sellers set label=?, updated_at=?, platforms=?, accounts=?, identifiers=?, first_seen=?, "
        "last_seen=?, post_count=?, categories=?, price_min=?, price_max=?, status='active' where id=?", out)
    # active sellers left without posts (their posts re-classified none, or purged) are 'empty', as after --full
    db.conn.executemany("update sellers set status = 'empty', post_count = 0, updated_at = ? "
                        "where id = ? and status = 'active'", ((now, sid) for sid in sorted(ids - set(base))))


def refresh_sellers(db, seller_ids: Iterable[int], now: str) -> None:
    """Recompute the summaries of these sellers after their posts changed outside clustering (purge)."""
    _refresh_summaries(db, seller_ids, now)


# ----------------------------------------------------------------------------- reading
def _seller_row(r: dict) -> dict[str, Any]:
    d = dict(r)
    for k in ("platforms", "accounts", "identifiers", "categories"):
        d[k] = json.loads(d.get(k) or "[]")
    return d


def list_sellers(ws, platform: str | None = None, min_posts: int = 1, limit: int | None = None,
                 include_inactive: bool = False) -> list[dict[str, Any]]:
    if min_posts < 0:
        raise InputError("--min-posts must be >= 0")
    sql = "select * from sellers where post_count >= ?"
    params: list[Any] = [min_posts]
    if not include_inactive:
        sql += " and status = 'active'"
    if platform:
        sql += " and exists (select 1 from json_each(sellers.platforms) j where j.value = ?)"
        params.append(platform)
    sql += " order by post_count desc, id"
    if limit:
        sql += " limit ?"
        params.append(int(limit))
    return [_seller_row(r) for r in rows(ws.db, sql, params)]


def get_seller(ws, seller_id: int) -> dict[str, Any]:
    r = rows(ws.db, "select * from sellers where id = ?", [seller_id])
    if not r:
        raise NotFoundError(f"no seller {seller_id} (see `veille sellers`)")
    return _seller_row(r[0])


def _fmt_value(kind: str, value: str) -> str:
    if kind == "phone" and value.startswith("+33") and len(value) == 12:
        v = value[3:]
        return f"+33 {v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:9]}"
    return value


def _reason(link: dict[str, Any], texts: dict[int, str]) -> str:
    ev = link["evidence"]
    t = link["type"]
    if t == "identifier":
        n = ev.get("authors")
        extra = f" (used by {n} author accounts)" if n and n > 1 else ""
        return f"both give the {ev.get('kind')} {_fmt_value(ev.get('kind', ''), str(ev.get('value')))}{extra}"
    if t == "same_account":
        return f"both were posted by the account {ev.get('account')}"
    if t == "text":
        edited = sorted(int(p) for p in (ev.get("compared") or {}))
        msg = f"their texts {'were' if edited else 'are'} {ev.get('similarity', 0):.2f} similar"
        if edited:
            msg += " before post" + ("s " if len(edited) > 1 else " ") + " and ".join(map(str, edited)) + " changed"
        spans = ev.get("spans") or []
        if spans:
            a = link.get("text_a") if link.get("text_a") is not None else texts.get(link["post_a"], "")
            sp = spans[0]
            quote = " ".join(a[sp["a_start"]:sp["a_end"]].split())[:80]
            if quote:
                msg += f" (shared passage: \u201c{quote}\u201d)"
        return msg
    if t == "handle":
        return f"their handles {ev.get('a')!r} and {ev.get('b')!r} are {ev.get('score', 0):.0f}% alike"
    if t == "image":
        return (f"they show the same photo (perceptual hashes {ev.get('phash_a')} / {ev.get('phash_b')}, "
                f"{ev.get('distance')} bits apart)")
    if t == "template":
        was = " (before an edit)" if ev.get("compared") else ""
        return f"they use the same price list ({ev.get('prices')}){was}"
    if t == "manual":
        return f"an investigator decided so (decision {ev.get('decision')})"
    return t


def explain_links(links: list[dict[str, Any]], texts: dict[int, str]) -> list[dict[str, Any]]:
    """Group links by post pair into sentences: 'posts 3 and 9 are linked because …'."""
    by_pair: dict[tuple[int, int], list[dict]] = defaultdict(list)
    groups: dict[Any, list[dict]] = defaultdict(list)
    for lk in links:
        g = lk["evidence"].get("merge_group") if isinstance(lk.get("evidence"), dict) else None
        if g is not None and lk["type"] not in ("identifier", "same_account", "manual"):
            groups[(lk.get("run_id"), g)].append(lk)
        else:
            by_pair[(lk["post_a"], lk["post_b"])].append(lk)
    out = []
    for lks in groups.values():  # weak links that only together justified a merge
        combined = lks[0]["evidence"].get("combined") or sum(lk["weight"] for lk in lks)
        parts = [f"posts {lk['post_a']} and {lk['post_b']}: {_reason(lk, texts)}" for lk in lks]
        out.append({"post_a": lks[0]["post_a"], "post_b": lks[0]["post_b"], "weight": round(combined, 3),
                    "types": [lk["type"] for lk in lks],
                    "explanation": "joined on corroborating evidence (combined weight "
                                   f"{combined:.2f}): " + "; ".join(parts),
                    "links": [{k: lk[k] for k in ("post_a", "post_b", "type", "weight", "evidence")} for lk in lks]})
    for (a, b), lks in by_pair.items():
        reasons = [_reason(lk, texts) for lk in lks]
        sentence = f"posts {a} and {b} are linked because " + ", and ".join(reasons)
        out.append({"post_a": a, "post_b": b, "weight": round(sum(lk["weight"] for lk in lks), 3),
                    "types": [lk["type"] for lk in lks], "explanation": sentence,
                    "links": [{k: lk[k] for k in ("type", "weight", "evidence")} for lk in lks]})
    return out


def seller_detail(ws, seller_id: int, max_posts: int = 500) -> dict[str, Any]:
    """Posts, accounts, identifiers, link explanations and a timeline of one seller."""
    seller = get_seller(ws, seller_id)
    db = ws.db
    if seller.get("status") == "merged" and seller.get("merged_into"):
        seller["note"] = f"merged into seller {seller['merged_into']}"
    posts = rows(db, "select id, platform, url, author_handle, title, text, price, currency, posted_at, "
                     "first_seen_at, category, subtype, status from posts where seller_id = ? "
                     "order by coalesce(posted_at, first_seen_at), id limit ?", [seller_id, max_posts])
    links = rows(db, "select l.post_a, l.post_b, l.type, l.weight, l.evidence, l.run_id from seller_links l "
                     "join posts p on p.id = l.post_a where p.seller_id = ? order by l.id", [seller_id])
    for lk in links:
        lk["evidence"] = json.loads(lk["evidence"] or "{}")
    texts = {p["id"]: ((p["title"] + "\n" + p["text"]) if p["title"] and p["text"] else (p["title"] or p["text"]))
             for p in posts}
    missing = {lk["post_a"] for lk in links} - set(texts)
    for pid in list(missing)[:1000]:
        r = db.execute("select title, text from posts where id = ?", [pid]).fetchone()
        if r:
            texts[pid] = (r[0] + "\n" + r[1]) if r[0] and r[1] else (r[0] or r[1])
    # text links computed before a post was edited quote the version they compared
    for lk in links:
        sha = (lk["evidence"].get("compared") or {}).get(str(lk["post_a"])) if lk["type"] == "text" else None
        if sha:
            r = db.execute("select title, text from post_versions where post_id = ? and content_sha256 = ? "
                           "order by version limit 1", [lk["post_a"], sha]).fetchone()
            lk["text_a"] = ((r[0] + "\n" + r[1]) if r[0] and r[1] else (r[0] or r[1] or "")) if r else ""
    timeline = [{"at": p["posted_at"] or p["first_seen_at"], "post_id": p["id"], "platform": p["platform"],
                 "account": p["author_handle"], "url": p["url"], "status": p["status"]} for p in posts]
    decisions = rows(db, "select id, kind, seller_a, seller_b, at, actor, note from seller_decisions "
                         "where seller_a = ? or seller_b = ? order by id", [seller_id, seller_id])
    for p in posts:
        p["text"] = (p["text"] or "")[:500]
    return {**seller, "posts": posts, "posts_shown": len(posts), "links": explain_links(links, texts),
            "timeline": timeline, "decisions": decisions}


# ----------------------------------------------------------------------------- decisions
def _seller_posts(db, sid: int) -> list[int]:
    return [r[0] for r in db.conn.execute("select id from posts where seller_id = ? order by id", [sid])]


def _active(ws, sid: int) -> dict[str, Any]:
    s = get_seller(ws, sid)
    if s["status"] != "active":
        where = f" into seller {s['merged_into']}" if s.get("merged_into") else ""
        raise InputError(f"seller {sid} is {s['status']}{where}: use the current seller id")
    return s


def merge_sellers(ws, a: int, b: int, actor: str | None = None, note: str | None = None) -> dict[str, Any]:
    """An investigator's decision that sellers ``a`` and ``b`` are one: ``b`` is merged into ``a``."""
    if a == b:
        raise InputError(f"cannot merge seller {a} with itself")
    _active(ws, a)
    _active(ws, b)
    db = ws.db
    now = iso(utcnow())
    actor = actor or custody.default_actor()
    with transaction(db):
        pa, pb = _seller_posts(db, a), _seller_posts(db, b)
        did = db.execute("insert into seller_decisions(kind, seller_a, seller_b, posts, posts_b, at, actor, note) "
                         "values ('merge',?,?,?,?,?,?,?)",
                         [a, b, json.dumps(pa), json.dumps(pb), now, actor, note]).lastrowid
        db.execute("update posts set seller_id = ? where seller_id = ?", [a, b])
        db.execute("update sellers set status='merged', merged_into=?, updated_at=? where id=?", [a, now, b])
        if pa and pb:
            db.execute("insert into seller_links(post_a, post_b, type, weight, evidence, created_at) "
                       "values (?,?,?,?,?,?)",
                       [pa[0], pb[0], "manual", 1.0,
                        json.dumps({"decision": did, "kind": "merge", "reason": "investigator: same seller",
                                    "note": note}), now])
        _refresh_summaries(db, {a}, now)
        custody.append(db, "decision", {"decision_id": did, "kind": "merge", "seller_a": a, "seller_b": b,
                                        "posts_a": pa, "posts_b": pb, "note": note},
                       subject_type="seller", subject_id=a, actor=actor)
    return {"decision": did, "seller": a, "merged": b, "posts": len(pa) + len(pb)}


def split_seller(ws, sid: int, post_ids: list[int], actor: str | None = None,
                 note: str | None = None) -> dict[str, Any]:
    """An investigator's decision that ``post_ids`` are NOT the same seller as the rest of ``sid``.

    The posts become a new seller; re-clustering will never put them back
    together with the others (hard cannot-link).
    """
    _active(ws, sid)
    if not post_ids:
        raise InputError("give the posts to split off with --post")
    db = ws.db
    members = set(_seller_posts(db, sid))
    wanted = sorted(set(int(p) for p in post_ids))
    foreign = [p for p in wanted if p not in members]
    if foreign:
        raise InputError(f"post(s) {', '.join(map(str, foreign[:10]))} are not in seller {sid}")
    rest = sorted(members - set(wanted))
    if not rest:
        raise InputError(f"these are all the posts of seller {sid}: nothing would be left to split from")
    now = iso(utcnow())
    actor = actor or custody.default_actor()
    with transaction(db):
        new_id = _next_seller_id(db)
        db.execute("insert into sellers(id, label, created_at, updated_at) values (?,?,?,?)", [new_id, None, now, now])
        did = db.execute("insert into seller_decisions(kind, seller_a, seller_b, posts, posts_b, at, actor, note) "
                         "values ('split',?,?,?,?,?,?,?)",
                         [sid, new_id, json.dumps(wanted), json.dumps(rest), now, actor, note]).lastrowid
        db.conn.executemany("update posts set seller_id = ? where id = ?", ((new_id, p) for p in wanted))
        # links that joined the two sides no longer explain anything
        _temp_ids(db, "_cl_split", wanted)
        _temp_ids(db, "_cl_rest", rest)
        db.execute("delete from seller_links where (post_a in (select id from _cl_split) and post_b in "
                   "(select id from _cl_rest)) or (post_a in (select id from _cl_rest) and post_b in "
                   "(select id from _cl_split))")
        _refresh_summaries(db, {sid, new_id}, now)
        custody.append(db, "decision", {"decision_id": did, "kind": "split", "seller": sid, "new_seller": new_id,
                                        "posts_out": wanted, "posts_kept": rest, "note": note},
                       subject_type="seller", subject_id=sid, actor=actor)
    return {"decision": did, "seller": sid, "new_seller": new_id, "posts": wanted}


# ----------------------------------------------------------------------------- evaluation
MASK_KINDS = (*IDENT_ENTITY_KINDS, "url")


def _evaluate_by_evidence(ws, truth: dict[str, Any]) -> dict[str, Any]:
    """Re-cluster the labelled posts in memory twice: identifiers only, and content only with the
    identifiers masked (accounts, phones, handles, e-mails… removed from the fields and blanked out
    of the texts). Investigators' decisions are not applied: this scores the algorithm."""
    from matchers.cluster import ClusterPost, cluster
    from matchers.cluster_eval import score

    db = ws.db
    ids = [r[0] for r in db.conn.execute("select p.id from _ev_urls u cross join posts p on p.url = u.url "  # noqa: S608
                                         f"where {ELIGIBLE}")]
    _temp_ids(db, "_ev_posts", ids)
    posts, _facts = _load_posts(db, "_ev_posts")
    url_of = dict(db.conn.execute("select p.id, p.url from _ev_posts t cross join posts p on p.id = t.id"))
    spans: dict[int, list[tuple[int, int]]] = defaultdict(list)
    kinds = ",".join(f"'{k}'" for k in MASK_KINDS)
    for pid, st, en in db.conn.execute(
            'select e.post_id, e.start, e."end" from _ev_posts t cross join entities e on e.post_id = t.id '  # noqa: S608
            f"where e.kind in ({kinds}) and e.start is not null and e.\"end\" is not null"):
        spans[pid].append((st, en))
    s = _settings(ws)
    out = {}
    for mode in ("identifiers_only", "content_only"):
        mposts = []
        for p in posts:
            if mode == "identifiers_only":
                mposts.append(ClusterPost(p.id, p.platform, p.author, "", p.identifiers, (), (), p.handles))
            else:
                # entity offsets index the post's full text (title + "\n" + text), as clustered
                chars = list(p.text)
                for st, en in spans.get(p.id, ()):
                    for k in range(max(0, st), min(len(chars), en)):
                        chars[k] = " "
                mposts.append(ClusterPost(p.id, p.platform, None, "".join(chars), (), p.phashes, p.prices, ()))
        res = cluster(mposts, s, explain_text=False)
        pred = {url_of[pid]: ci for ci, c in enumerate(res.clusters) for pid in c}
        sc = score(pred, truth)
        out[mode] = {k: sc[k] for k in ("pairwise", "bcubed", "predicted_clusters")}
    return out


def evaluate_sellers(ws, truth_path: Path | str, by_evidence: bool = True) -> dict[str, Any]:
    """Pairwise and B-cubed P/R/F1 of the stored sellers against ``{url, seller}`` lines.

    With ``by_evidence``, also the figures of identifiers alone and of content alone
    (identifiers masked), re-clustered in memory."""
    from matchers.cluster_eval import score

    path = Path(truth_path)
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    truth: dict[str, Any] = {}
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise InputError(f"{path}:{lineno}: not JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("url"), str) or obj.get("seller") is None:
                raise InputError(f"{path}:{lineno}: expected {{\"url\": ..., \"seller\": ...}}")
            truth[obj["url"]] = str(obj["seller"])
    if not truth:
        raise InputError(f"{path}: no labelled lines")
    pred: dict[str, Any] = {}
    db = ws.db
    db.execute("create temp table if not exists _ev_urls (url text primary key)")
    db.execute("delete from _ev_urls")
    db.conn.executemany("insert or ignore into _ev_urls(url) values (?)", ((u,) for u in truth))
    for url, pid, sid in db.conn.execute(
            "select p.url, p.id, p.seller_id from _ev_urls u cross join posts p on p.url = u.url"):
        pred[url] = sid if sid is not None else f"post:{pid}"
    rep = score(pred, truth)
    if by_evidence:
        rep["by_evidence"] = _evaluate_by_evidence(ws, truth)
    rep["labelled"] = len(truth)
    rep["missing_from_workspace"] = len(truth) - len(pred)
    # by link type: which kinds of links joined the posts of correctly / wrongly merged pairs
    kinds = Counter()
    for t, in db.conn.execute("select l.type from _ev_urls u cross join posts p on p.url = u.url "
                              "cross join seller_links l on l.post_a = p.id"):
        kinds[t] += 1
    rep["links_by_type"] = dict(kinds)
    return rep
