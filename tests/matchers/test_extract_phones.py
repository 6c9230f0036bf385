"""Phone numbers: obfuscated forms, region hints, negatives, spans (fictional numbers only).

ARCEP reserves 01 99 00 xx xx, 06 39 98 xx xx … for fiction; foreign examples
use obviously made-up subscriber numbers (…00 00 01).
"""

import pytest

from matchers.extract import extract


def ents(text, kind=None):
    out = extract(text)
    for e in out:
        assert text[e.start:e.end] == e.raw, e
    return [e for e in out if kind is None or e.kind == kind]


def phones(text):
    return [e.value for e in ents(text, "phone")]


FR = "+33639981234"


@pytest.mark.parametrize("text", [
    "06 39 98 12 34",
    "06.39.98.12.34",
    "06-39-98-12-34",
    "06/39/98/12/34",
    "0639981234",
    "06 39 98 12 34",  # no-break spaces
    "06 . 39 . 98 . 12 . 34",
    "0 6 3 9 9 8 1 2 3 4",
    "+33 6 39 98 12 34",
    "+33639981234",
    "+33 (0)6 39 98 12 34",
    "0033 6 39 98 12 34",
    "00 33 6 39 98 12 34",
    "٠٦٣٩٩٨١٢٣٤",  # Arabic-Indic digits
    "۰۶۳۹۹۸۱۲۳۴",  # Persian digits
    "٠٦ ٣٩ ٩٨ ١٢ ٣٤",
    "０６３９９８１２３４",  # full-width
    "＋３３ ６ ３９ ９８ １２ ３４",
    "𝟎𝟔𝟑𝟗𝟗𝟖𝟏𝟐𝟑𝟒",  # mathematical bold digits
    "⓪⑥③⑨⑨⑧①②③④",  # circled digits
    "0️⃣6️⃣3️⃣9️⃣9️⃣8️⃣1️⃣2️⃣3️⃣4️⃣",  # keycap emoji
    "06🔥39🔥98🔥12🔥34",
    "06 📞 39 📞 98 📞 12 📞 34",
    "06\u200b39\u200b98\u200b12\u200b34",  # zero-width spaces
    "0\u200d6\u200d3\u200d9\u200d9\u200d8\u200d1\u200d2\u200d3\u200d4",
    "06*39*98*12*34",
    "٠٦ـ٣٩ـ٩٨ـ١٢ـ٣٤",  # tatweel between groups
    "O6 39 98 12 34",  # letter O for zero
    "zéro six trente-neuf quatre-vingt-dix-huit douze trente-quatre",
    "zero six trente neuf quatre vingt dix huit douze trente quatre",
    "Zéro Six Trente-Neuf Quatre-Vingt-Dix-Huit Douze Trente-Quatre",
    "zero six three nine nine eight one two three four",
    "zéro six 39 98 douze 34",
    "zéro, six, trois, neuf, neuf, huit, un, deux, trois, quatre",
    "صفر ستة ثلاثة تسعة تسعة ثمانية واحد اثنين ثلاثة اربعة",
    "صفر، ستة، ٣٩، ٩٨، ١٢، ٣٤",
    "صفر شش سه نه نه هشت یک دو سه چهار",
])
def test_french_number_in_many_disguises(text):
    found = ents(f"Appelez le {text} merci", "phone")
    assert [e.value for e in found] == [FR]
    e = found[0]
    assert e.extra["region"] == "FR"
    assert e.extra.get("fiction") is True


def test_letter_o_inside_a_number():
    assert phones("tel O6 39 98 1O 34") == ["+33639981034"]
    assert phones("bonjour 06 39 98 12 34") == [FR]  # the "o" of a word is not a zero


def test_fiction_landline_is_valid_and_flagged():
    [e] = ents("Bureau : 01 99 00 12 34", "phone")
    assert e.value == "+33199001234"
    assert e.extra["valid"] is True and e.extra["fiction"] is True
    assert e.raw == "01 99 00 12 34"


def test_spelled_landline_with_soixante_dix_and_quatre_vingt():
    text = "zéro un quatre-vingt-dix-neuf zéro zéro soixante-dix-sept quatre-vingt-un"
    assert phones(text) == ["+33199007781"]


@pytest.mark.parametrize("text,value,region", [
    ("+212 6 00 00 00 01", "+212600000001", "MA"),
    ("00212 600-000001", "+212600000001", "MA"),
    ("+213 5 55 00 00 01", "+213555000001", "DZ"),
    ("+216 20 000 001", "+21620000001", "TN"),
    ("+221 77 000 00 01", "+221770000001", "SN"),
    ("+225 07 00 00 00 01", "+2250700000001", "CI"),
    ("+90 532 000 00 01", "+905320000001", "TR"),
    ("+98 912 000 0001", "+989120000001", "IR"),
    ("+٩٨ ٩١٢ ٠٠٠ ٠٠٠١", "+989120000001", "IR"),
    ("+۹۸ ۹۱۲ ۰۰۰ ۰۰۰۱", "+989120000001", "IR"),
    ("0532 000 00 01", "+905320000001", "TR"),  # national, invalid in FR, valid in TR
    ("۰۹۱۲ ۰۰۰ ۰۰۰۱", "+989120000001", "IR"),
    ("tel 20 000 001", "+21620000001", "TN"),  # no trunk 0: needs a context word
    ("WhatsApp 77 000 00 01", "+221770000001", "SN"),
    ("whatsapp 212600000001", "+212600000001", "MA"),  # international without "+"
])
def test_foreign_numbers_with_region(text, value, region):
    [e] = ents(text, "phone")
    assert e.value == value
    assert e.extra["region"] == region


