"""Cases, notice lifecycle, outcome report figures."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drafting_seed import seed  # noqa: E402

from storage import cases, custody  # noqa: E402
from storage.errors import InputError, NotFoundError  # noqa: E402

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def ws(workspace):
    seed(workspace)
    return workspace


def test_case_create_add_show(ws):
    cases.create_case(ws, "rdv-bobigny", "Revente de RDV")
    with pytest.raises(InputError, match="already exists"):
        cases.create_case(ws, "rdv-bobigny")
    with pytest.raises(InputError, match="bad case name"):
        cases.create_case(ws, "../etc")
    with pytest.raises(NotFoundError, match="no case named 'nope'"):
        cases.get_case(ws, "nope")
    added = cases.add_to_case(ws, "rdv-bobigny", seller_ids=[1], post_ids=[5])
    assert added == {"sellers": [1], "posts": [5]}
    assert cases.add_to_case(ws, "rdv-bobigny", seller_ids=[1], post_ids=[5]) == {"sellers": [], "posts": []}
    with pytest.raises(NotFoundError, match="no seller with id 7"):
        cases.add_to_case(ws, "rdv-bobigny", seller_ids=[7])
    with pytest.raises(NotFoundError, match="no post with id 70"):
        cases.add_to_case(ws, "rdv-bobigny", post_ids=[70])
    with pytest.raises(InputError, match="at least one"):
        cases.add_to_case(ws, "rdv-bobigny")
    c = cases.get_case(ws, "rdv-bobigny")
    assert cases.case_post_ids(ws, c["id"]) == [1, 2, 3, 4, 5]
    shown = cases.show_case(ws, "rdv-bobigny")
    assert [s["id"] for s in shown["sellers"]] == [1]
    assert [p["id"] for p in shown["posts"]] == [1, 2, 3, 4, 5]
    assert cases.list_cases(ws)[0]["items"] == 2
    events = [e["details"]["event"] for e in custody.iter_entries(ws.db, "where action = 'case'")]
    assert events == ["case created", "items added"]


def _notice(ws, platform, post_ids, at=T0, kind="notice"):
    ref = cases.next_ref(ws, at)
    return cases.record_notice(ws, ref=ref, kind=kind, platform=platform, lang="fr", fmt="md", path=None,
                               sha256=None, post_ids=post_ids, at=at)


def test_notice_lifecycle(ws):
    n = _notice(ws, "telegram", [1, 2])
    assert n["ref"] == "VEILLE-20261102-0001" and n["status"] == "drafted"
    assert cases.next_ref(ws, T0) == "VEILLE-20261102-0002"
    ref = n["ref"]
    with pytest.raises(InputError, match="mark it sent first"):
        cases.mark_notice(ws, ref, "removed")
    with pytest.raises(InputError, match="unknown status"):
        cases.mark_notice(ws, ref, "deleted")
    cases.mark_notice(ws, ref, "sent", "2026-11-03")
    with pytest.raises(InputError, match="already sent"):
        cases.mark_notice(ws, ref, "sent")
    with pytest.raises(InputError, match="before the notice's last change"):
        cases.mark_notice(ws, ref, "acknowledged", "2026-11-01")
    with pytest.raises(InputError, match="not an ISO 8601"):
        cases.mark_notice(ws, ref, "acknowledged", "yesterday")
    with pytest.raises(InputError, match="is in the future"):  # the custody log records facts, not plans
        cases.mark_notice(ws, ref, "acknowledged", "2999-01-01")
    cases.mark_notice(ws, ref, "acknowledged", "2026-11-03T15:00:00Z", note="ticket 123")
    cases.mark_notice(ws, ref, "no_answer", "2026-11-20")
    with pytest.raises(InputError, match="cannot go back"):
        cases.mark_notice(ws, ref, "sent", "2026-11-21")
    n = cases.mark_notice(ws, ref, "removed", "2026-11-22", note="SoR 8841")  # outcome corrected later
    assert n["status"] == "removed"
    assert [(e["status"], e["at"][:10]) for e in n["events"]] == [
        ("drafted", "2026-11-02"), ("sent", "2026-11-03"), ("acknowledged", "2026-11-03"),
        ("no_answer", "2026-11-20"), ("removed", "2026-11-22")]
    assert n["events"][-1]["note"] == "SoR 8841"
    log = [e["details"] for e in custody.iter_entries(ws.db, "where action = 'notice'")]
    assert [d.get("to") for d in log] == [None, "sent", "acknowledged", "no_answer", "removed"]
    assert log[-1]["at"] == "2026-11-22T00:00:00Z"
    assert custody.verify_chain(ws.db)[1] == []
    with pytest.raises(NotFoundError):
        cases.mark_notice(ws, "VEILLE-20990101-0001", "sent")


def test_case_report_figures(ws):
    cases.create_case(ws, "c1")
    cases.add_to_case(ws, "c1", seller_ids=[1, 2])

    def life(platform, posts, *steps):
        n = _notice(ws, platform, posts)
        for status, hours in steps:
            cases.mark_notice(ws, n["ref"], status, T0 + timedelta(hours=hours))
        return n

    life("telegram", [1], ("sent", 1), ("acknowledged", 5), ("removed", 49))        # 48 h
    life("telegram", [2], ("sent", 1), ("no_answer", 24 * 30))
    life("leboncoin", [3], ("sent", 2), ("removed", 26))                            # 24 h
    life("leboncoin", [5], ("sent", 2), ("refused", 10))
    life("leboncoin", [5])                                                           # drafted only
    life("telegram", [1], ("sent", 3))                                               # pending
    _notice(ws, None, [1, 2, 3], kind="complaint")
    rep = cases.case_report(ws, "c1")
    tg, lbc, allp = rep["per_platform"]["telegram"], rep["per_platform"]["leboncoin"], rep["overall"]
    assert (tg["notices"], tg["sent"], tg["acted_on"], tg["pending"]) == (3, 3, 1, 1)
    assert tg["share_acted_on"] == pytest.approx(1 / 3, abs=1e-4)
    assert tg["hours_to_removal"]["median"] == 48.0
    assert (lbc["notices"], lbc["sent"], lbc["acted_on"]) == (3, 2, 1)
    assert lbc["share_acted_on"] == 0.5 and lbc["share_answered"] == 1.0
    assert lbc["by_status"] == {"drafted": 1, "sent": 0, "acknowledged": 0, "removed": 1, "refused": 1,
                                "no_answer": 0}
    assert lbc["hours_to_removal"] == {"n": 1, "median": 24.0, "mean": 24.0, "min": 24.0, "max": 24.0}
    assert allp["sent"] == 5 and allp["acted_on"] == 2 and allp["share_acted_on"] == 0.4
    assert allp["hours_to_removal"]["median"] == 36.0
    assert rep["complaints"]["n"] == 1
    assert rep["posts"]["n"] == 5


def test_report_of_empty_case(ws):
    cases.create_case(ws, "empty")
    rep = cases.case_report(ws, "empty")
    assert rep["overall"]["notices"] == 0 and rep["overall"]["share_acted_on"] is None


def test_reported_post_ids(ws):
    assert cases.reported_post_ids(ws) == []
    _notice(ws, "telegram", [1])
    cases.create_case(ws, "c")
    cases.add_to_case(ws, "c", post_ids=[5])
    assert cases.reported_post_ids(ws) == [1, 5]
    assert cases.reported_post_ids(ws, "c") == [5]


def test_platform_answer_is_filed_against_the_notice(ws, tmp_path):
    n = _notice(ws, "telegram", [1])
    cases.mark_notice(ws, n["ref"], "sent", "2026-11-03")
    ans = tmp_path / "sor.eml"
    ans.write_bytes(b"Subject: Statement of reasons 8841\r\n\r\nThe content was removed.\r\n")
    with pytest.raises(InputError, match="does not exist"):
        cases.mark_notice(ws, n["ref"], "removed", "2026-11-05", answer=tmp_path / "nope.eml")
    got = cases.mark_notice(ws, n["ref"].lower(), "removed", "2026-11-05", note="SoR 8841", answer=ans)
    import hashlib

    sha = hashlib.sha256(ans.read_bytes()).hexdigest()
    assert got["answers"] == [{"at": "2026-11-05T00:00:00Z", "status": "removed", "sha256": sha,
                               "role": "platform_answer", "name": "sor.eml"}]
    assert ws.store.read(sha) == ans.read_bytes()
    assert got["events"][-1]["note"] == f"SoR 8841 | answer filed: sor.eml sha256 {sha}"
    last = list(custody.iter_entries(ws.db, "where action = 'notice'"))[-1]["details"]
    assert last["answer"]["sha256"] == sha


def test_merged_seller_is_followed(ws):
    cols = {c[1] for c in ws.db.execute("pragma table_info(sellers)").fetchall()}
    if "merged_into" not in cols:
        ws.db.execute("alter table sellers add column merged_into integer")
    ws.db.execute("insert into sellers(id, label, created_at, updated_at, status, merged_into) "
                  "values (9, 'old', '2026', '2026', 'merged', 1)")
    cases.create_case(ws, "m")
    cases.add_to_case(ws, "m", seller_ids=[9])
    assert cases.resolve_seller_id(ws, 9) == 1
    assert cases.case_post_ids(ws, cases.get_case(ws, "m")["id"]) == [1, 2, 3, 4]
    assert cases.reported_post_ids(ws) == [1, 2, 3, 4]
