"""matchers.cluster: links, corroboration, common identifiers, constraints, stable ids, bad input."""

from __future__ import annotations

import random
import time

import pytest

from matchers import minhash
from matchers.cluster import (
    ClusterPost,
    ClusterSettings,
    Decision,
    assign_ids,
    cluster,
    handle_keys,
    identifier_weight,
    load_common,
)

TEXT_A = ("Vends RDV préfecture de Bobigny pour titre de séjour et naturalisation, 60€ le créneau, "
          "paiement après confirmation, sérieux uniquement")
TEXT_A2 = ("Vends RDV préfecture de Bobigny pour titre de séjour et naturalisation, 70€ le créneau, "
           "paiement après confirmation, sérieux uniquement !!")
TEXT_B = ("Passeport et carte d'identité disponibles, livraison rapide partout en Europe, "
          "qualité garantie, écrivez-moi en privé pour les tarifs")
TEXT_AR = "نبيع مواعيد القنصلية الفرنسية فيزا شنغن مركز الرباط السعر 500 درهم الدفع بعد التأكيد للجادين فقط"
TEXT_AR2 = "نبيع مواعيد القنصلية الفرنسية فيزا شنغن مركز الرباط السعر 600 درهم الدفع بعد التأكيد للجادين فقط"
TEXT_AR3 = "مطلوب شقة للكراء في حي السلام قرب المدرسة والسوق الأسبوعي بثمن مناسب للعائلة الصغيرة"


def P(pid, platform="telegram", author=None, text="", ids=(), phashes=(), prices=(), handles=()):
    return ClusterPost(pid, platform, author, text, list(ids), list(phashes), list(prices), list(handles))


def together(res, a, b) -> bool:
    m = res.assignment()
    return m[a] == m[b]


def test_shared_phone_links_accounts_across_platforms_with_evidence():
    posts = [
        P(1, "telegram", "rdv_pref75", TEXT_A, [("phone", "+33639981234")]),
        P(2, "leboncoin", "u123", TEXT_B, [("whatsapp", "+33639981234")]),
        P(3, "vivastreet", "u999", TEXT_B, [("phone", "+33199001111")]),
    ]
    res = cluster(posts)
    assert together(res, 1, 2)
    assert not together(res, 1, 3)
    link = next(lk for lk in res.links if {lk.post_a, lk.post_b} == {1, 2})
    assert link.type == "identifier"
    assert link.evidence["kind"] == "phone" and link.evidence["value"] == "+33639981234"
    assert link.weight >= 1.0


def test_author_account_matches_handle_given_in_another_post():
    posts = [P(1, "telegram", "@RDV_Pref75", TEXT_A), P(2, "avito_ma", "u1", TEXT_B, [("telegram", "rdv_pref75")])]
    res = cluster(posts)
    assert together(res, 1, 2)
    assert any(lk.evidence.get("value") == "rdv_pref75" for lk in res.links)


def test_same_account_links_and_missing_author_does_not():
    posts = [P(1, "snapchat", "karim.visa", ""), P(2, "snapchat", "karim.visa", ""),
             P(3, "leboncoin", None, ""), P(4, "leboncoin", None, "")]
    res = cluster(posts)
    assert together(res, 1, 2)
    assert not together(res, 3, 4)
    assert res.links[0].type == "same_account" and res.links[0].evidence["account"] == "snapchat:karim.visa"


def test_similar_text_alone_does_not_merge_but_text_plus_handle_does():
    alone = cluster([P(1, "telegram", "alpha_one", TEXT_A), P(2, "instagram", "zeta_two", TEXT_A2)])
    assert not together(alone, 1, 2)
    both = cluster([P(1, "telegram", "rdv_prefecture_75", TEXT_A), P(2, "instagram", "rdv.prefecture75", TEXT_A2)])
    assert together(both, 1, 2)
    types = {lk.type for lk in both.links}
    assert types == {"text", "handle"}
    text_link = next(lk for lk in both.links if lk.type == "text")
    assert text_link.evidence["similarity"] >= 0.6
    span = text_link.evidence["spans"][0]
    assert TEXT_A[span["a_start"]:span["a_end"]] == TEXT_A2[span["b_start"]:span["b_end"]]
    assert span["a_end"] - span["a_start"] >= 20


