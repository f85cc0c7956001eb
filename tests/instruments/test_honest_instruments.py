"""Provenance, contacts and the glossary: what `instruments check` refuses, what loading keeps,
and what participants are told about a study whose texts are reconstructed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from surveyapp.cli import main
from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.db import db
from surveyapp.instruments.glossary import mutated_forms
from surveyapp.instruments.loader import content_hash, read_catalogue
from surveyapp.instruments.services import load_catalogue
from surveyapp.studies.models import Study

from .conftest_helpers import consent_someone

STUDY = Path("studies") / "front-door-phase1.yaml"


def _check(root: Path, *args: str):
    return CliRunner().invoke(main, ["instruments", "check", *args, str(root)])


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def _served(root: Path) -> dict[str, Path]:
    study = yaml.safe_load((root / STUDY).read_text("utf-8"))
    return {kind: root / study[kind]["key"] / f"{study[kind]['version']}.yaml"
            for kind in ("information_sheet", "consent_form", "survey")}


def _approve_all(root: Path) -> None:
    for path in _served(root).values():
        _edit(path, lambda d: d.update(provenance={"status": "approved", "approved_by": "Test REC",
                                                    "approved_on": "2026-11-30"}))


# -- provenance ----------------------------------------------------------------------------------

def test_every_shipped_instrument_states_its_provenance_and_says_reconstructed():
    catalogue = read_catalogue(INSTRUMENTS_DIR)
    assert catalogue.instruments
    for item in catalogue.instruments:
        assert item.provenance["status"] == "reconstructed", item.path
        assert item.provenance["reason"].strip(), item.path


def test_strict_check_fails_on_a_study_serving_a_reconstructed_text(instruments_copy):
    result = _check(instruments_copy, "--strict")
    assert result.exit_code == 1
    served = _served(instruments_copy)
    for kind, path in served.items():
        assert f"{instruments_copy / STUDY}: {kind}: " in result.output
        assert f"({path}) is reconstructed, not approved" in result.output
    # Without --strict it is a warning: the demo still loads.
    assert _check(instruments_copy).exit_code == 0


def test_an_instrument_without_provenance_is_a_schema_error(instruments_copy):
    sheet = _served(instruments_copy)["information_sheet"]
    _edit(sheet, lambda d: d.pop("provenance"))
    result = _check(instruments_copy)
    assert result.exit_code == 1
    assert f"{sheet}: (top): 'provenance' is a required property" in result.output


def test_approved_texts_leave_only_draft_welsh_for_strict(instruments_copy):
    _approve_all(instruments_copy)
    result = _check(instruments_copy, "--strict")
    assert "reconstructed, not approved" not in result.output
    assert result.exit_code == 1 and "still marked draft" in result.output  # honest: Welsh awaits review


def test_provenance_is_outside_the_hash_so_approval_needs_no_new_version(app, instruments_copy, browser):
    """A committee approving the text participants already saw changes its metadata, not the
    text: the hash is the same and loading accepts it even after the version was used."""
    sheet = _served(instruments_copy)["information_sheet"]
    before = read_catalogue(instruments_copy).find("phase1-information-sheet", 2)
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
    consent_someone(app, browser)
    _approve_all(instruments_copy)
    after = read_catalogue(instruments_copy).find("phase1-information-sheet", 2)
    assert after.content_hash == before.content_hash == content_hash(yaml.safe_load(sheet.read_text("utf-8")))
    with app.app_context():
        report = load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
        assert any(label.startswith("phase1-consent v2: approved") for label in report.provenance)
        row = db.session.scalar(sa.select(Study))
        assert row.approved and "provenance" not in row.consent_form.content


# -- what participants see --------------------------------------------------------------------------

def test_reconstructed_study_shows_a_notice_and_no_ethics_reference(browser, study):
    token = browser.start(study, "en")
    for url in (f"/p/{token}/information", f"/p/{token}/consent"):
        page = browser.get(url).get_data(as_text=True)
        assert "Demonstration study" in page and "have not been approved by a research ethics committee" in page
        assert "20/LAW/005" not in page
    welsh = browser.get(f"/p/{token}/information?lang=cy", follow_redirects=True).get_data(as_text=True)
    assert "Astudiaeth arddangos" in welsh and "Demonstration study" not in welsh
    # The language choice, before any language is known, says it in both.
    choice = browser.get(f"/s/{study.slug}").get_data(as_text=True)
    assert "Astudiaeth arddangos" in choice and "Demonstration study" in choice


def test_an_approved_study_shows_its_ethics_reference_and_no_notice(make_app, instruments_copy):
    from tests.conftest import Browser

    _approve_all(instruments_copy)
    app = make_app(INSTRUMENTS_DIR=str(instruments_copy))
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
        slug = db.session.scalar(sa.select(Study.slug))
    browser = Browser(app)
    browser.start(SimpleNamespace(slug=slug), "en")
    page = browser.get("/survey/information").get_data(as_text=True)
    assert "Ethics approval reference: 20/LAW/005" in page
    assert "Demonstration study" not in page


# -- contacts -------------------------------------------------------------------------------------

def test_a_study_without_contacts_fails_the_check(instruments_copy):
    study_file = instruments_copy / STUDY
    _edit(study_file, lambda d: d.pop("contacts"))
    result = _check(instruments_copy)
    assert result.exit_code == 1
    assert f"{study_file}: contacts: the study names no contacts" in result.output


def test_a_contact_with_a_bad_email_names_the_place(instruments_copy):
    study_file = instruments_copy / STUDY
    _edit(study_file, lambda d: d["contacts"]["complaints"].update(email="not an address"))
    result = _check(instruments_copy)
    assert result.exit_code == 1
    assert f"{study_file}: contacts/complaints/email:" in result.output


# -- glossary ------------------------------------------------------------------------------------

def test_welsh_mutations_are_generated_from_the_radical():
    assert {"caniatâd", "ganiatâd", "nghaniatâd", "chaniatâd"} <= mutated_forms("caniatâd")
    assert {"dienw", "ddienw", "nienw"} <= mutated_forms("dienw")
    assert {"llawn", "lawn"} == mutated_forms("llawn")
    assert "hafon" in mutated_forms("afon")


def test_an_avoided_glossary_term_fails_the_check_in_any_mutated_form(instruments_copy):
    consent = _served(instruments_copy)["consent_form"]
    data = yaml.safe_load(consent.read_text("utf-8"))
    item_id = data["items"][1]["id"]
    _edit(consent, lambda d: d["items"][1]["text"].update(
        cy=d["items"][1]["text"]["cy"] + " Gallaf dynnu fy nghaniatâd yn ôl."))
    result = _check(instruments_copy)
    assert result.exit_code == 1
    assert (f"error: {consent}: items[{item_id}].text: Welsh uses 'nghaniatâd', an alternative the glossary "
            f"avoids ('caniatâd'); use 'cydsyniad'") in result.output


def test_an_avoided_term_in_a_superseded_version_only_warns(instruments_copy):
    """Version 1 is immutable and no study serves it: it is reported, not failed."""
    result = _check(instruments_copy)
    assert result.exit_code == 0, result.output
    v1 = instruments_copy / "phase1-consent" / "1.yaml"
    assert f"{v1}: items[voluntary].text: Welsh uses 'nghaniatâd'" in result.output
    assert "this superseded version cannot change" in result.output


def test_undecided_terms_are_listed_not_guessed():
    glossary = yaml.safe_load((INSTRUMENTS_DIR / "glossary.yaml").read_text("utf-8"))
    undecided = {t["en"]: t for t in glossary["terms"] if t["status"] == "undecided"}
    assert "Drws Blaen" in undecided["Front Door"]["alternatives"]
    assert "IAA" in undecided
    result = CliRunner().invoke(main, ["instruments", "check"])
    assert "undecided term: Front Door: Drws Ffrynt, Drws Blaen" in result.output


def test_no_served_welsh_text_uses_an_avoided_term():
    catalogue = read_catalogue(INSTRUMENTS_DIR)
    assert [p for p in catalogue.problems if p.severity == "error"] == []


@pytest.mark.parametrize("phrase", ["yn 'Ddrws Ffrynt'", "Polisi'r tîm ymchwil", "Gwasanaeth Prawf",
                                    "Pwy mae'r trefniant yn ei gwmpasu?", "beth sy'n rhwystro gwelliannau?"])
def test_welsh_fixes_are_in_the_served_texts(phrase):
    served = _served(INSTRUMENTS_DIR)
    text = "\n".join(path.read_text("utf-8") for path in served.values())
    assert phrase in text


def test_consent_item_2_is_about_withdrawing_from_the_study_in_the_forms_own_words():
    consent = yaml.safe_load(_served(INSTRUMENTS_DIR)["consent_form"].read_text("utf-8"))
    voluntary = next(item for item in consent["items"] if item["id"] == "voluntary")["text"]
    assert "withdraw from the study" in voluntary["en"] and "withdraw my consent" not in voluntary["en"]
    assert "dynnu'n ôl o'r astudiaeth" in voluntary["cy"]  # "i dynnu": soft mutation after "i"
    welsh = yaml.safe_dump(consent, allow_unicode=True)
    assert "ydsyn" in welsh and not any(form in welsh for form in mutated_forms("caniatâd"))


@pytest.mark.parametrize(("msgid", "welsh"), [
    ("Use no more than %(max)d characters.", "Peidiwch â defnyddio mwy na %(max)d nod."),
    ("Sending so far", "Wedi anfon hyd yma"),
    ("Sent", "Wedi'i anfon"),
    ("Saved %(time)s", "Wedi'i gadw am %(time)s"),
    ("Safeguarding research in Wales", "Ymchwil ar ddiogelu yng Nghymru"),  # the Welsh sender name
])
def test_interface_welsh_fixes(msgid, welsh):
    from babel.messages.pofile import read_po

    from surveyapp.config import TRANSLATIONS_DIR

    with (TRANSLATIONS_DIR / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        message = read_po(fh, locale="cy").get(msgid)
    assert message is not None and not message.fuzzy
    assert message.string == welsh
