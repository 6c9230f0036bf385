"""Drafting notices and complaints: goldens, DSA Art. 16(2) elements, config errors, hostile data."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drafting_seed import AT, HOSTILE, REF, seed  # noqa: E402

from storage import custody, drafting  # noqa: E402
from storage.cases import get_notice  # noqa: E402
from storage.errors import ConfigError, InputError, NotFoundError  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("VEILLE_UPDATE_GOLDEN") == "1"


@pytest.fixture
def ws(workspace):
    seed(workspace, hostile=True)
    return workspace


def _golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if not UPDATE:
            pytest.fail(f"golden file {name} was missing and has been written: check it and re-run")
    assert data == path.read_bytes(), f"{name} differs (VEILLE_UPDATE_GOLDEN=1 to accept)"


def _notice(ws, fmt="md", lang="fr", tmp=None, **kw):
    kw.setdefault("seller_id", 1)
    kw.setdefault("platform", "telegram")
    kw.setdefault("ref", REF)
    out = (tmp / f"notice.{fmt}") if tmp else None
    return drafting.draft_notice(ws, lang=lang, fmt=fmt, at=AT, build_bundle=False, output=out, **kw)


# ------------------------------------------------------------------ goldens
@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("fmt", ["md", "txt", "eml"])
def test_notice_golden(ws, tmp_path, lang, fmt):
    res = _notice(ws, fmt, lang, tmp_path)
    _golden(f"notice_telegram_{lang}.{fmt}", res.path.read_bytes())


@pytest.mark.parametrize("to", ["procureur", "pharos"])
def test_complaint_golden(ws, tmp_path, to):
    res = drafting.draft_complaint(ws, 1, to=to, fmt="md", at=AT, ref=REF, build_bundle=False,
                                   output=tmp_path / "c.md")
    _golden(f"complaint_{to}.md", res.path.read_bytes())


def test_complaint_html_golden(ws):
    """The HTML the PDF and DOCX are made from."""
    ctx = drafting.complaint_context(ws, 1, "procureur", None, AT, REF)
    _golden("complaint_procureur.html", drafting.render(drafting.template_env(ws), "complaint_fr.html.j2",
                                                        ctx).encode("utf-8"))


def test_notice_leboncoin_golden_with_bundle(ws, tmp_path):
    bundle = _make_bundle(ws, tmp_path / "seller1.zip", [3])
    res = _notice(ws, "md", "fr", tmp_path, platform="leboncoin", seller_id=None, post_ids=[3], bundle=bundle)
    _golden("notice_leboncoin_fr_bundle.md", res.path.read_bytes())


# -------------------------------------------------------- DSA Art. 16(2)
def _text_of(path: Path, fmt: str) -> str:
    if fmt == "eml":
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        return msg.get_body(("plain",)).get_content()
    return path.read_text("utf-8")


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("fmt", ["md", "txt", "eml"])
def test_every_dsa_element_is_present(ws, tmp_path, lang, fmt):
    res = _notice(ws, fmt, lang, tmp_path)
    text = _text_of(res.path, fmt)
    flat = text.replace("\\_", "_")  # Markdown escapes
    # (a) what is offered (quoted text, price), why illegal (grounds), the platform's rule
    assert "Titre de séjour 10 ans, vrai faux garanti" in flat
    assert "900 EUR" in flat and "150 EUR" in flat
    for art in ("441-1", "441-2", "441-3", "313-1"):
        assert art in flat
    assert ("selling or offering illegal goods and services (drugs, firearms, forged documents)" if lang == "en"
            else "la vente ou l'offre de biens et services illégaux (drogues, armes à feu, faux documents)") in flat
    # (b) exact locations: URLs with ids, channel, capture times
    for n in ("101", "140"):
        assert f"https://t.me/rdv_prefecture_75/{n}" in flat
    assert "rdv_prefecture_75/140" in flat
    assert "2026-10-01 10:30:00 UTC" in flat and "2026-10-09 21:05:00 UTC" in flat
    # (c) notifier
    assert "Association Droits Fictifs" in flat and "signalements@asso.example" in flat
    # (d) good-faith statement
    if lang == "en":
        assert "bona fide belief that the information and allegations contained in this notice are accurate " \
               "and complete" in flat
    else:
        assert "de bonne foi, que les informations et allégations contenues dans la présente notification sont " \
               "exactes et complètes" in flat
    # reference and evidence hashes per item
    assert REF in flat
    for pid in res.post_ids:
        cap = ws.db.execute("select a.sha256 from artifacts a join captures c on c.id = a.capture_id "
                            "where c.post_id = ?", [pid]).fetchone()[0]
        assert cap in flat


def test_notice_is_recorded_as_drafted(ws, tmp_path):
    res = _notice(ws, "md", "fr", tmp_path)
    n = get_notice(ws, REF)
    assert n["status"] == "drafted" and n["kind"] == "notice" and n["platform"] == "telegram"
    assert n["post_ids"] == [1, 2]  # the buyer's message (third party) and other platforms are left out
    assert n["sha256"] == res.sha256
    assert [e["status"] for e in n["events"]] == ["drafted"]
    entries = list(custody.iter_entries(ws.db, "where action = 'notice'"))
    assert entries and entries[-1]["details"]["ref"] == REF
    assert custody.verify_chain(ws.db)[1] == []


def test_default_refs_increment_and_default_output_path(ws):
    a = drafting.draft_notice(ws, "telegram", seller_id=1, at=AT, build_bundle=False)
    b = drafting.draft_notice(ws, "telegram", seller_id=1, at=AT, build_bundle=False, fmt="txt")
    assert a.ref == "VEILLE-20261120-0001" and b.ref == "VEILLE-20261120-0002"
    assert a.path == ws.root / "drafts" / "notices" / "VEILLE-20261120-0001.md"
    assert not list(a.path.parent.glob(".*.part"))


def test_eml_parses_and_is_rfc5322(ws, tmp_path):
    res = _notice(ws, "eml", "en", tmp_path)
    msg = email.message_from_bytes(res.path.read_bytes(), policy=email.policy.default)
    assert msg["From"].addresses[0].addr_spec == "signalements@asso.example"
    assert msg["To"].addresses[0].addr_spec == "abuse@telegram.org"
    assert REF in msg["Subject"] and msg["X-Veille-Reference"] == REF
    assert msg["Date"].datetime.isoformat() == "2026-11-20T09:00:00+00:00"
    assert msg["Message-ID"] == f"<{REF.lower()}@asso.example>"
    assert b"\r\n" in res.path.read_bytes()  # SMTP line endings
    body = msg.get_body(("plain",)).get_content()
    assert "{{ 7*7 }} {% for x in y %}boucle{% endfor %}" in body


def test_eml_needs_a_recipient_when_the_route_has_none(ws, tmp_path):
    with pytest.raises(InputError, match="--to"):
        _notice(ws, "eml", "fr", tmp_path, platform="leboncoin", seller_id=None, post_ids=[3])
    res = _notice(ws, "eml", "fr", tmp_path, platform="leboncoin", seller_id=None, post_ids=[3],
                  to="moderation@leboncoin.example")
    msg = email.message_from_bytes(res.path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "moderation@leboncoin.example"
    with pytest.raises(InputError, match="bad recipient"):
        _notice(ws, "eml", "fr", tmp_path, platform="leboncoin", seller_id=None, post_ids=[3],
                to="a@b.example\r\nBcc: x@y.example")


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize("setting", ["notifier.email", "notifier.organisation"])
def test_missing_notifier_setting_is_named(ws, tmp_path, setting):
    section, key = setting.split(".")
    ws.config.data[section][key] = ""
    with pytest.raises(ConfigError, match=f"setting '{setting}' is not set"):
        _notice(ws, "md", "fr", tmp_path)
    assert ws.db.execute("select count(*) from notices").fetchone()[0] == 0
    assert not (tmp_path / "notice.md").exists()


@pytest.mark.parametrize("setting", ["complaint.tribunal", "complaint.reporter_name"])
def test_missing_complaint_setting_is_named(ws, tmp_path, setting):
    section, key = setting.split(".")
    ws.config.data[section][key] = ""
    with pytest.raises(ConfigError, match=f"setting '{setting}' is not set"):
        drafting.draft_complaint(ws, 1, to="procureur", fmt="md", build_bundle=False, output=tmp_path / "c.md")
    if setting == "complaint.tribunal":  # PHAROS needs no tribunal
        drafting.draft_complaint(ws, 1, to="pharos", fmt="md", build_bundle=False, output=tmp_path / "c.md")


def test_bad_capacity_is_named(ws, tmp_path):
    ws.config.data["complaint"]["reporter_capacity"] = "friend"
    with pytest.raises(ConfigError, match="complaint.reporter_capacity"):
        drafting.draft_complaint(ws, 1, fmt="md", build_bundle=False, output=tmp_path / "c.md")


def test_bad_requests(ws, tmp_path):
    with pytest.raises(InputError, match="not on Telegram"):
        _notice(ws, "md", "fr", tmp_path, seller_id=None, post_ids=[3])
    with pytest.raises(InputError, match="either"):
        _notice(ws, "md", "fr", tmp_path, post_ids=[1])
    with pytest.raises(NotFoundError, match="no route for platform 'myspace'"):
        _notice(ws, "md", "fr", tmp_path, platform="myspace")
    with pytest.raises(NotFoundError, match="no seller with id 99"):
        _notice(ws, "md", "fr", tmp_path, seller_id=99)
    with pytest.raises(InputError, match="no live offer"):
        _notice(ws, "md", "fr", tmp_path, seller_id=2, platform="telegram")
    with pytest.raises(InputError, match="unknown notice format"):
        _notice(ws, "pdf", "fr", tmp_path)
    with pytest.raises(InputError, match="unknown language"):
        _notice(ws, "md", "de", tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        _notice(ws, "md", "fr", tmp_path, bundle=tmp_path / "nope.zip")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a ZIP"):
        _notice(ws, "md", "fr", tmp_path, bundle=tmp_path / "bad.zip")


# --------------------------------------------------------- hostile data
@pytest.mark.parametrize("fmt", ["md", "txt", "eml"])
def test_scraped_text_is_never_template_code(ws, tmp_path, fmt):
    text = _text_of(_notice(ws, fmt, "fr", tmp_path).path, fmt)
    plain = text.replace("\\", "")
    assert "{{ 7*7 }}" in plain and "{% for x in y %}boucle{% endfor %}" in plain
    assert "boucle" in plain  # the loop body is shown once, as text


def test_markdown_quotes_escape_markup(ws, tmp_path):
    text = _notice(ws, "md", "fr", tmp_path).path.read_text("utf-8")
    quoted = [ln for ln in text.splitlines() if ln.startswith("> ") and "7\\*7" in ln]
    assert quoted, "the hostile line is quoted"
    assert "<script>" not in quoted[0] and "\\<script\\>" in quoted[0] and "\\[lien\\]" in quoted[0]


def test_html_complaint_escapes_everything(ws):
    ctx = drafting.complaint_context(ws, 1, "procureur", None, AT, REF)
    html = drafting.render(drafting.template_env(ws), "complaint_fr.html.j2", ctx)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html


def test_custom_template_cannot_escape_the_sandbox(ws, tmp_path):
    tdir = ws.root / "templates"
    tdir.mkdir()
    (tdir / "notice_fr.md.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", "utf-8")
    with pytest.raises(InputError, match="template"):
        _notice(ws, "md", "fr", tmp_path)
    assert ws.db.execute("select count(*) from notices").fetchone()[0] == 0
    assert not (tmp_path / "notice.md").exists() and not (tmp_path / ".notice.md.part").exists()


def test_custom_template_from_workspace_is_used(ws, tmp_path):
    tdir = ws.root / "templates"
    tdir.mkdir()
    (tdir / "notice_en.txt.j2").write_text("Custom {{ ref }}: {% for it in items %}{{ it.text }}{% endfor %}\n",
                                           "utf-8")
    text = _notice(ws, "txt", "en", tmp_path).path.read_text("utf-8")
    assert text.startswith(f"Custom {REF}: ") and "{{ 7*7 }}" in text


def test_control_and_bidi_characters_are_removed(ws, tmp_path):
    ws.db.execute("update posts set text = text || ? where id = 2", ["\u202egnp.exe\x00\x1b[31m"])
    text = _notice(ws, "txt", "fr", tmp_path).path.read_text("utf-8")
    assert "\u202e" not in text and "\x00" not in text and "\x1b" not in text and "gnp.exe" in text


def test_characters_xml_cannot_hold_do_not_break_the_docx(ws, tmp_path):
    import docx

    ws.db.execute("update posts set text = text || ? where id = 2", [" fin\uffff\ufffe\x0b\x0c."])
    res = drafting.draft_complaint(ws, 1, fmt="docx", at=AT, ref=REF, build_bundle=False, output=tmp_path / "c.docx")
    text = "\n".join(p.text for p in docx.Document(str(res.path)).paragraphs)
    assert "fin." in text and "\uffff" not in text


def test_third_parties_are_pseudonymised_everywhere(ws, tmp_path):
    outs = [_notice(ws, "txt", "fr", tmp_path, platform="leboncoin", seller_id=1).path.read_text("utf-8")]
    for fmt in ("md", "docx"):
        res = drafting.draft_complaint(ws, 1, fmt=fmt, build_bundle=False, output=tmp_path / f"c.{fmt}")
        outs.append(res.path.read_text("utf-8") if fmt == "md" else _docx_text(res.path))
    for out in outs:
        assert "Karim" not in out and "Benali" not in out and "+33199005566" not in out
        assert "Tiers A" in out


def test_third_parties_in_any_written_form_and_the_sellers_identifiers_kept(ws, tmp_path):
    from drafting_seed import _post

    # the seller thanks the buyer by first name, handle and phone in another format
    ws.db.execute("update posts set text = text || ? where id = 2",
                  [" Merci Karim (@karim_b, 01.99.00.55.66) !"])
    # someone who replied quotes the seller's phone: it stays the seller's identifier, not the replier's
    rep = _post(ws, platform="telegram", ext="rdv_prefecture_75/150", url="", source="rdv_prefecture_75",
                text="Attention, le 06 39 98 12 34 est un arnaqueur", cat=None, sub=None,
                posted=datetime(2026, 10, 12, 7, 0, tzinfo=UTC), handle="nadia_r", author="Nadia Rami",
                role="replier", phones=["+33639981234"])
    ws.db.execute("update posts set seller_id = 1 where id = ?", [rep])
    outs = [_notice(ws, "txt", "fr", tmp_path).path.read_text("utf-8")]
    comp = drafting.draft_complaint(ws, 1, fmt="md", at=AT, ref="VEILLE-20261120-0201", build_bundle=False,
                                    output=tmp_path / "c.md")
    outs.append(comp.path.read_text("utf-8"))
    for out in outs:
        for leak in ("Karim", "karim_b", "01.99.00.55.66", "Nadia", "nadia_r"):
            assert leak not in out, leak
        assert "Merci Tiers A (Tiers A, Tiers A) !" in " ".join(out.split())
    ctx = drafting.complaint_context(ws, 1, "procureur", None, AT, "VEILLE-20261120-0202")
    assert ("phone", "+33639981234") in {(i["kind"], i["value"]) for i in ctx["seller"]["identifiers"]}
    assert "+33 6 39 98 12 34" in outs[0]  # the seller's phone, as written in its offer
    assert {v["role"] for v in ctx["victims"]} == {"acheteur", "personne ayant répondu"}


# -------------------------------------------------------------- complaint
def _docx_text(path: Path) -> str:
    import docx

    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_complaint_docx_opens_and_has_exhibits_table(ws, tmp_path):
    import docx

    res = drafting.draft_complaint(ws, 1, fmt="docx", at=AT, ref=REF, build_bundle=False,
                                   output=tmp_path / "c.docx")
    d = docx.Document(str(res.path))
    tables = [t for t in d.tables if t.rows and "SHA-256" in [c.text for c in t.rows[0].cells]]
    assert len(tables) == 1
    table = tables[0]
    header = [c.text for c in table.rows[0].cells]
    assert header == ["N°", "Offre", "Capturée le", "Nature", "SHA-256", "Chemin dans l'archive"]
    shas = {r[0] for r in ws.db.execute("select a.sha256 from artifacts a join captures c on c.id = a.capture_id "
                                        "where c.post_id in (1, 2, 3)")}
    assert {row.cells[4].text for row in table.rows[1:]} == shas
    text = _docx_text(res.path)
    assert "Signalement au procureur de la République" in text
    assert "Tribunal judiciaire de Paris" in text and "contre X" in text
    assert "{{ 7*7 }}" in text and "<script>alert(1)</script>" in text  # literal text, not markup
    assert "441-2" in text and "313-1" in text
    assert "+33639981234" in text  # presumed author's identifier


def test_complaint_pdf_is_a_pdf(ws, tmp_path):
    res = drafting.draft_complaint(ws, 1, fmt="pdf", at=AT, ref=REF, build_bundle=False,
                                   output=tmp_path / "c.pdf")
    data = res.path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 5000
    assert get_notice(ws, REF)["kind"] == "complaint"


def test_complaint_facts_are_chronological(ws, tmp_path):
    ctx = drafting.complaint_context(ws, 1, "procureur", None, AT, REF)
    assert [it["post_id"] for it in ctx["items"]] == [1, 2, 3]
    assert ctx["facts"]["n_offers"] == 3 and ctx["facts"]["platforms"] == ["leboncoin", "telegram"]
    assert ctx["facts"]["first_seen"] == "2026-10-01T08:30:00Z"
    assert ctx["facts"]["prices"] == [{"currency": "EUR", "n": 3, "min": "120 EUR", "max": "900 EUR"}]
    assert ctx["facts"]["n_third_party_messages"] == 1
    assert {g["article"] for g in ctx["grounds"]} == {"441-1", "441-2", "441-3", "313-1"}
    assert len(ctx["exhibits"]) == 3


# ------------------------------------------------------------ data files
def test_legal_grounds_file():
    g = drafting.load_grounds()
    arts = {v["article"]: v for v in g["grounds"].values()}
    assert set(arts) == {"441-1", "441-2", "441-3", "313-1"}
    for v in arts.values():
        assert v["penalty_fr"] and v["code"] == "Code pénal"
        # none was compared with the official text: the file must not claim a verification date
        assert v["verified_on"] == "" and "not compared" in v["verified_how"]
        assert isinstance(v["written_on"], date)
    assert "trois ans" in arts["441-1"]["penalty_fr"] and "45 000" in arts["441-1"]["penalty_fr"]
    assert "375 000" in arts["313-1"]["penalty_fr"]
    # no article is invented for appointment resale: only 313-1 (under its condition) applies
    assert [x["article"] for x in drafting.grounds_for(g, "appointment_resale", "prefecture")] == ["313-1"]
    text = (Path(drafting.__file__).parent / "data" / "legal_grounds.toml").read_text("utf-8")
    assert "# [grounds.appointment_resale]" in text


def test_platform_routes_file():
    r = drafting.load_routes()["routes"]
    assert {"telegram", "meta", "snapchat", "leboncoin", "avito", "ouedkniss"} <= set(r)
    assert r["telegram"]["web_form"] == "https://telegram.org/dsa-report"
    assert "@EURegulation" in r["telegram"]["in_app"]
    assert "legal removal" in r["meta"]["web_form"]
    for key, route in r.items():
        # none was checked on the platform's site: no check date is claimed
        assert route["last_checked"] == "" and isinstance(route["written_on"], date), key
        assert "verify" in route["basis"].lower(), key
        assert route["fields"], key
    assert drafting.find_route(drafting.load_routes(), "avito_ma")["key"] == "avito"
    for platform in ("telegram", "leboncoin", "vivastreet", "jemepropose", "avito_ma", "ouedkniss", "tayara",
                     "snapchat", "instagram", "facebook", "whatsapp"):
        assert drafting.find_route(drafting.load_routes(), platform)


def test_stale_grounds_warn(ws):
    used = [dict(g, verified_on=date(2026, 11, 22)) for g in drafting.load_grounds(ws)["grounds"].values()]
    assert drafting.stale_grounds(ws, used, today=date(2026, 12, 1)) == []
    warnings = drafting.stale_grounds(ws, used, today=date(2028, 12, 1))
    assert len(warnings) == 4 and "Légifrance" in warnings[0] and "last verified on 2026-11-22" in warnings[0]


def test_unverified_grounds_and_unchecked_routes_are_said_so(ws, tmp_path):
    res = _notice(ws, "md", "fr", tmp_path, ref="VEILLE-20261120-0101")
    assert sum("never been compared with the official text" in w for w in res.warnings) == 4
    assert any("route 'telegram'" in w and "never been checked" in w for w in res.warnings)
    assert "jamais vérifiée sur le site de la plateforme" in res.path.read_text("utf-8")
    en = _notice(ws, "txt", "en", tmp_path, ref="VEILLE-20261120-0102").path.read_text("utf-8")
    assert "never checked on the platform's site" in en
    comp = drafting.draft_complaint(ws, 1, fmt="md", at=AT, ref="VEILLE-20261120-0103", build_bundle=False,
                                    output=tmp_path / "c.md")
    text = comp.path.read_text("utf-8")
    assert "texte non vérifié sur Légifrance" in text and "texte vérifié le" not in text
    assert any("never been compared" in w for w in comp.warnings)
    # once a person has checked them, the dates are printed and the warnings go away
    grounds = (Path(drafting.__file__).parent / "data" / "legal_grounds.toml").read_text("utf-8")
    (ws.root / "legal_grounds.toml").write_text(grounds.replace('verified_on = ""', "verified_on = 2026-12-01"),
                                                "utf-8")
    routes = (Path(drafting.__file__).parent / "data" / "platform_routes.toml").read_text("utf-8")
    (ws.root / "platform_routes.toml").write_text(routes.replace('last_checked = ""', "last_checked = 2026-12-02"),
                                                  "utf-8")
    res = _notice(ws, "md", "fr", tmp_path, ref="VEILLE-20261120-0104")
    assert not any("never" in w for w in res.warnings)
    assert "vérifiée pour la dernière fois le 2026-12-02" in res.path.read_text("utf-8")
    comp = drafting.draft_complaint(ws, 1, fmt="md", at=AT, ref="VEILLE-20261120-0105", build_bundle=False,
                                    output=tmp_path / "c2.md")
    assert "texte vérifié le 2026-12-01" in comp.path.read_text("utf-8")
    # a date that is not a date is refused, naming the entry
    (ws.root / "legal_grounds.toml").write_text(grounds.replace('verified_on = ""', 'verified_on = "yes"', 1),
                                                "utf-8")
    with pytest.raises(InputError, match="ground 'cp_441_1': verified_on must be a date"):
        _notice(ws, "md", "fr", tmp_path, ref="VEILLE-20261120-0106")


def test_workspace_grounds_file_replaces_the_shipped_one(ws, tmp_path):
    (ws.root / "legal_grounds.toml").write_text(
        '[grounds.test_resale]\ncode = "Loi test"\narticle = "1"\ntitle_fr = "Revente de rendez-vous"\n'
        'penalty_fr = "Amende test"\napplies_to = ["appointment_resale/prefecture"]\nverified_on = 2026-11-01\n',
        "utf-8")
    text = _notice(ws, "txt", "fr", tmp_path).path.read_text("utf-8")
    assert "Loi test, art. 1" in text and "441-2" not in text
    (ws.root / "legal_grounds.toml").write_text('[grounds.x]\ncode = "C"\n', "utf-8")
    with pytest.raises(InputError, match="ground 'x' has no 'article'"):
        _notice(ws, "txt", "fr", tmp_path)


def test_bad_route_field_source_is_reported(ws, tmp_path):
    (ws.root / "platform_routes.toml").write_text(
        '[routes.telegram]\nname = "Telegram"\nplatforms = ["telegram"]\nlast_checked = 2026-11-01\n'
        '[[routes.telegram.fields]]\nlabel = "X"\nfrom = "secret.password"\n', "utf-8")
    with pytest.raises(InputError, match="unknown 'from' 'secret.password'"):
        _notice(ws, "md", "fr", tmp_path)


# ---------------------------------------------------------------- bundles
def _make_bundle(ws, path: Path, post_ids: list[int]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        lines = []
        for pid in post_ids:
            lines.append(json.dumps({"id": pid}))
            for (sha,) in ws.db.execute("select a.sha256 from artifacts a join captures c on c.id = a.capture_id "
                                        "where c.post_id = ?", [pid]):
                info = zipfile.ZipInfo(f"evidence/{sha}", date_time=(2026, 11, 20, 0, 0, 0))
                zf.writestr(info, ws.store.read(sha))
        zf.writestr(zipfile.ZipInfo("posts.jsonl", date_time=(2026, 11, 20, 0, 0, 0)), "\n".join(lines) + "\n")
    return path


def test_given_bundle_is_hashed_and_cited(ws, tmp_path):
    import hashlib

    b = _make_bundle(ws, tmp_path / "b.zip", [1])
    res = _notice(ws, "txt", "en", tmp_path, bundle=b)
    sha = hashlib.sha256(b.read_bytes()).hexdigest()
    text = res.path.read_text("utf-8")
    assert res.bundle["sha256"] == sha and res.bundle["how"] == "given"
    assert f"Evidence bundle: b.zip\nSHA-256: {sha}" in text
    assert "(evidence/" in text
    assert any("does not contain post(s) 2" in w for w in res.warnings)


def test_existing_bundle_from_custody_is_reused_unless_tampered(ws, tmp_path):
    import hashlib

    b = _make_bundle(ws, tmp_path / "export.zip", [1, 2])
    sha = hashlib.sha256(b.read_bytes()).hexdigest()
    custody.append(ws.db, "export", {"kind": "bundle", "path": str(b), "sha256": sha, "post_ids": [1, 2]})
    res = _notice(ws, "md", "fr", tmp_path)
    assert res.bundle["how"] == "existing" and res.bundle["sha256"] == sha
    with open(b, "ab") as fh:
        fh.write(b"x")
    res = drafting.draft_notice(ws, "telegram", seller_id=1, at=AT, build_bundle=False,
                                output=tmp_path / "n2.md")
    assert res.bundle is None and any("no evidence bundle" in w for w in res.warnings)


def test_docx_from_html_handles_structure():
    data = drafting.html_to_docx("<html><body><h1>T</h1><p>a <strong>b</strong><br>c</p><ul><li>x</li></ul>"
                                 "<table><tr><th>h1</th><th>h2</th></tr><tr><td>1</td><td>2</td></tr></table>"
                                 "<blockquote>q\nq2</blockquote><h2>S</h2><h3>s</h3><ol><li>n</li></ol>"
                                 "</body></html>")
    import docx

    d = docx.Document(io.BytesIO(data))
    assert [p.text for p in d.paragraphs][:3] == ["T", "a b\nc", "x"]
    # Word styles, so headings and lists are real headings and lists when a lawyer edits the file
    assert [(p.text, p.style.name) for p in d.paragraphs] == [
        ("T", "Title"), ("a b\nc", "Normal"), ("x", "List Bullet"), ("q\nq2", "Quote"), ("S", "Heading 1"),
        ("s", "Heading 2"), ("n", "List Number")]
    assert [[c.text for c in r.cells] for r in d.tables[0].rows] == [["h1", "h2"], ["1", "2"]]
    assert HOSTILE  # imported for other tests


def test_bundle_is_built_when_none_covers_the_items_then_reused(ws, tmp_path):
    import hashlib

    bundle_mod = pytest.importorskip("storage.bundle")
    if not hasattr(bundle_mod, "build_bundle"):
        pytest.skip("storage.bundle.build_bundle is not available")
    res = drafting.draft_notice(ws, "telegram", seller_id=1, at=AT, fmt="txt", output=tmp_path / "n.txt")
    assert res.bundle["how"] == "built"
    path = ws.root / "drafts" / "bundles" / f"{res.ref}.zip"
    assert res.bundle["name"] == path.name and hashlib.sha256(path.read_bytes()).hexdigest() == res.bundle["sha256"]
    text = res.path.read_text("utf-8")
    assert res.bundle["sha256"] in text
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    cited = [ln.rsplit("(", 1)[1].rstrip(")") for ln in text.splitlines() if "SHA-256" in ln and "(" in ln
             and ln.strip().startswith("Contenu")]
    assert cited and all(c in names for c in cited)
    again = drafting.draft_notice(ws, "telegram", post_ids=[1], at=AT, fmt="md", output=tmp_path / "n2.md")
    assert again.bundle["how"] == "existing" and again.bundle["sha256"] == res.bundle["sha256"]


def test_output_folder_is_refused(ws, tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        drafting.draft_notice(ws, "telegram", seller_id=1, build_bundle=False, output=tmp_path)
    assert ws.db.execute("select count(*) from notices").fetchone()[0] == 0


def test_unwritable_output_is_a_clear_error(ws, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(InputError, match="cannot write"):
            drafting.draft_notice(ws, "telegram", seller_id=1, build_bundle=False, output=ro / "n.md")
    finally:
        ro.chmod(0o700)
    assert ws.db.execute("select count(*) from notices").fetchone()[0] == 0


def test_post_without_capture_is_warned(ws, tmp_path):
    from storage import Post, save_post

    pid = save_post(ws, Post(platform="telegram", external_id="rdv_prefecture_75/500", text="RDV dispo 80€",
                             source="rdv_prefecture_75"), verdict=None).post_id
    res = _notice(ws, "txt", "fr", tmp_path, seller_id=None, post_ids=[pid])
    assert any(f"post(s) {pid} have no stored capture" in w for w in res.warnings)
    assert "offre signalée (non classée)" in res.path.read_text("utf-8")


def test_clustering_identifier_strings_are_read(ws, tmp_path):
    ws.db.execute("update sellers set identifiers = ? where id = 1",
                  [json.dumps(["phone:+33639981234", "telegram:rdv_prefecture_75", "price:150 EUR"])])
    ctx = drafting.complaint_context(ws, 1, "procureur", None, AT, REF)
    got = {(i["kind"], i["value"]) for i in ctx["seller"]["identifiers"]}
    assert ("telegram", "rdv_prefecture_75") in got and ("phone", "+33639981234") in got
    assert not any(k == "price" for k, _ in got)
