"""storage.sellers: incremental and full clustering over the database, decisions, explanations, eval."""

from __future__ import annotations

import json

import pytest

from matchers.types import Entity, Verdict
from storage import custody
from storage.errors import InputError, NotFoundError
from storage.post import Post
from storage.posts import save_post
from storage.sellers import (
    evaluate_sellers,
    list_sellers,
    merge_sellers,
    seller_detail,
    split_seller,
    update_clusters,
)

OFFER = Verdict(category="appointment_resale", subtype="prefecture", score=0.9)
NONE = Verdict(category="none", score=0.0)
TEXT = ("Vends RDV préfecture de Bobigny pour titre de séjour et naturalisation, {p}€ le créneau, "
        "paiement après confirmation, sérieux uniquement")


def add(ws, pid: str, platform: str, handle: str | None, text: str = "", phone: str | None = None,
        verdict=OFFER, media=None) -> int:
    ents = []
    if phone:
        i = text.find(phone) if phone in text else 0
        ents.append(Entity("phone", phone, phone, i, i + len(phone)))
    post = Post(platform=platform, external_id=pid, url=f"https://{platform}.example/{pid}", author_handle=handle,
                text=text, media=media or [])
    return save_post(ws, post, verdict=verdict, entities=ents).post_id


def seller_of(ws, post_id: int):
    return ws.db.execute("select seller_id from posts where id = ?", [post_id]).fetchone()[0]


def test_incremental_run_links_new_posts_to_known_sellers(workspace):
    ws = workspace
    a = add(ws, "1", "telegram", "rdv_pref75", TEXT.format(p=60) + " +33639981234", "+33639981234")
    b = add(ws, "2", "telegram", "rdv_pref75", TEXT.format(p=70))
    c = add(ws, "3", "leboncoin", "u555", "Passeport disponible rapidement, contactez-moi", "+33199004455")
    n = add(ws, "4", "leboncoin", "u9", "Avis aux lecteurs: la préfecture est gratuite", verdict=NONE)
    rep = update_clusters(ws)
    assert rep.mode == "incremental" and rep.posts_clustered == 3
    assert len(rep.new_sellers) == 2
    assert seller_of(ws, a) == seller_of(ws, b) != seller_of(ws, c)
    assert seller_of(ws, n) is None  # classified none: not clustered
    sid = seller_of(ws, a)
    # a new post on another platform with the same number joins seller sid
    d = add(ws, "5", "vivastreet", "u777", "RDV dispo, appelez le +33639981234", "+33639981234")
    rep2 = update_clusters(ws)
    assert rep2.posts_clustered == 1 and rep2.new_sellers == []
    assert seller_of(ws, d) == sid
    assert {"seller": sid, "platforms": ["vivastreet"]} in rep2.new_platform
    # nothing new: nothing done
    assert update_clusters(ws).posts_clustered == 0
    s = next(x for x in list_sellers(ws) if x["id"] == sid)
    assert s["post_count"] == 3 and s["platforms"] == ["telegram", "vivastreet"]
    assert "phone:+33639981234" in s["identifiers"]
    assert list_sellers(ws, platform="vivastreet")[0]["id"] == sid
    assert list_sellers(ws, min_posts=3) == [s]


