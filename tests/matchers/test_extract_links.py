"""Messaging and social handles, emails, URLs and registered domains (fictional data)."""

import pytest

from matchers.extract import extract


def ents(text, kind=None):
    out = extract(text)
    for e in out:
        assert text[e.start:e.end] == e.raw, e
    return [e for e in out if kind is None or e.kind == kind]


def vals(text, kind):
    return [e.value for e in ents(text, kind)]


# --- WhatsApp ---------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "wa.me/33639981234",
    "https://wa.me/33639981234",
    "http://wa.me/+33639981234?text=bonjour",
    "https://api.whatsapp.com/send?phone=33639981234&text=rdv",
    "https://api.whatsapp.com/send/?phone=%2B33639981234&type=phone_number",
    "WWW.WA.ME/33639981234",
])
def test_whatsapp_number_links(text):
    [w] = ents(f"Contact {text} .", "whatsapp")
    assert w.value == "+33639981234"
    assert "+33639981234" in vals(text, "phone")


def test_whatsapp_group_invite():
    [w] = ents("groupe: https://chat.whatsapp.com/AbCdEfGhIjK1234567890", "whatsapp")
    assert w.value == "AbCdEfGhIjK1234567890"  # invite codes are case-sensitive
    assert w.extra["invite"] is True
    assert w.raw == "https://chat.whatsapp.com/AbCdEfGhIjK1234567890"


def test_whatsapp_link_without_number_is_only_a_url():
    assert vals("https://wa.me/", "whatsapp") == []
    assert vals("https://api.whatsapp.com/send?text=hello", "whatsapp") == []


# --- Telegram -----------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("écrivez @RDV_Pref75", "rdv_pref75"),
    ("Telegram: @rdv_pref75", "rdv_pref75"),
    ("telegram : rdv_pref75", "rdv_pref75"),
    ("TG: rdv_pref75", "rdv_pref75"),
    ("t.me/rdv_pref75", "rdv_pref75"),
    ("https://t.me/Rdv_Pref75", "rdv_pref75"),
    ("https://t.me/s/rdv_pref75", "rdv_pref75"),
    ("telegram.me/rdv_pref75", "rdv_pref75"),
    ("تلغرام: rdv_pref75", "rdv_pref75"),
    ("Телеграм: @rdv_pref75", "rdv_pref75"),
])
def test_telegram_handles(text, value):
    assert vals(text, "telegram") == [value]


def test_telegram_invites_keep_case_and_are_flagged():
    [a] = ents("t.me/+AbCdEf123_xy", "telegram")
    assert a.value == "AbCdEf123_xy" and a.extra["invite"] is True
    [b] = ents("https://t.me/joinchat/XyZ12345abc", "telegram")
    assert b.value == "XyZ12345abc" and b.extra["invite"] is True


@pytest.mark.parametrize("text,kind,value", [
    ("t . me/rdv_pref75", "telegram", "rdv_pref75"),
    ("t[.]me/rdv_pref75", "telegram", "rdv_pref75"),
    ("T. Me / Rdv_Pref75", "telegram", "rdv_pref75"),
    ("t. me/+AbCdEf123", "telegram", "AbCdEf123"),
    ("wa(.)me/33639981234", "whatsapp", "+33639981234"),
    ("WA . ME / 33639981234", "whatsapp", "+33639981234"),
])
def test_broken_messaging_links(text, kind, value):
    [e] = ents(f"contact {text} merci", kind)
    assert e.value == value and e.extra["obfuscated"] is True


def test_telegram_phone_link():
    [t] = ents("t.me/+33639981234", "telegram")
    assert t.value == "+33639981234" and t.extra["phone"] is True
    assert vals("t.me/+33639981234", "phone") == ["+33639981234"]


@pytest.mark.parametrize("text", [
    "écrire à rdv@seller.example",  # an email, not a handle
    "@abc",  # too short for Telegram
    "rdv @ 14h",
    "t.me/share/url?url=x",
    "prix@150",
])
def test_not_telegram(text):
    assert vals(text, "telegram") == []


# --- Snapchat, Instagram, TikTok --------------------------------------------

