"""A survey version someone has answered cannot be edited: loading refuses, and the stored
text and hash stay as they were (read back, not taken from the refusal).

Only a response records use of a survey version (consent is recorded against the consent
form), so ``is_used`` must count responses for these to pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from flask.cli import ScriptInfo

from surveyapp.cli import main
from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.errors import InstrumentChanged
from surveyapp.instruments.loader import read_catalogue
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.instruments.services import is_used, load_catalogue
from surveyapp.participant.services import create_participant
from surveyapp.responses import services as responses
from surveyapp.responses.models import Response
from surveyapp.studies.models import Study

SURVEY = ("phase1-front-door", 2)  # the version the shipped study serves


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def _stored(app) -> tuple[str, dict]:
    with app.app_context():
        row = db.session.scalar(sa.select(InstrumentVersion).where(
            InstrumentVersion.key == SURVEY[0], InstrumentVersion.version == SURVEY[1]))
        return row.content_hash, row.content


@pytest.fixture
def answered(app, instruments_copy):
    """The copied catalogue loaded, and one participant's response started on survey v2."""
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        study = db.session.scalar(sa.select(Study))
        participant, _ = create_participant(study, source="open", language="en")
        record_consent(participant, {i.id: True for i in study.consent_form.as_consent_form().items},
                       language="en")
        responses.save_answers(participant, {"aims": "Protect people"})
        db.session.commit()
        assert (study.survey.key, study.survey.version) == SURVEY
    return instruments_copy


def _change_a_question(root: Path) -> None:
    def change(data):
        data["sections"][1]["questions"][0]["text"]["en"] = "Quietly reworded question"
    _edit(root / SURVEY[0] / f"{SURVEY[1]}.yaml", change)


def test_a_survey_version_with_a_response_refuses_a_changed_file(app, answered):
    before = _stored(app)
    with app.app_context():
        version = db.session.scalar(sa.select(InstrumentVersion).where(InstrumentVersion.key == SURVEY[0],
                                                                       InstrumentVersion.version == SURVEY[1]))
        assert is_used(version)
        response_hash = db.session.scalar(sa.select(Response.content_hash))
    assert response_hash == before[0]

    _change_a_question(answered)
    changed = read_catalogue(answered).find(*SURVEY)
    assert changed.content_hash != before[0]
    with app.app_context():
        with pytest.raises(InstrumentChanged, match=r"phase1-front-door v2 has already been used"):
            load_catalogue(read_catalogue(answered))
        db.session.rollback()

    assert _stored(app) == before
    assert before[1]["sections"][1]["questions"][0]["text"]["en"] != "Quietly reworded question"


def test_the_load_command_refuses_it_too_and_leaves_the_hash(app, make_app, answered):
    before = _stored(app)
    _change_a_question(answered)
    cli_app = make_app(INSTRUMENTS_DIR=str(answered))
    result = CliRunner().invoke(main, ["instruments", "load"], obj=ScriptInfo(create_app=lambda: cli_app))
    assert result.exit_code == 1, result.output
    assert "phase1-front-door v2 has already been used" in result.output
    assert _stored(app) == before


def test_adding_a_length_limit_to_an_answered_version_is_refused(app, answered):
    """A stated max_length is part of the question (and of its hash); the defaults are not."""
    before = _stored(app)

    def change(data):
        data["sections"][1]["questions"][0]["max_length"] = 2000
    _edit(answered / SURVEY[0] / f"{SURVEY[1]}.yaml", change)
    with app.app_context():
        with pytest.raises(InstrumentChanged):
            load_catalogue(read_catalogue(answered))
        db.session.rollback()
    assert _stored(app) == before