def test_new_post_bridging_two_sellers_merges_them_and_ids_are_stable(workspace):
    ws = workspace
    a = add(ws, "1", "telegram", "aaa_one", "", "+33639980001")
    b = add(ws, "2", "snapchat", "bbb_two", "", "+33639980002")
    update_clusters(ws)
    sa, sb = seller_of(ws, a), seller_of(ws, b)
    assert sa != sb
    bridge = Post(platform="leboncoin", external_id="3", url="https://leboncoin.example/3", author_handle="u3",
                  text="+33639980001 / +33639980002")
    save_post(ws, bridge, verdict=OFFER, entities=[Entity("phone", "+33639980001", "+33639980001", 0, 12),
                                                   Entity("phone", "+33639980002", "+33639980002", 15, 27)])
    rep = update_clusters(ws)
    assert rep.merges == [{"into": min(sa, sb), "merged": [max(sa, sb)]}]
    assert seller_of(ws, a) == seller_of(ws, b) == min(sa, sb)
    gone = ws.db.execute("select status, merged_into from sellers where id = ?", [max(sa, sb)]).fetchone()
    assert gone == ("merged", min(sa, sb))
    # a full rebuild keeps the ids
    before = dict(ws.db.execute("select id, seller_id from posts").fetchall())
    rep = update_clusters(ws, full=True)
    assert rep.mode == "full" and rep.posts_clustered == 3
    assert dict(ws.db.execute("select id, seller_id from posts").fetchall()) == before
    assert rep.new_sellers == []


def test_split_survives_incremental_and_full_runs(workspace):
    ws = workspace
    ids = [add(ws, str(i), p, f"u{i}", "", "+33199000042") for i, p in enumerate(["telegram", "leboncoin",
                                                                                   "vivastreet"])]
    update_clusters(ws)
    sid = seller_of(ws, ids[0])
    assert {seller_of(ws, i) for i in ids} == {sid}
    r = split_seller(ws, sid, [ids[2]], note="agency number, different people")
    new = r["new_seller"]
    assert seller_of(ws, ids[2]) == new
    entry = custody.head(ws.db)
    assert entry["action"] == "decision" and entry["details"]["kind"] == "split"
    assert entry["details"]["posts_out"] == [ids[2]]
    # a new post sharing the number does not bridge the split
    extra = add(ws, "9", "snapchat", "s9", "", "+33199000042")
    update_clusters(ws)
    assert seller_of(ws, ids[2]) != seller_of(ws, ids[0])
    assert seller_of(ws, extra) in (sid, new)
    update_clusters(ws, full=True)
    assert seller_of(ws, ids[2]) == new and seller_of(ws, ids[0]) == sid
    assert seller_of(ws, ids[1]) == sid