def test_similar_handle_alone_does_not_merge():
    res = cluster([P(1, "telegram", "rdv_prefecture_75", TEXT_A), P(2, "instagram", "rdv.prefecture75", TEXT_B)])
    assert not together(res, 1, 2)


def test_copied_template_with_different_numbers_stays_apart():
    posts = [P(i, "leboncoin", f"u{i}", TEXT_A, [("phone", f"+3363998{i:04d}")], prices=[60, 120]) for i in range(6)]
    res = cluster(posts)
    assert len(res.clusters) == 6


def test_agency_number_shared_by_many_authors_never_links():
    s = ClusterSettings()
    agency = "+33199000000"
    posts = [P(i, "leboncoin", f"u{i}", f"annonce numero {i} " * 5, [("phone", agency)])
             for i in range(s.max_authors_per_identifier + 5)]
    res = cluster(posts, s)
    assert len(res.clusters) == len(posts)
    assert res.stats["identifiers_too_common"] == 1


def test_idf_weight_falls_with_authors():
    s = ClusterSettings()
    assert identifier_weight(2, s) == s.merge_threshold
    mid = identifier_weight(12, s)
    assert 0 < mid < s.merge_threshold
    assert identifier_weight(s.max_authors_per_identifier + 1, s) == 0.0


def test_mid_common_identifier_needs_corroboration():
    s = ClusterSettings()
    n = 12  # between identifier_full_weight_authors and max_authors_per_identifier
    posts = [P(i, "leboncoin", f"u{i}", f"texte sans rapport {i * 7919} " * 4, [("phone", "+33199000001")])
             for i in range(n)]
    res = cluster(posts, s)
    assert len(res.clusters) == n
    # the same number plus a near-identical text and a similar handle: merged
    posts[0] = P(0, "telegram", "rdv_prefecture_75", TEXT_A, [("phone", "+33199000001")])
    posts[1] = P(1, "instagram", "rdv.prefecture75", TEXT_A2, [("phone", "+33199000001")])
    res = cluster(posts, s)
    assert together(res, 0, 1)
    assert len(res.clusters) == n - 1


def test_official_identifiers_never_link():
    common = load_common()
    assert common.is_common("domain", "www.ants.gouv.fr")
    assert common.is_common("domain", "vfsglobal.com")
    assert common.is_common("email", "contact@interieur.gouv.fr")
    assert common.is_common("phone", "3939")
    posts = [P(1, "leboncoin", "u1", TEXT_A, [("domain", "ants.gouv.fr"), ("email", "x@interieur.gouv.fr")]),
             P(2, "vivastreet", "u2", TEXT_B, [("domain", "ants.gouv.fr"), ("email", "x@interieur.gouv.fr")])]
    assert not together(cluster(posts), 1, 2)


def test_one_identifier_in_100k_posts_is_fast_and_makes_no_giant_cluster():
    posts = [P(i, "leboncoin", f"u{i}", "", [("phone", "+33639980000")]) for i in range(100_000)]
    t0 = time.time()
    res = cluster(posts)
    elapsed = time.time() - t0
    assert max(len(c) for c in res.clusters) == 1
    assert elapsed < 20, elapsed


def test_posts_without_identifiers_or_text_and_emoji_handles():
    posts = [P(1, "telegram", None, ""), P(2, "telegram", "", "   "), P(3, "snapchat", "😀😀😀", "🔥🔥"),
             P(4, "instagram", "😀😀😀", "🔥🔥"), P(5, "telegram", "@", "", [("phone", "")])]
    res = cluster(posts)
    assert len(res.clusters) == 5
    assert handle_keys(posts[2]) == []
    assert cluster([]).clusters == []


