"""Saving answers and submitting. Every write goes through the consent gate."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from surveyapp.consent.services import require_consent
from surveyapp.db import db, utcnow
from surveyapp.errors import AlreadySubmitted, DomainError
from surveyapp.instruments.model import Survey
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses.models import Answer, Response

# No 0/O, 1/I/L: easy to read aloud or copy from a screen.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def normalise(value: Any) -> Any:
    """NFC-normalise text so that ŵ typed two ways is stored one way; LF line ends."""
    if isinstance(value, str):
        # Browsers send textarea line ends as CRLF; store what was typed, with LF.
        return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def find_response(participant: Participant) -> Response | None:
    """The participant's response, whichever schedule version it was started on (the ORM
    loads it once per request through ``participant.responses``)."""
    responses = participant.responses
    return responses[-1] if responses else None


def survey_for(participant: Participant) -> Survey:
    """The schedule this participant answers: the version their response was started on
    (a newer version published meanwhile does not move them), else the study's current one."""
    response = find_response(participant)
    return (response.survey if response is not None else participant.study.survey).as_survey()


def saved_state(participant: Participant) -> dict[str, Answer]:
    """Every stored answer row, cleared ones included (they keep their revision)."""
    response = find_response(participant)
    return {} if response is None else {a.question_key: a for a in response.answers}


def saved_answers(participant: Participant) -> dict[str, Any]:
    return {key: a.value for key, a in saved_state(participant).items() if a.value is not None}


@dataclass(frozen=True)
class Conflict:
    """A save based on an older revision than the stored one, with different text."""

    key: str
    revision: int
    value: Any
    updated_at: datetime


@dataclass
class SaveResult:
    revisions: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    saved_at: datetime | None = None


def _response_for(participant: Participant, consent_id: int) -> Response:
    response = find_response(participant)
    if response is not None:
        return response
    survey_version = participant.study.survey
    try:
        with db.session.begin_nested():
            response = Response(participant=participant, survey=survey_version,
                                content_hash=survey_version.content_hash, consent_record_id=consent_id)
            db.session.add(response)
    except IntegrityError:  # another request created it first
        response = find_response(participant)
    return response


def _conflict(answer: Answer) -> Conflict:
    return Conflict(answer.question_key, answer.revision, answer.value, answer.updated_at)


def save_answers(
    participant: Participant,
    values: dict[str, Any],
    base_revisions: dict[str, int] | None = None,
) -> SaveResult:
    """Store answers (``None`` clears one). Refused without consent or after submission.

    With ``base_revisions``, an answer whose stored revision is newer than the one the
    change was based on is not overwritten: it comes back as a conflict for the person to
    choose. Writes are conditional on the revision, so two tabs racing cannot both win.
    """
    consent = require_consent(participant)
    known = survey_for(participant).questions
    unknown = set(values) - set(known)
    if unknown:
        raise DomainError(f"unknown questions: {sorted(unknown)}")

    response = _response_for(participant, consent.id)
    if response.submitted_at is not None:
        raise AlreadySubmitted(f"response {response.id} was submitted")

    now = utcnow()
    result = SaveResult(saved_at=now)
    existing = {a.question_key: a for a in response.answers}
    for key, value in values.items():
        value = normalise(value)
        base = (base_revisions or {}).get(key)
        answer = existing.get(key)
        if answer is None:
            if value is None:
                continue
            try:
                with db.session.begin_nested():
                    answer = Answer(response=response, question_key=key, value=value, updated_at=now)
                    db.session.add(answer)
                result.revisions[key] = answer.revision
            except IntegrityError:  # created meanwhile by another tab
                answer = db.session.scalar(sa.select(Answer).where(
                    Answer.response_id == response.id, Answer.question_key == key))
                result.conflicts[key] = _conflict(answer)
            continue
        if answer.value == value:
            result.revisions[key] = answer.revision
            continue
        if base is not None and base != answer.revision:
            result.conflicts[key] = _conflict(answer)
            continue
        updated = db.session.execute(
            sa.update(Answer)
            .where(Answer.id == answer.id, Answer.revision == answer.revision)
            .values(value=value, revision=Answer.revision + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(answer)
        if updated:
            result.revisions[key] = answer.revision
        else:
            result.conflicts[key] = _conflict(answer)
    response.updated_at = now
    db.session.flush()
    return result


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
