"""``veille export graph``: sellers, accounts, identifiers and platforms as a graph (GEXF / GraphML).

Nodes (attribute ``type``):

- ``seller``: one per seller (``label``, ``posts``);
- ``account``: a platform account that posted for a seller (``platform:handle``);
- ``identifier``: a phone, WhatsApp, Telegram, Snapchat … handle, e-mail,
  wallet or IBAN found in a seller's posts;
- ``platform``.

Edges (attributes ``link_type``, ``label`` and ``weight``; GEXF reserves the
name ``type`` for directedness):

- ``has_account`` seller -> account (weight: posts);
- ``on_platform`` account -> platform (weight: posts);
- ``uses_identifier`` account -> identifier (weight: posts giving it);
- one edge per clustering link type between two accounts (``seller_links``:
  ``phone``, ``text_similarity`` …; weight: summed link weight).

Only posts written by sellers are used: third parties (buyers, victims, people
who replied, chat members) never appear in the graph. The file opens in Gephi
(GEXF) and Maltego / yEd / Cytoscape (GraphML).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import networkx as nx

from .db import rows
from .errors import InputError

FORMATS = ("gexf", "graphml")
IDENTIFYING_KINDS = ("phone", "whatsapp", "telegram", "snapchat", "instagram", "tiktok", "email", "wallet", "iban")
SELLER_POSTS = ("p.seller_id is not null and coalesce(lower(p.author_role), '') in "
                "('', 'seller', 'author', 'channel', 'admin', 'owner')")


def account_key(platform: str, handle: str | None, author: str | None) -> str | None:
    h = (handle or author or "").strip()
    return f"account:{platform}:{h}" if h else None


def build_graph(ws) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=str(ws.config.get("workspace.name", "veille")))
    sellers = rows(ws.db, "select id, coalesce(label, '') as label, post_count, status from sellers")
    for s in sellers:
        g.add_node(f"seller:{s['id']}", type="seller", label=s["label"] or f"seller #{s['id']}",
                   posts=int(s["post_count"] or 0), status=s["status"] or "")
    posts = rows(ws.db, f"select p.id, p.platform, p.author, p.author_handle, p.seller_id from posts p "  # noqa: S608
                        f"where {SELLER_POSTS}")
    post_acc: dict[int, str] = {}
    acc_posts: dict[tuple[str, str], int] = {}
    plat_posts: dict[tuple[str, str], int] = {}
    for p in posts:
        acc = account_key(p["platform"], p["author_handle"], p["author"])
        if acc is None:
            continue
        post_acc[p["id"]] = acc
        seller = f"seller:{p['seller_id']}"
        if seller not in g:
            g.add_node(seller, type="seller", label=f"seller #{p['seller_id']}", posts=0, status="")
        if acc not in g:
            g.add_node(acc, type="account", label=(p["author_handle"] or p["author"] or "")[:200],
                       platform=p["platform"])
        plat = f"platform:{p['platform']}"
        if plat not in g:
            g.add_node(plat, type="platform", label=p["platform"])
        acc_posts[(seller, acc)] = acc_posts.get((seller, acc), 0) + 1
        plat_posts[(acc, plat)] = plat_posts.get((acc, plat), 0) + 1
    for (u, v), n in acc_posts.items():
        g.add_edge(u, v, key="has_account", link_type="has_account", label="has_account", weight=float(n))
    for (u, v), n in plat_posts.items():
        g.add_edge(u, v, key="on_platform", link_type="on_platform", label="on_platform", weight=float(n))
    kinds = ",".join(f"'{k}'" for k in IDENTIFYING_KINDS)
    ident_posts: dict[tuple[str, str], set[int]] = {}
    for e in rows(ws.db, f"select e.post_id, e.kind, e.value from entities e join posts p on p.id = e.post_id "  # noqa: S608
                         f"where e.kind in ({kinds}) and {SELLER_POSTS}"):
        acc = post_acc.get(e["post_id"])
        if acc is None:
            continue
        node = f"identifier:{e['kind']}:{e['value']}"
        if node not in g:
            g.add_node(node, type="identifier", label=e["value"][:200], kind=e["kind"])
        ident_posts.setdefault((acc, node), set()).add(e["post_id"])
    for (u, v), ids in ident_posts.items():
        g.add_edge(u, v, key="uses_identifier", link_type="uses_identifier", label="uses_identifier", weight=float(len(ids)))
    links: dict[tuple[str, str, str], float] = {}
    for r in rows(ws.db, "select post_a, post_b, type, weight from seller_links"):
        a, b = post_acc.get(r["post_a"]), post_acc.get(r["post_b"])
        if a is None or b is None or a == b:
            continue
        a, b = sorted((a, b))
        k = (a, b, str(r["type"]))
        links[k] = links.get(k, 0.0) + float(r["weight"] or 0)
    for (a, b, t), w in links.items():
        g.add_edge(a, b, key=f"link:{t}", link_type=t, label=t, weight=round(w, 4))
    return g


def export_graph(ws, output: Path | str, fmt: str = "gexf") -> dict:
    """Write the graph; return its path and node/edge counts by type."""
    if fmt not in FORMATS:
        raise InputError(f"unknown graph format {fmt!r}: use {' or '.join(FORMATS)}")
    output = Path(output).expanduser()
    if output.exists() and output.is_dir():
        raise InputError(f"{output} is a folder: give a file name, e.g. graph.{fmt}")
    g = build_graph(ws)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=f".{fmt}", dir=output.parent)
    os.close(fd)
    try:
        if fmt == "gexf":
            nx.write_gexf(g, tmp)
        else:
            nx.write_graphml(g, tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    by_node: dict[str, int] = {}
    for _, d in g.nodes(data=True):
        by_node[d["type"]] = by_node.get(d["type"], 0) + 1
    by_edge: dict[str, int] = {}
    for _, _, d in g.edges(data=True):
        by_edge[d["link_type"]] = by_edge.get(d["link_type"], 0) + 1
    return {"path": str(output), "format": fmt, "nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
            "nodes_by_type": by_node, "edges_by_type": by_edge}
