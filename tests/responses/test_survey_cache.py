"""Each stored survey version is parsed once per process (keyed by its id and content hash),
and an unused version whose text is edited is served its new text at once."""

from __future__ import annotations

import sqlalchemy as sa
import yaml

from surveyapp.db import db
from surveyapp.instruments.loader import read_catalogue
from surveyapp.instruments.services import load_catalogue
from surveyapp.participant.services import create_participant
from surveyapp.responses import services as responses
from surveyapp.studies.models import Study


def _survey_title(app) -> tuple[object, str]:
    with app.app_context():
        participant, _ = create_participant(db.session.scalar(sa.select(Study)), source="open")
        survey = responses.survey_for(participant)
        db.session.rollback()
        return survey, survey.title["en"]


def test_a_version_is_parsed_once_and_an_edit_is_seen(app, instruments_copy):
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
    first, title = _survey_title(app)
    again, _ = _survey_title(app)
    assert again is first  # the same parsed object, from another request's session

    path = instruments_copy / "phase1-front-door" / "2.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["title"]["en"] = "An edited title, before anyone answered"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))  # unused: edited in place, new hash
        db.session.commit()
    edited, edited_title = _survey_title(app)
    assert edited is not first and edited_title == "An edited title, before anyone answered" != title
