"""Instrument files: schema, the check command and immutability of used versions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from flask.cli import ScriptInfo

from surveyapp.cli import main
from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.instruments.loader import read_catalogue


def _run(*args):
    return CliRunner().invoke(main, ["instruments", "check", *args])


def _edit(path: Path, change):
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def test_shipped_instruments_pass_the_check():
    result = _run()
    assert result.exit_code == 0, result.output
    assert "OK: 7 file(s) checked" in result.output
    assert "still marked draft" in result.output  # honest about translator review


def test_missing_welsh_string_fails_naming_file_and_key(instruments_copy):
    survey = instruments_copy / "phase1-front-door" / "1.yaml"
    _edit(survey, lambda d: d["sections"][1]["questions"][0]["text"].pop("cy"))
    key = yaml.safe_load(survey.read_text("utf-8"))["sections"][1]["questions"][0]["key"]
    result = _run(str(instruments_copy))
    assert result.exit_code == 1
    assert str(survey) in result.output
    assert f"questions[{key}].text: missing 'cy' text" in result.output


def test_broken_show_if_is_reported(instruments_copy):
    survey = instruments_copy / "phase1-front-door" / "1.yaml"

    def break_it(data):
        data["sections"][0]["questions"][0]["show_if"] = {"question": "covid_impact_practice", "equals": "x"}

    _edit(survey, break_it)
    result = _run(str(instruments_copy))
    assert result.exit_code == 1
    assert "show_if: refers to 'covid_impact_practice', which is not a question in an earlier section" in result.output


def test_show_if_to_a_missing_option_is_reported(instruments_copy):
    survey = instruments_copy / "phase1-front-door" / "1.yaml"
    data = yaml.safe_load(survey.read_text("utf-8"))
    target = next(q for s in data["sections"] for q in s["questions"] if q.get("show_if"))

    def break_it(d):
        for s in d["sections"]:
            for q in s["questions"]:
                if q["key"] == target["key"]:
                    q["show_if"] = {"question": target["show_if"]["question"], "equals": "nonsense"}

    _edit(survey, break_it)
    result = _run(str(instruments_copy))
    assert result.exit_code == 1
    assert "'nonsense' is not an option code" in result.output


def test_schema_errors_name_the_place(instruments_copy):
    consent = instruments_copy / "phase1-consent" / "1.yaml"
    _edit(consent, lambda d: d["items"][0].pop("required"))
    result = _run(str(instruments_copy))
    assert result.exit_code == 1
    assert f"{consent}: items/0: 'required' is a required property" in result.output


def test_strict_fails_on_draft_welsh():
    assert _run("--strict").exit_code == 1


def test_hash_ignores_formatting_but_not_content(instruments_copy):
    survey = instruments_copy / "phase1-front-door" / "1.yaml"
    before = read_catalogue(instruments_copy).find("phase1-front-door", 1).content_hash
    _edit(survey, lambda d: None)  # re-serialised: different YAML text, same content
    assert read_catalogue(instruments_copy).find("phase1-front-door", 1).content_hash == before
    _edit(survey, lambda d: d["title"].update(en=d["title"]["en"] + "!"))
    assert read_catalogue(instruments_copy).find("phase1-front-door", 1).content_hash != before


def test_shipped_survey_covers_the_report(app):
    survey = read_catalogue(INSTRUMENTS_DIR).find("phase1-front-door", 1).content
    questions = {q["key"]: q for s in survey["sections"] for q in s["questions"]}
    assert len(survey["sections"]) == 6
    assert len(questions["la_code"]["options"]) == 22
    assert {o["code"] for o in questions["service_area"]["options"]} == {"children", "adults", "whole_area"}
    systems = {o["code"] for o in questions["information_systems"]["options"]}
    assert {"WCCIS", "MHUB", "PARIS", "CareFirst", "Egress", "WASPI"} <= systems
    assert questions["information_systems"]["other"] is True
    agencies = {o["code"] for o in questions["agencies_involved"]["options"]}
    assert {"health", "police", "education", "youth_offending", "probation", "housing"} <= agencies
    for row in ("children", "adults", "early_prevention", "domestic_abuse", "missing_persons"):
        assert questions[f"support_{row}"]["type"] == "single_choice"
    for key in ("aims", "working_well", "improvements", "mash_views", "covid_impact_practice",
                "referrals_per_year", "team_size", "co_location", "process_formality", "step_up_down"):
        assert key in questions


@pytest.fixture
def loaded(app, instruments_copy):
    from surveyapp.db import db
    from surveyapp.instruments.services import load_catalogue

    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
    return instruments_copy


def _load(app, root):
    from surveyapp.db import db
    from surveyapp.instruments.services import load_catalogue

    with app.app_context():
        try:
            return load_catalogue(read_catalogue(root))
        finally:
            db.session.commit()


def test_editing_an_unused_version_updates_it(app, loaded):
    _edit(loaded / "phase1-front-door" / "1.yaml", lambda d: d["title"].update(en="Renamed"))
    report = _load(app, loaded)
    assert report.updated == ["phase1-front-door v1"]


def test_editing_a_used_version_is_refused(app, make_app, loaded, browser):
    from surveyapp.errors import InstrumentChanged

    from .conftest_helpers import consent_someone

    consent_someone(app, browser)
    consent = loaded / "phase1-consent" / "2.yaml"  # the version the study serves
    _edit(consent, lambda d: d["items"][0]["text"].update(en="Quietly changed"))
    with pytest.raises(InstrumentChanged, match=r"already been used .* new version file \(for example 3.yaml"):
        _load(app, loaded)
    # The CLI says the same in words, and exits non-zero.
    cli_app = make_app(INSTRUMENTS_DIR=str(loaded))
    result = CliRunner().invoke(main, ["instruments", "load"], obj=ScriptInfo(create_app=lambda: cli_app))
    assert result.exit_code == 1, result.output
    assert "cannot be edited" in result.output
