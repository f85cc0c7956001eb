from __future__ import annotations

import sqlalchemy as sa

from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.participant.services import create_participant
from surveyapp.studies.models import Study


def consent_someone(app, browser=None):
    with app.app_context():
        study = db.session.scalar(sa.select(Study))
        participant, _ = create_participant(study, source="open", language="en")
        record_consent(participant, {i.id: True for i in study.consent_form.as_consent_form().items},
                       language="en")
        db.session.commit()