def test_merge_decision_survives_full_run_and_is_in_custody(workspace):
    ws = workspace
    a = add(ws, "1", "telegram", "alpha", "", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980022")
    update_clusters(ws)
    sa, sb = seller_of(ws, a), seller_of(ws, b)
    r = merge_sellers(ws, sa, sb, note="same IBAN on screenshots")
    assert r["seller"] == sa and seller_of(ws, b) == sa
    entry = custody.head(ws.db)
    assert entry["action"] == "decision" and entry["details"]["kind"] == "merge"
    update_clusters(ws, full=True)
    assert seller_of(ws, a) == seller_of(ws, b) == sa
    d = seller_detail(ws, sa)
    assert any("investigator" in lk["explanation"] for lk in d["links"])
    assert d["decisions"][0]["kind"] == "merge"
    assert custody.verify_chain(ws.db)[1] == []


def test_decisions_on_unknown_or_wrong_sellers_give_clear_errors(workspace):
    ws = workspace
    a = add(ws, "1", "telegram", "alpha", "", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980022")
    update_clusters(ws)
    sa, sb = seller_of(ws, a), seller_of(ws, b)
    with pytest.raises(NotFoundError, match="no seller 999"):
        merge_sellers(ws, sa, 999)
    with pytest.raises(InputError, match="itself"):
        merge_sellers(ws, sa, sa)
    with pytest.raises(InputError, match="not in seller"):
        split_seller(ws, sa, [b])
    with pytest.raises(InputError, match="nothing would be left"):
        split_seller(ws, sa, [a])
    merge_sellers(ws, sa, sb)
    with pytest.raises(InputError, match="merged into seller"):
        merge_sellers(ws, sb, sa)
    with pytest.raises(NotFoundError):
        seller_detail(ws, 12345)


def test_seller_show_explains_links(workspace):
    ws = workspace
    a = add(ws, "1", "telegram", "rdv_prefecture_75", TEXT.format(p=60))
    b = add(ws, "2", "instagram", "rdv.prefecture75", TEXT.format(p=70) + " !!")
    c = add(ws, "3", "leboncoin", "u1", "Contact +33639981234", "+33639981234")
    d = add(ws, "4", "vivastreet", "u2", "Appelez +33639981234", "+33639981234")
    update_clusters(ws)
    assert seller_of(ws, a) == seller_of(ws, b)
    assert seller_of(ws, c) == seller_of(ws, d)
    det = seller_detail(ws, seller_of(ws, a))
    text = " ".join(lk["explanation"] for lk in det["links"])
    assert "texts are 0." in text and "similar" in text and "handles" in text
    assert "shared passage" in text
    det = seller_detail(ws, seller_of(ws, c))
    assert "both give the phone +33 6 39 98 12 34" in det["links"][0]["explanation"]
    assert [t["post_id"] for t in det["timeline"]] == [c, d]


def test_photo_hash_in_media_is_used(workspace):
    ws = workspace
    media = [{"url": "https://img.example/1.jpg", "kind": "photo", "phash": "c3d1a5b7e9f00112"}]
    a = add(ws, "1", "telegram", "one_aaa", TEXT.format(p=60), media=media)
    b = add(ws, "2", "instagram", "two_zzz", TEXT.format(p=70) + " !!", media=media)
    update_clusters(ws)
    assert seller_of(ws, a) == seller_of(ws, b)
    types = {lk["type"] for lk in seller_detail(ws, seller_of(ws, a))["links"][0]["links"]}
    assert types == {"text", "image"}


def test_posts_without_anything_are_singletons(workspace):
    ws = workspace
    ids = [add(ws, str(i), "telegram", None, "") for i in range(3)]
    rep = update_clusters(ws)
    assert len({seller_of(ws, i) for i in ids}) == 3 and len(rep.new_sellers) == 3


def test_evaluate_sellers(workspace, tmp_path):
    ws = workspace
    a = add(ws, "1", "telegram", "x1", "", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980011")
    add(ws, "3", "leboncoin", "u3", "", "+33639980033")
    update_clusters(ws)
    assert seller_of(ws, a) == seller_of(ws, b)
    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(x) for x in [
        {"url": "https://telegram.example/1", "seller": "s1"}, {"url": "https://leboncoin.example/2", "seller": "s1"},
        {"url": "https://leboncoin.example/3", "seller": "s2"}, {"url": "https://nowhere.example/9", "seller": "s3"},
    ]) + "\n")
    rep = evaluate_sellers(ws, truth)
    assert rep["bcubed"]["f1"] == 1.0 and rep["missing_from_workspace"] == 1
    # identifiers alone find the pair; content alone (identifiers masked, empty texts) cannot
    assert rep["by_evidence"]["identifiers_only"]["bcubed"]["f1"] == 1.0
    assert rep["by_evidence"]["content_only"]["pairwise"]["recall"] == 0.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": 3}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        evaluate_sellers(ws, bad)
    with pytest.raises(InputError, match="cannot read"):
        evaluate_sellers(ws, tmp_path / "missing.jsonl")


def test_interrupted_run_leaves_previous_state(workspace, monkeypatch):
    ws = workspace
    a = add(ws, "1", "telegram", "x1", "", "+33639980011")
    update_clusters(ws)
    sid = seller_of(ws, a)
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980011")
    import storage.sellers as S

    def boom(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "_refresh_summaries", boom)
    with pytest.raises(KeyboardInterrupt):
        update_clusters(ws)
    assert seller_of(ws, b) is None
    monkeypatch.undo()
    rep = update_clusters(ws)
    assert rep.posts_clustered == 1 and seller_of(ws, b) == sid
    assert ws.db.execute("select count(*) from cluster_posts").fetchone()[0] == 2


def test_common_number_links_nobody_in_full_and_incremental_runs(workspace):
    ws = workspace
    agency = "+33199000777"
    ids = [add(ws, str(i), "leboncoin", f"u{i}", f"Agence partenaire {agency}", agency) for i in range(30)]
    update_clusters(ws)
    assert len({seller_of(ws, i) for i in ids}) == 30
    late = add(ws, "late", "vivastreet", "v1", f"Appelez {agency}", agency)
    rep = update_clusters(ws)
    assert rep.merges == [] and seller_of(ws, late) not in {seller_of(ws, i) for i in ids}
    emoji = [add(ws, f"e{i}", p, "😀😀😀", "🔥🔥🔥") for i, p in enumerate(["snapchat", "instagram"])]
    update_clusters(ws)
    assert seller_of(ws, emoji[0]) != seller_of(ws, emoji[1])


def test_incremental_run_counts_authors_of_identifiers_shared_by_candidates(workspace):
    """Two known sellers sharing an agency number (12 authors) must not merge because a new post
    happens to load both of them through unrelated keys (where the number looks rare)."""
    ws = workspace
    agency = "+33199000888"
    a = add(ws, "a", "telegram", "zz_alpha_one", TEXT.format(p=60) + f" agence {agency}", agency)
    b = add(ws, "b", "instagram", "rdv_prefecture_93", f"Autre annonce sans rapport, agence {agency}", agency)
    others = [add(ws, f"o{i}", "leboncoin", f"u{i}", f"annonce {i} agence {agency}", agency) for i in range(10)]
    update_clusters(ws)
    assert len({seller_of(ws, p) for p in [a, b, *others]}) == 12
    add(ws, "n", "snapchat", "rdv.prefecture93", TEXT.format(p=70) + " !!")
    update_clusters(ws)
    assert seller_of(ws, a) != seller_of(ws, b)


def test_post_reclassified_none_leaves_its_seller_and_can_be_purged(workspace):
    from storage.posts import set_verdict

    ws = workspace
    a = add(ws, "1", "telegram", "x1", "", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980011")
    update_clusters(ws)
    sid = seller_of(ws, a)
    assert seller_of(ws, b) == sid
    set_verdict(ws, b, NONE)
    update_clusters(ws)
    assert seller_of(ws, b) is None
    assert ws.db.execute("select post_count from sellers where id = ?", [sid]).fetchone()[0] == 1
    assert ws.db.execute("select count(*) from cluster_posts where post_id = ?", [b]).fetchone()[0] == 0


def test_purge_removes_clustering_state_and_refreshes_sellers(workspace):
    """A clustered post re-classified none and purged before the next `veille cluster` leaves no
    cluster_posts / cluster_keys rows, and its seller's summary no longer counts it."""
    from storage.posts import set_verdict
    from storage.purge import purge

    ws = workspace
    a = add(ws, "1", "telegram", "x1", "RDV dispo", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "RDV dispo", "+33639980011")
    c = add(ws, "3", "leboncoin", "u3", "Passeport rapide", "+33639980022")
    update_clusters(ws)
    sid, lone = seller_of(ws, a), seller_of(ws, c)
    assert seller_of(ws, b) == sid and lone != sid
    for p in (b, c):
        set_verdict(ws, p, NONE)
    ws.db.execute("update posts set last_seen_at = '2020-01-01T00:00:00Z' where id in (?, ?)", [b, c])
    rep = purge(ws, 30)
    assert sorted(rep.post_ids) == sorted([b, c])
    for table in ("cluster_posts", "cluster_keys"):
        n = ws.db.execute(f"select count(*) from {table} where post_id in (?, ?)", [b, c]).fetchone()[0]  # noqa: S608
        assert n == 0, table
    s = {x["id"]: x for x in list_sellers(ws, include_inactive=True, min_posts=0)}
    assert s[sid]["post_count"] == 1 and s[sid]["platforms"] == ["telegram"] and s[sid]["status"] == "active"
    assert s[lone]["status"] == "empty" and s[lone]["post_count"] == 0
    assert lone not in {x["id"] for x in list_sellers(ws)}
    # the next runs see nothing stale: a new post with the first number joins the remaining seller
    assert update_clusters(ws).posts_clustered == 0
    d = add(ws, "4", "vivastreet", "u4", "RDV dispo", "+33639980011")
    update_clusters(ws)
    assert seller_of(ws, d) == sid
    assert update_clusters(ws, full=True).sellers_total == 1


def test_edited_post_is_rekeyed_on_the_incremental_run(workspace):
    """A post whose content changed is clustered again on its new content at the next incremental run
    (no --full needed): it keeps its seller, and what its new version shares links further sellers;
    links computed on its earlier version say so and quote that version."""
    ws = workspace
    a = add(ws, "1", "telegram", "rdv_prefecture_75", TEXT.format(p=60))
    b = add(ws, "2", "instagram", "rdv.prefecture75", TEXT.format(p=70) + " !!")
    c = add(ws, "3", "leboncoin", "u1", "Passeport rapide, appelez +33639981234", "+33639981234")
    update_clusters(ws)
    sid, other = seller_of(ws, a), seller_of(ws, c)
    assert seller_of(ws, b) == sid != other
    # re-saved unchanged: nothing to do
    add(ws, "1", "telegram", "rdv_prefecture_75", TEXT.format(p=60))
    rep = update_clusters(ws)
    assert rep.posts_clustered == 0 and rep.posts_changed == 0
    # the seller edits post a: it now gives the number of seller `other`
    add(ws, "1", "telegram", "rdv_prefecture_75", "Nouveau: passeports aussi, appelez +33639981234",
        "+33639981234")
    rep = update_clusters(ws)
    assert rep.posts_changed == 1 and rep.posts_clustered == 1 and rep.new_sellers == []
    assert {seller_of(ws, p) for p in (a, b, c)} == {sid}
    assert rep.merges == [{"into": sid, "merged": [other]}]
    det = seller_detail(ws, sid)
    text_links = [lk for lk in det["links"] if "text" in lk["types"]]
    assert text_links, det["links"]
    sentence = text_links[0]["explanation"]
    assert "were 0." in sentence and f"before post {a} changed" in sentence
    quote = sentence.split("shared passage:", 1)[1]
    assert "Bobigny" in quote or "préfecture" in quote  # the version that was compared, not the new text
    assert "phone +33 6 39 98 12 34" in " ".join(lk["explanation"] for lk in det["links"])
    # the stored keys are the new version's: a further post with that number joins, nothing is redone
    assert update_clusters(ws).posts_clustered == 0
    d = add(ws, "4", "vivastreet", "u4", "RDV et passeports +33639981234", "+33639981234")
    update_clusters(ws)
    assert seller_of(ws, d) == sid


def test_later_split_wins_over_earlier_merge_in_every_run(workspace):
    """merge A+B, then split B's post out again: no run, incremental or full, joins them back, and an
    incremental run does not write the decisions' links again."""
    ws = workspace
    a = add(ws, "1", "telegram", "alpha", "", "+33639980011")
    a2 = add(ws, "1b", "leboncoin", "alpha2", "", "+33639980011")
    b = add(ws, "2", "leboncoin", "u2", "", "+33639980022")
    update_clusters(ws)
    sa = seller_of(ws, a)
    merge_sellers(ws, sa, seller_of(ws, b), note="same IBAN")
    ms = [add(ws, f"m{i}", "vivastreet", f"w{i}", "", "+33639980022") for i in range(3)]
    update_clusters(ws)
    assert {seller_of(ws, p) for p in (a, a2, b, *ms)} == {sa}

    def manual_links():
        return ws.db.execute("select count(*) from seller_links where type = 'manual'").fetchone()[0]

    n_manual = manual_links()
    for i in range(3):  # more posts of the merged seller: its decisions' links are not written again
        add(ws, f"n{i}", "vivastreet", f"v{i}", "", "+33639980011")
        update_clusters(ws)
    assert manual_links() == n_manual
    sb = split_seller(ws, sa, [b], note="the IBAN was a stolen one")["new_seller"]
    # a post giving both numbers would bridge them, but the later split wins over the earlier merge
    bridge = add(ws, "x", "snapchat", "bridge", "", "+33639980022")
    ws.db.execute("insert into entities(post_id, kind, value, raw) values (?, 'phone', '+33639980011', 'x')",
                  [bridge])
    update_clusters(ws)
    assert seller_of(ws, b) == sb and seller_of(ws, a) == sa
    update_clusters(ws, full=True)
    assert seller_of(ws, b) == sb and seller_of(ws, a) == seller_of(ws, a2) == sa
    # the posts that were in the seller when it was split stay apart from b; still together among themselves
    assert seller_of(ws, ms[0]) == seller_of(ws, ms[1]) == seller_of(ws, ms[2]) != sb
    assert update_clusters(ws, full=True).merges == []


def test_emoji_handles_and_empty_posts_through_the_database(workspace, runner, cli_app):
    """Handles made only of emoji are accounts like any other (same platform + handle) but never fuzzy-match
    across platforms; posts with nothing at all are one-post sellers; `seller show` prints them."""
    ws = workspace
    a = add(ws, "1", "snapchat", "😀😀😀", "🔥🔥")
    b = add(ws, "2", "snapchat", "😀😀😀", "")
    c = add(ws, "3", "instagram", "😀😀😀", "🔥🔥")
    d = add(ws, "4", "telegram", None, "")
    update_clusters(ws)
    assert seller_of(ws, a) == seller_of(ws, b)  # the same account
    assert len({seller_of(ws, a), seller_of(ws, c), seller_of(ws, d)}) == 3
    r = runner.invoke(cli_app, ["seller", "show", str(seller_of(ws, a)), "-w", str(ws.root)])
    assert r.exit_code == 0 and "😀😀😀" in r.output, r.output
    assert "posted by the account snapchat" in r.output


def test_third_parties_are_never_clustered_into_a_seller(workspace):
    """A buyer or victim in a group (author_role third_party) quoting the seller's number is not the seller:
    left out of clustering, even when classified as an offer; a role that changes later is followed."""
    ws = workspace
    a = add(ws, "1", "telegram", "rdv_pref75", "RDV dispo +33639981234", "+33639981234")
    b = add(ws, "2", "leboncoin", "u2", "RDV dispo +33639981234", "+33639981234")
    buyer = add(ws, "3", "telegram", "user7000000003", "j'ai payé le +33639981234 pour un RDV", "+33639981234")
    ws.db.execute("update posts set author_role = 'third_party' where id = ?", [buyer])
    update_clusters(ws)
    sid = seller_of(ws, a)
    assert seller_of(ws, b) == sid and seller_of(ws, buyer) is None
    assert not any("user7000000003" in acc for acc in list_sellers(ws)[0]["accounts"])
    # the investigator names that sender a seller after all: the next run clusters the post
    ws.db.execute("update posts set author_role = 'seller' where id = ?", [buyer])
    update_clusters(ws)
    assert seller_of(ws, buyer) == sid
    # and back to third party: it leaves the seller at the next run (and in full runs)
    ws.db.execute("update posts set author_role = 'third_party' where id = ?", [buyer])
    update_clusters(ws)
    assert seller_of(ws, buyer) is None
    assert ws.db.execute("select post_count from sellers where id = ?", [sid]).fetchone()[0] == 2
    update_clusters(ws, full=True)
    assert seller_of(ws, buyer) is None and seller_of(ws, a) == seller_of(ws, b) == sid
