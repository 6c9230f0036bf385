"""The verdict's records as stored (``to_dict``)."""

from dataclasses import asdict

from matchers import classify
from matchers.types import Reason


def test_reason_to_dict_is_every_field_in_order():
    v = classify("Vends RDV préfecture titre de séjour 60€, WhatsApp 06 39 98 12 34")
    assert v.reasons
    for r in [*v.reasons, Reason("rule", "term", 0, 4)]:
        assert r.to_dict() == asdict(r)
        assert list(r.to_dict()) == list(asdict(r))