@pytest.mark.parametrize("text,kind,value", [
    ("snap: rdv.pref", "snapchat", "rdv.pref"),
    ("Snapchat : Rdv_Pref", "snapchat", "rdv_pref"),
    ("SC: rdvpref", "snapchat", "rdvpref"),
    ("👻 rdvpref", "snapchat", "rdvpref"),
    ("👻: rdv-pref", "snapchat", "rdv-pref"),
    ("👻rdvpref", "snapchat", "rdvpref"),
    ("https://www.snapchat.com/add/rdvpref", "snapchat", "rdvpref"),
    ("insta: rdv.pref", "instagram", "rdv.pref"),
    ("IG : rdv_pref", "instagram", "rdv_pref"),
    ("instagram => rdv_pref", "instagram", "rdv_pref"),
    ("insta @rdv.pref", "instagram", "rdv.pref"),
    ("https://instagram.com/rdv.pref/", "instagram", "rdv.pref"),
    ("https://www.instagram.com/stories/rdv.pref/123", "instagram", "rdv.pref"),
    ("انستا: rdv.pref", "instagram", "rdv.pref"),
    ("tiktok.com/@rdv.pref", "tiktok", "rdv.pref"),
    ("https://www.tiktok.com/@RDV.pref/video/1", "tiktok", "rdv.pref"),
    ("tiktok: @rdvpref", "tiktok", "rdvpref"),
])
def test_social_handles(text, kind, value):
    assert vals(f"Contact {text} !", kind) == [value]


@pytest.mark.parametrize("text,kind", [
    ("ajoute moi sur snap", "snapchat"),
    ("snap: moi", "snapchat"),
    ("https://instagram.com/p/AbC123", "instagram"),
    ("instagram.com/explore", "instagram"),
    ("disc: xyz", "snapchat"),  # "sc" inside a word is not a label
    ("big: deal", "instagram"),
])
def test_not_social_handles(text, kind):
    assert vals(text, kind) == []


@pytest.mark.parametrize("text,kind,value", [
    ("snap : rdv93.example", "snapchat", "rdv93.example"),
    ("insta: rdv.pref.fr", "instagram", "rdv.pref.fr"),
    ("👻 rdv.ma", "snapchat", "rdv.ma"),
    # after a label without a colon
    ("snap malik.officiel pour les rdv", "snapchat", "malik.officiel"),
    ("insta rdv_pref75 dispo", "instagram", "rdv_pref75"),
    ("snapchat docs.pro.fr", "snapchat", "docs.pro.fr"),
])
def test_dotted_username_after_a_label_is_not_a_website(text, kind, value):
    found = ents(text)
    assert [(e.kind, e.value) for e in found] == [(kind, value)]  # not read as a domain
    assert text[found[0].start:found[0].end] == value


@pytest.mark.parametrize("text,kind,value", [
    ("snap: rdv\u200bpref", "snapchat", "rdvpref"),
    ("@rdv\u200b_pref75", "telegram", "rdv_pref75"),
    ("insta: rdv\u200c.pref\u200b", "instagram", "rdv.pref"),
])
def test_zero_width_inside_handles(text, kind, value):
    [e] = ents(text, kind)
    assert e.value == value


def test_handle_span_includes_at_sign():
    text = "Telegram: @rdv_pref75"
    [t] = ents(text, "telegram")
    assert t.raw == "@rdv_pref75"


# --- Emails -------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("rdv.pref@seller.example", "rdv.pref@seller.example"),
    ("RDV.Pref+vip@Seller.Example", "rdv.pref+vip@seller.example"),
    ("mail: rdv_75@mail.seller.test.", "rdv_75@mail.seller.test"),
    ("(((rdv.pref@seller.example )))", "rdv.pref@seller.example"),
    ("rdv [at] seller [dot] example", "rdv@seller.example"),
    ("rdv(at)seller(dot)example", "rdv@seller.example"),
    ("rdv {at} seller {dot} example", "rdv@seller.example"),
    ("rdv [@] seller [.] example", "rdv@seller.example"),
    ("rdv arobase seller point example", "rdv@seller.example"),
    ("rdv[at]mail.seller[dot]example", "rdv@mail.seller.example"),
    ("ｒｄｖ＠ｓｅｌｌｅｒ．ｅｘａｍｐｌｅ", "rdv@seller.example"),
    ("rdv.pref @ seller.example", "rdv.pref@seller.example"),
    ("rdvpref@gmail", "rdvpref@gmail.com"),
])
def test_emails(text, value):
    got = vals(text, "email")
    assert got == ([value] if value else [])


