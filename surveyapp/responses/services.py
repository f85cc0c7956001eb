"""Saving answers and submitting. Every write goes through the consent gate."""

from __future__ import annotations

import secrets
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
from surveyapp.responses.answers import answer_problem, clean, is_answered, prepare
from surveyapp.responses.models import Answer, Response

# No 0/O, 1/I/L: easy to read aloud or copy from a screen.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


# One cleaning path for answers (kept under its old name for callers).
normalise = clean


class AnswerRejected(DomainError):
    """Answers that cannot be stored (too long, control characters, not an option...).
    ``problems`` maps each question key to a message for the participant, translated when
    shown (lazy strings). Nothing was written."""

    def __init__(self, problems: dict[str, Any]):
        self.problems = problems
        super().__init__(f"answers refused: {sorted(problems)}")


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
    """The answers that answer something: a stored value showing no visible character (kept
    from before such values were stored as empty) counts as not answered."""
    return {key: a.value for key, a in saved_state(participant).items() if is_answered(a.value)}


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

    Text is NFC-normalised, and text showing no visible character is stored as empty. A
    value the question cannot take (over its length limit, a control character, a number
    out of range, not an option) raises ``AnswerRejected`` and nothing is written.

    With ``base_revisions``, an answer whose stored revision is newer than the one the
    change was based on is not overwritten: it comes back as a conflict for the person to
    choose. Writes are conditional on the revision, so two tabs racing cannot both win.
    """
    consent = require_consent(participant)
    known = survey_for(participant).questions
    unknown = set(values) - set(known)
    if unknown:
        raise DomainError(f"unknown questions: {sorted(unknown)}")
    values = {key: prepare(known[key], value) for key, value in values.items()}
    problems = {key: problem for key, value in values.items()
                if (problem := answer_problem(known[key], value)) is not None}
    if problems:
        raise AnswerRejected(problems)

    response = _response_for(participant, consent.id)
    if response.submitted_at is not None:
        raise AlreadySubmitted(f"response {response.id} was submitted")

    now = utcnow()
    result = SaveResult(saved_at=now)
    existing = {a.question_key: a for a in response.answers}
    for key, value in values.items():
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
    """Submit once. A second submit (double click, second tab) changes nothing.

    Stored answers are checked against the survey's limits again (an answer stored before a
    limit existed is refused with ``AnswerRejected``, naming its question)."""
    require_consent(participant)
    response = find_response(participant)
    if response is None:
        raise DomainError("nothing to submit")
    if response.submitted_at is None:
        questions = response.survey.as_survey().questions
        problems = {a.question_key: problem for a in response.answers if a.question_key in questions
                    and (problem := answer_problem(questions[a.question_key], a.value)) is not None}
        if problems:
            raise AnswerRejected(problems)
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