def test_france_is_tried_first_for_national_numbers():
    # 06 39 98 … is also a valid Moroccan mobile: France wins.
    [e] = ents("0639981234", "phone")
    assert e.extra["region"] == "FR"


def test_channel_from_context_word():
    [e] = ents("WhatsApp : 06 39 98 12 34", "phone")
    assert e.extra["channel"] == "whatsapp"
    [e] = ents("واتساب ٠٦٣٩٩٨١٢٣٤", "phone")
    assert e.extra["channel"] == "whatsapp"
    [e] = ents("Tel: 06 39 98 12 34", "phone")
    assert "channel" not in e.extra


def test_several_numbers_in_one_run():
    assert phones("0639981234 / 0700001234") == ["+33639981234", "+33700001234"]
    assert phones("06 39 98 12 34 07 00 00 12 34") == ["+33639981234", "+33700001234"]
    assert phones("06 39 98 12 34, 01 99 00 12 34 ou +33 6 39 98 12 35") == [
        "+33639981234", "+33199001234", "+33639981235"]


def test_spans_index_the_original_text():
    text = "📣 RDV dispo ☎️ ٠٦ ٣٩ ٩٨ ١٢ ٣٤ ou 𝟎𝟏 𝟗𝟗 𝟎𝟎 𝟏𝟐 𝟑𝟒 !"
    found = ents(text, "phone")
    assert [e.raw for e in found] == ["٠٦ ٣٩ ٩٨ ١٢ ٣٤", "𝟎𝟏 𝟗𝟗 𝟎𝟎 𝟏𝟐 𝟑𝟒"]
    assert [e.value for e in found] == ["+33639981234", "+33199001234"]


@pytest.mark.parametrize("text", [
    "Prix : 1 500 000 DH",
    "Prix 150 000 FCFA",
    "le 22/11/2026 à 14h30",
    "rendez-vous le 06/12/2025, 10:30",
    "né le 01.02.1990",
    "commande n° 2026112212345",
    "commande n° 0639981234",
    "Réf. 06 39 98 12 34",
    "dossier ANEF 0639981234",
    "numéro étranger 0639981234",
    "Réf. 123456789",
    "SIRET 123 456 789 00012",
    "ISBN 978-2-07-036822-8",
    "tracking 1Z999AA10123456784",
    "IBAN FR76 3000 6000 0112 3456 7890 189",
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "+33 12",
    "06 39 98",
    "1234567890123456789012345",
    "page 12 34 56 78 90",  # starts with neither 0 nor a country code, no context
    "2 3 4 5 6 7 8 9 1 2 3 4 5 6",
    "https://rdv-pref.example/offre/0639981234-x",  # digits inside a URL are the URL's
])
def test_not_phones(text):
    assert phones(text) == []


def test_order_word_far_away_does_not_hide_a_phone():
    assert phones("Commande passée, appelez le 06 39 98 12 34") == [FR]
    assert phones("commande: +33 6 39 98 12 34") == [FR]  # explicit international format wins


def test_wa_me_link_gives_phone_and_whatsapp():
    found = ents("wa.me/33639981234")
    kinds = {(e.kind, e.value) for e in found}
    assert ("whatsapp", FR) in kinds and ("phone", FR) in kinds


def test_invalid_looking_digits_are_not_forced():
    # 11 digits starting with 0 that no hinted country accepts
    assert phones("08 99 99 99 99 9") == [] or all(p.startswith("+") for p in phones("08 99 99 99 99 9"))


@pytest.mark.parametrize("text,value", [
    ("appelez le six trente-neuf quatre-vingt-dix-huit douze trente-quatre", "+34639981234"),  # as "6 39 98 12 34"
    ("whatsapp plus trente-trois six trente-neuf quatre-vingt-dix-huit douze trente-quatre", "+33639981234"),
    ("tel: trente-trois six trente-neuf quatre-vingt-dix-huit douze trente-quatre", "+33639981234"),
])
def test_spelled_numbers_that_do_not_start_with_zero(text, value):
    phones = [e for e in extract(text) if e.kind == "phone"]
    assert [p.value for p in phones] == [value]
    assert phones[0].extra.get("spelled") is True


def test_number_words_in_prose_are_not_phones():
    # no phone word and no "plus": counting is not a phone number
    assert not extract("j'ai vu six sept huit neuf dix onze douze personnes au guichet")
    assert not extract("trente-trois six trente-neuf quatre-vingt-dix-huit douze trente-quatre ans")
