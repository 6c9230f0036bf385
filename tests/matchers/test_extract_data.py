"""The extractor's data files validate, and broken edits are reported, not crashed on."""

import copy
import importlib

ext = importlib.import_module("matchers.extract")


def test_shipped_data_is_sound():
    assert ext.check_data() == []


def test_broken_edits_are_reported(monkeypatch):
    broken = copy.deepcopy(ext._DATA)
    broken["phones"]["trunk_regions"].append("XX")
    broken["phones"]["bare_country_codes"].append("999")
    broken["currencies"]["EURO"] = ["eur"]
    broken["currencies"]["MAD"].append("")
    broken["domains"]["shared"].append("www.sub.example.com")
    monkeypatch.setattr(ext, "_DATA", broken)
    problems = "\n".join(ext.check_data())
    assert "unknown region 'XX'" in problems
    assert "unknown calling code '999'" in problems
    assert "'EURO' is not three capital letters" in problems
    assert "listed for EUR and EURO" in problems
    assert "empty spelling" in problems
    assert "www.sub.example.com" in problems


def test_data_version_is_exposed():
    assert ext.DATA_VERSION