def test_spaced_email_is_not_also_a_url():
    text = "écrire à rdv.pref @ seller.example"
    assert [e.kind for e in ents(text)] == ["email"]
    [e] = ents("rdvpref@gmail !", "email")
    assert e.extra["inferred_domain"] is True and e.raw == "rdvpref@gmail"


def test_email_gives_registered_domain():
    [e] = ents("a.b@mail.seller.co.uk", "email")
    assert e.extra["domain"] == "seller.co.uk"


@pytest.mark.parametrize("text", [
    "logo@2x.png",
    "user@localhost",
    "a@b",
    "rdv @ 14h",
    "a @ b",
    "x@gmailcom",
    "rdv at seller dot example",  # too ambiguous without brackets
    "@@@",
])
def test_not_emails(text):
    assert vals(text, "email") == []


# --- URLs and domains -----------------------------------------------------------

def test_url_and_domain():
    text = "voir https://www.rdv-pref.example/offre?id=3."
    [u] = ents(text, "url")
    assert u.value == "rdv-pref.example/offre?id=3"
    assert u.raw == "https://www.rdv-pref.example/offre?id=3"
    assert u.extra["domain"] == "rdv-pref.example" and u.extra["scheme"] == "https"
    [d] = ents(text, "domain")
    assert d.value == "rdv-pref.example"
    assert d.raw == "www.rdv-pref.example"


@pytest.mark.parametrize("text,domain", [
    ("www.rdv-pref.fr", "rdv-pref.fr"),
    ("rdv-pref.fr", "rdv-pref.fr"),
    ("RDV-PREF.COM/offres", "rdv-pref.com"),
    ("shop.rdv-pref.co.uk/x", "rdv-pref.co.uk"),
    ("hxxps://evil.seller.example/x", "seller.example"),
    ("http://192-168.seller.test:8080/path", "seller.test"),
    ("(https://rdv-pref.example/a_(b))", "rdv-pref.example"),
    ("«https://rdv-pref.example»", "rdv-pref.example"),
    ("https://rdv-pref.example/x,", "rdv-pref.example"),
    ("ｗｗｗ．ｒｄｖ－ｐｒｅｆ．ｆｒ", "rdv-pref.fr"),
])
def test_domains(text, domain):
    assert vals(text, "domain") == [domain]


def test_shared_platform_domains_give_no_domain_entity():
    text = "https://t.me/rdvpref https://www.facebook.com/rdvpref wa.me/33639981234"
    assert vals(text, "domain") == []
    assert len(vals(text, "url")) == 3


@pytest.mark.parametrize("text", [
    "etc.Il faut",
    "13h.Merci",
    "fin.Bonjour",
    "M.Dupont",
    "v1.2.3",
    "fichier rapport.pdf",
    "nom.prenom",
    "3.14",
])
def test_not_urls(text):
    assert vals(text, "url") == [] and vals(text, "domain") == []


def test_look_alike_host_is_flagged():
    [u] = ents("https://rdv-pr\u0435f.fr/x", "url")  # Cyrillic е
    assert u.extra["idn"] is True and u.extra["ascii_host"].startswith("xn--")
    [u] = ents("https://rdv-pref.fr/x", "url")
    assert "idn" not in u.extra


def test_paths_keep_case_host_is_lowered():
    [u] = ents("HTTPS://RDV-Pref.Example/Offre/AbC", "url")
    assert u.value == "rdv-pref.example/Offre/AbC"


@pytest.mark.parametrize("text", [
    "snap pour les rdv",  # a plain word after the label is prose
    "insta malik@mail.example",  # an e-mail address
])
def test_no_handle_without_a_user_name_shape(text):
    assert not [e for e in extract(text) if e.kind in ("snapchat", "instagram")]


def test_bare_at_handle_takes_the_only_platform_the_post_names():
    text = "Suivez-nous sur Instagram pour les nouvelles dates de rendez-vous. Pour réserver : @rdv_pref_93"
    ents = [e for e in extract(text) if e.value == "rdv_pref_93"]
    assert [(e.kind, e.extra.get("context")) for e in ents] == [("instagram", "post_mentions_instagram")]
    # no platform named, or two: Telegram, marked as a bare @handle
    assert [(e.kind, e.extra.get("context")) for e in extract("contact @rdv_pref_93")] == [("telegram", "bare_at")]
    two = "Nouvelles dates sur insta et sur snap chaque semaine, pensez à vérifier. Pour réserver : @rdv_pref_93"
    assert [e.kind for e in extract(two) if e.value == "rdv_pref_93"] == ["telegram"]
