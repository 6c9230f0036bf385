"""matchers.cluster_eval: pairwise and B-cubed figures on hand-computed cases."""

from matchers.cluster_eval import score


def test_perfect_and_all_in_one():
    truth = {"a": 1, "b": 1, "c": 2}
    assert score({"a": "x", "b": "x", "c": "y"}, truth)["bcubed"]["f1"] == 1.0
    one = score({"a": 0, "b": 0, "c": 0}, truth)
    assert one["pairwise"]["precision"] == round(1 / 3, 4)
    assert one["pairwise"]["recall"] == 1.0
    # B-cubed precision: a,b see 2/3 correct, c sees 1/3 -> (2/3+2/3+1/3)/3
    assert one["bcubed"]["precision"] == round(5 / 9, 4)
    assert one["bcubed"]["recall"] == 1.0


def test_all_singletons_and_unknown_items():
    truth = {"a": 1, "b": 1, "c": 1, "d": 2}
    r = score({"a": 1, "b": 2, "c": 3, "d": 4, "zz": 9}, truth)
    assert r["items"] == 4
    assert r["pairwise"]["recall"] == 0.0
    assert r["bcubed"]["precision"] == 1.0
    assert r["bcubed"]["recall"] == round((1 / 3 * 3 + 1) / 4, 4)
    assert score({}, truth)["items"] == 0
