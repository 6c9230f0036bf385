"""Places from the gazetteer: prefectures, sub-prefectures, visa centres, consulates."""

import re
import tomllib

import pytest

from matchers.extract import extract
from matchers.places import GAZETTEER_PATH, gazetteer


def places(text):
    out = [e for e in extract(text) if e.kind == "place"]
    for e in out:
        assert text[e.start:e.end] == e.raw
    return out


def values(text):
    return [e.value for e in places(text)]


@pytest.mark.parametrize("text,value", [
    ("RDV préfecture de Bobigny dispo", "prefecture:FR-93:Bobigny"),
    ("rdv prefecture bobigny", "prefecture:FR-93:Bobigny"),
    ("PRÉFECTURE DE BOBIGNY", "prefecture:FR-93:Bobigny"),
    ("préf. de Bobigny", "prefecture:FR-93:Bobigny"),
    ("pref 93", "prefecture:FR-93:Bobigny"),
    ("préfecture du 94", "prefecture:FR-94:Créteil"),
    ("préfecture de la Seine-Saint-Denis", "prefecture:FR-93:Bobigny"),
    ("préfecture du Val-de-Marne", "prefecture:FR-94:Créteil"),
    ("préfecture du Val d'Oise", "prefecture:FR-95:Cergy"),
    ("préfecture de Cergy-Pontoise", "prefecture:FR-95:Cergy"),
    ("préfecture d'Évry", "prefecture:FR-91:Évry-Courcouronnes"),
    ("prefecture d evry", "prefecture:FR-91:Évry-Courcouronnes"),
    ("préfecture de Nanterre", "prefecture:FR-92:Nanterre"),
    ("préfecture de St-Étienne", "prefecture:FR-42:Saint-Étienne"),
    ("préfecture de Saint Etienne", "prefecture:FR-42:Saint-Étienne"),
    ("préfecture de La Roche-sur-Yon", "prefecture:FR-85:La Roche-sur-Yon"),
    ("préfecture 2A", "prefecture:FR-2A:Ajaccio"),
    ("préfecture de Lyon", "prefecture:FR-69:Lyon"),
    ("préfecture de police", "prefecture:FR-75:Paris (Préfecture de police)"),
    ("Préfecture de Police de Paris", "prefecture:FR-75:Paris (Préfecture de police)"),
    ("sous-préfecture de Saint-Denis", "sub_prefecture:FR-93:Saint-Denis"),
    ("sous préfecture du Raincy", "sub_prefecture:FR-93:Le Raincy"),
    ("sous-pref d'Argenteuil", "sub_prefecture:FR-95:Argenteuil"),
    ("s/préf. de Palaiseau", "sub_prefecture:FR-91:Palaiseau"),
    ("sous-préfecture de L'Haÿ-les-Roses", "sub_prefecture:FR-94:L'Haÿ-les-Roses"),
    ("sous prefecture de lhay les roses", "sub_prefecture:FR-94:L'Haÿ-les-Roses"),
    ("préfecture de Boulogne-Billancourt", "sub_prefecture:FR-92:Boulogne-Billancourt"),
    ("البريفكتور ديال بوبيني", None),  # "ديال" is not a connector: no guess
    ("لابريفكتور بوبيني", "prefecture:FR-93:Bobigny"),
    ("префектура Бобиньи", None),
    ("pr3fecture de Bobigny", "prefecture:FR-93:Bobigny"),
    ("prеfecture de Bobigny", "prefecture:FR-93:Bobigny"),  # Cyrillic е
    ("PR3FECTURE DE CRETEIL", "prefecture:FR-94:Créteil"),
    ("sous-pr3f de Palaiseau", "sub_prefecture:FR-91:Palaiseau"),
    ("préfecture de Bo\u200bbi\u200bgny", "prefecture:FR-93:Bobigny"),  # zero-width inside the name
])
def test_prefectures(text, value):
    got = values(text)
    assert got == ([value] if value else [])


def test_saint_denis_ambiguity_is_recorded():
    [p] = places("préfecture de Saint-Denis")
    assert p.value == "prefecture:FR-974:Saint-Denis"
    assert "sub_prefecture:FR-93:Saint-Denis" in p.extra["also"]


def test_country_level_mention_is_flagged():
    [p] = places("ambassade de France en Algérie")
    assert p.extra["via"] == "country"
    [p] = places("ambassade de France à Alger")
    assert "via" not in p.extra


def test_place_extra_fields():
    [p] = places("rdv préfecture de Créteil")
    assert p.raw == "préfecture de Créteil"
    assert p.extra == {"type": "prefecture", "country": "FR", "name": "Créteil", "department": "94",
                       "department_name": "Val-de-Marne"}