def test_arabic_and_digits_are_kept_in_shingles():
    sigs = minhash.signatures([minhash.normalise_text(t) for t in (TEXT_AR, TEXT_AR2, TEXT_AR3)])
    assert minhash.similarity(sigs[0], sigs[1]) >= 0.7
    assert minhash.similarity(sigs[0], sigs[2]) <= 0.2
    # digits are signal: the same words with other numbers differ
    a, b = minhash.signatures([minhash.normalise_text("appelez 0639981234 ou 0639981299 prix 60 80 120 " * 2),
                               minhash.normalise_text("appelez 0199004455 ou 0199007788 prix 45 95 300 " * 2)])
    assert minhash.similarity(a, b) < 0.7
    # stable across processes: fixed constants, not Python's salted hash()
    again = minhash.signatures([minhash.normalise_text(TEXT_AR)])
    assert (again[0] == sigs[0]).all()


def test_same_photo_plus_similar_text_merges_stock_photo_does_not():
    ph = "c3d1a5b7e9f00112"
    near = f"{int(ph, 16) ^ 0b101:016x}"  # 2 bits apart
    res = cluster([P(1, "telegram", "aa_one", TEXT_A, phashes=[ph]), P(2, "instagram", "zz_two", TEXT_A2,
                                                                        phashes=[near])])
    assert together(res, 1, 2)
    assert any(lk.type == "image" and lk.evidence["distance"] == 2 for lk in res.links)
    stock = "ffee00112233aabb"
    posts = [P(i, "leboncoin", f"u{i}", TEXT_A if i < 2 else f"autre texte {i} " * 5, phashes=[stock])
             for i in range(40)]
    res = cluster(posts)
    assert not together(res, 0, 1)


def test_split_decision_is_a_hard_cannot_link_and_a_later_merge_lifts_it():
    posts = [P(1, "telegram", "a1", "", [("phone", "+33639981111")]),
             P(2, "leboncoin", "u2", "", [("phone", "+33639981111")]),
             P(3, "vivastreet", "u3", "", [("phone", "+33639981111")])]
    assert len(cluster(posts).clusters) == 1
    split = Decision(5, "split", [3], [1, 2])
    res = cluster(posts, decisions=[split])
    assert not together(res, 3, 1) and together(res, 1, 2)
    # a new post sharing the number cannot bridge the two sides either
    res = cluster(posts + [P(4, "snapchat", "s4", "", [("phone", "+33639981111")])], decisions=[split])
    assert not together(res, 3, 1)
    merge = Decision(6, "merge", [3], [1, 2])
    res = cluster(posts, decisions=[split, merge])
    assert together(res, 3, 1)
    assert any(lk.type == "manual" for lk in res.links)


def test_merge_decision_joins_unrelated_posts():
    res = cluster([P(1, "telegram", "a", TEXT_A), P(2, "leboncoin", "b", TEXT_B)],
                  decisions=[Decision(1, "merge", [1], [2])])
    assert together(res, 1, 2)


def test_order_of_input_does_not_change_clusters():
    rng = random.Random(3)
    posts = []
    for i in range(300):
        s = i % 40
        posts.append(P(i, rng.choice(["telegram", "leboncoin", "snapchat"]), f"acct{s}_{i % 3}",
                       TEXT_A if s % 2 else TEXT_B, [("phone", f"+3363998{s:04d}")] if i % 4 else []))
    a = cluster(posts).clusters
    rng.shuffle(posts)
    b = cluster(posts).clusters
    assert a == b


def test_assign_ids_keeps_ids_and_reports_merges():
    previous = {1: 10, 2: 10, 3: 11, 4: 12}
    a = assign_ids([[1, 2, 3], [4], [5, 6]], previous, next_id=20)
    assert a.seller_of[1] == 10 and a.seller_of[3] == 10
    assert a.seller_of[4] == 12
    assert a.seller_of[5] == 20 and a.new_sellers == [20]
    assert a.merged == {11: 10}
    b = assign_ids([[1], [2]], {1: 10, 2: 10}, next_id=30)
    assert b.seller_of[1] == 10 and b.seller_of[2] == 30 and b.split == {10: [10, 30]}


def test_settings_from_config_and_checks():
    s = ClusterSettings.from_config({"merge_threshold": 2, "text_similarity_cutoff": "0.7", "unknown": 1})
    assert s.merge_threshold == 2.0 and s.text_similarity_cutoff == 0.7
    assert ClusterSettings(lsh_bands=7).check()
    with pytest.raises(ValueError):
        cluster([P(1), P(1)])
