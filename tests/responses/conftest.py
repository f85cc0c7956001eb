"""A participant ready to answer the shipped study."""

from __future__ import annotations

import pytest

from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.participant.services import create_participant
from surveyapp.studies.models import Study


@pytest.fixture
def consented(app, study) -> int:
    """The id of a participant who has consented to the shipped study and not yet answered."""
    with app.app_context():
        row = db.session.get(Study, study.id)
        participant, _ = create_participant(row, source="open", language="en")
        record_consent(participant, {i.id: True for i in row.consent_form.as_consent_form().items},
                       language="en")
        db.session.commit()
        return participant.id