@pytest.mark.parametrize("text,value", [
    ("TLScontact Casablanca", "visa_center:MA:TLScontact:Casablanca"),
    ("rdv tls casa", "visa_center:MA:TLScontact:Casablanca"),
    ("TLS contact Rabat", "visa_center:MA:TLScontact:Rabat"),
    ("tls-contact Fès", "visa_center:MA:TLScontact:Fès"),
    ("TLS Fes", "visa_center:MA:TLScontact:Fès"),
    ("VFS Global Alger", "visa_center:DZ:VFS Global:Alger"),
    ("vfs à Oran", "visa_center:DZ:VFS Global:Oran"),
    ("BLS International Tanger", "visa_center:MA:BLS International:Tanger"),
    ("Oran BLS", "visa_center:DZ:BLS International:Oran"),
    ("Casa TLS", "visa_center:MA:TLScontact:Casablanca"),
    ("TLS الدار البيضاء", "visa_center:MA:TLScontact:Casablanca"),
    ("VFS Istanbul", "visa_center:TR:VFS Global:Istanbul"),
    ("VFS İstanbul", "visa_center:TR:VFS Global:Istanbul"),
    ("VFS تهران", "visa_center:IR:VFS Global:Téhéran"),
    ("TLS Tunis", "visa_center:TN:TLScontact:Tunis"),
    ("Capago Dakar", "visa_center:SN:Capago:Dakar"),
    ("VFS Abidjan", "visa_center:CI:VFS Global:Abidjan"),
    ("TLS اـلـدـاـر البيضاء", "visa_center:MA:TLScontact:Casablanca"),  # tatweel inside the name
])
def test_visa_centres(text, value):
    assert values(f"rdv dispo {text} !") == [value]


@pytest.mark.parametrize("text,value", [
    ("consulat de France à Fès", "consulate:MA:Fès"),
    ("consulat général de France à Casablanca", "consulate:MA:Casablanca"),
    ("Consulat Général Casablanca", "consulate:MA:Casablanca"),
    ("ambassade de France à Dakar", "consulate:SN:Dakar"),
    ("ambassade de france a tunis", "consulate:TN:Tunis"),
    ("French embassy in Tehran", "consulate:IR:Téhéran"),
    ("consulate general of France in Istanbul", "consulate:TR:Istanbul"),
    ("القنصلية الفرنسية في الدار البيضاء", "consulate:MA:Casablanca"),
    ("قنصلية فرنسا بوهران", "consulate:DZ:Oran"),  # proclitic "بـ" glued to the name
    ("قنصلية فرنسا في وهران", "consulate:DZ:Oran"),
    ("consulat d'Oran", "consulate:DZ:Oran"),
    ("ambassade de France en Algérie", "consulate:DZ:Alger"),
    ("embassy of France in Turkey", "consulate:TR:Ankara"),
    ("السفارة الفرنسية في المغرب", "consulate:MA:Rabat"),
    ("consulats espagnols du Maroc", None),
])
def test_consulates(text, value):
    got = values(text)
    assert got == ([value] if value else [])


@pytest.mark.parametrize("text", [
    "Je vais à Nice ce week-end",
    "Paris est magique",
    "Sens unique, Die Hard",
    "la préfecture m'a répondu",
    "préfecture en ligne : prise de rendez-vous",
    "VFS est un prestataire",
    "TLS Paris",  # no visa centre in Paris in the gazetteer
    "TLS 1.3 handshake",
    "consulat",
    "prefectures",
    "préférence pour Bobigny",  # "préf" inside a word
])
def test_not_places(text):
    assert values(text) == []


# --- the data file itself --------------------------------------------------------

def test_gazetteer_file_is_dated_and_sound():
    data = tomllib.loads(GAZETTEER_PATH.read_text(encoding="utf-8"))
    assert data["meta"]["date"] and data["meta"]["basis"]
    deps = data["departement"]
    codes = [d["code"] for d in deps]
    assert len(codes) == len(set(codes))
    metro = {f"{i:02d}" for i in range(1, 96) if i != 20} | {"2A", "2B"}
    assert metro <= set(codes)
    assert {"971", "972", "973", "974", "976"} <= set(codes)
    for d in deps:
        assert d["name"] and d["prefecture"]
        assert d["prefecture"] not in d.get("sub_prefectures", [])
    n_sp = sum(len(d.get("sub_prefectures", [])) for d in deps)
    assert n_sp > 200
    providers = set(data["providers"])
    for v in data["visa_center"]:
        assert v["provider"] in providers
        assert re.fullmatch(r"[A-Z]{2}", v["country"])
    for c in data["consulate"]:
        assert re.fullmatch(r"[A-Z]{2}", c["country"])
    for pats in data["triggers"].values():
        for pat in pats:
            re.compile(pat)


def test_every_prefecture_is_found_by_name():
    g = gazetteer()
    data = tomllib.loads(GAZETTEER_PATH.read_text(encoding="utf-8"))
    for d in data["departement"]:
        got = values(f"rdv préfecture de {d['prefecture']} svp")
        assert got and got[0].startswith("prefecture:FR-"), d
        assert any(f"FR-{d['code']}:" in v for v in got) or any(
            f"FR-{d['code']}:" in x for p in places(f"préfecture de {d['prefecture']}") for x in p.extra.get("also", [])), d
        for sp in d.get("sub_prefectures", []):
            got = [p for p in places(f"sous-préfecture de {sp}")]
            assert got and got[0].extra["type"] == "sub_prefecture", (d["code"], sp)
    assert g.max_tokens >= 3


def test_trigger_patterns_are_linear_on_adversarial_input():
    import time

    g = gazetteer()
    for bad in ["préf" * 25000, "pr" * 50000, "sous-" * 20000, "consul" * 15000, "tls " * 25000, "s/" * 50000]:
        t = time.process_time()
        list(g.trigger_re.finditer(bad))
        extract(bad)
        assert time.process_time() - t < 2.0, bad[:10]
