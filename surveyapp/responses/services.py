"""Saving answers and submitting. Every write goes through the consent gate."""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any

import sqlalchemy as sa

from surveyapp.consent.services import require_consent
from surveyapp.db import db, utcnow
from surveyapp.errors import AlreadySubmitted, DomainError
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses.models import Answer, Response

# No 0/O, 1/I/L: easy to read aloud or copy from a screen.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def normalise(value: Any) -> Any:
    """NFC-normalise text so that ŵ typed two ways is stored one way."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def find_response(participant: Participant) -> Response | None:
    return db.session.scalar(
        sa.select(Response).where(Response.participant_id == participant.id,
                                  Response.survey_id == participant.study.survey_id)
    )


def saved_answers(participant: Participant) -> dict[str, Any]:
    response = find_response(participant)
    if response is None:
        return {}
    return {a.question_key: a.value for a in response.answers}


def save_answers(participant: Participant, values: dict[str, Any]) -> Response:
    """Store answers (``None`` clears one). Refused without consent or after submission."""
    consent = require_consent(participant)
    survey_version = participant.study.survey
    known = survey_version.as_survey().questions
    unknown = set(values) - set(known)
    if unknown:
        raise DomainError(f"unknown questions: {sorted(unknown)}")

    response = find_response(participant)
    if response is None:
        response = Response(participant_id=participant.id, survey=survey_version,
                            content_hash=survey_version.content_hash, consent_record_id=consent.id)
        db.session.add(response)
        db.session.flush()
    if response.submitted_at is not None:
        raise AlreadySubmitted(f"response {response.id} was submitted")

    now = utcnow()
    existing = {a.question_key: a for a in response.answers}
    for key, value in values.items():
        value = normalise(value)
        answer = existing.get(key)
        if value is None:
            if answer is not None:
                response.answers.remove(answer)
            continue
        if answer is None:
            response.answers.append(Answer(question_key=key, value=value, updated_at=now))
        elif answer.value != value:
            answer.value = value
            answer.revision += 1
            answer.updated_at = now
    response.updated_at = now
    db.session.flush()
    return response


def new_reference() -> str:
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{body[:4]}-{body[4:]}"


def submit(participant: Participant) -> Participant:
    """Submit once. A second submit (double click, second tab) changes nothing."""
    require_consent(participant)
    response = find_response(participant)
    if response is None:
        raise DomainError("nothing to submit")
    if response.submitted_at is None:
        now = utcnow()
        # A conditional UPDATE makes concurrent submits safe: only one can win.
        won = db.session.execute(
            sa.update(Response)
            .where(Response.id == response.id, Response.submitted_at.is_(None))
            .values(submitted_at=now)
        ).rowcount
        if won:
            participant.status = ParticipantStatus.SUBMITTED.value
            participant.submitted_at = now
            participant.reference = new_reference()
        db.session.flush()
        db.session.refresh(response)
        db.session.refresh(participant)
    return participant
