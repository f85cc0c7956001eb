"""Saving answers and submitting. Every write goes through the consent gate."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.consent.services import require_consent
from surveyapp.db import db, utcnow
from surveyapp.errors import AlreadySubmitted, DomainError
from surveyapp.instruments.model import Survey
from surveyapp.instruments.services import survey_version
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses.answers import answer_problem, clean, is_answered, prepare
from surveyapp.responses.models import Answer, Response

# No 0/O, 1/I/L: easy to read aloud or copy from a screen.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


# One cleaning path for answers (kept under its old name for callers).
normalise = clean

# A response's ``updated_at`` (its last activity) is kept to within this much: an autosave
# every few seconds does not also rewrite the response row each time. Each answer keeps its
# own exact ``updated_at``.
RESPONSE_TOUCH_INTERVAL = timedelta(minutes=1)


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
    if response is not None:
        # A response's version is the one it was started on, and a used version never changes.
        return survey_version(response.survey_id, response.content_hash)
    version = participant.study.survey
    return survey_version(version.id, version.content_hash, version)


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
    # One answer (an autosave) is written without reading it first; a page of them is read
    # in one statement, so the answers that did not change cost nothing more.
    stored = _read_stored(response) if len(values) > 1 else None
    for key, value in values.items():
        base = (base_revisions or {}).get(key)
        if stored is None:
            revision = _write_on_base(response, key, value, base, now) if base else None
            if revision is not None:
                result.revisions[key] = revision
                continue
            if base == 0 and value is not None and _insert(response, key, value, now):
                result.revisions[key] = 1
                continue
            answer = _read_stored(response, key).get(key)
        else:
            answer = stored.get(key)
        _save_against_stored(response, key, value, base, now, result, answer)
    if response.updated_at is None or now - response.updated_at >= RESPONSE_TOUCH_INTERVAL:
        response.updated_at = now
    db.session.flush()
    return result


@functools.cache
def _update_on_base(returning: bool) -> sa.Update:
    """The conditional UPDATE of one answer, built once per process (it is immutable): at the
    revision the change was based on, and only if the value differs (compared as stored JSON
    text), returning the new revision where the database can."""
    answer = Answer.__table__
    new_value = sa.bindparam("new_value", type_=sa.JSON)
    statement = (
        sa.update(answer)
        .where(answer.c.response_id == sa.bindparam("of_response"),
               answer.c.question_key == sa.bindparam("of_question"),
               answer.c.revision == sa.bindparam("on_revision"),
               sa.cast(answer.c.value, sa.Text) != sa.cast(new_value, sa.Text))
        .values(value=new_value, revision=answer.c.revision + 1, updated_at=sa.bindparam("saved_at"))
    )
    return statement.returning(answer.c.revision) if returning else statement


def _write_on_base(response: Response, key: str, value: Any, base: int, now: datetime) -> int | None:
    """The usual save: one conditional UPDATE of the answer at the revision the change was
    based on, returning the new revision; None when it changed nothing (no such row, a newer
    revision stored, or the same value already there), for ``_save_against_stored`` to sort out."""
    returning = db.session.get_bind().dialect.update_returning
    params = {"of_response": response.id, "of_question": key, "on_revision": base, "new_value": value,
              "saved_at": now}
    result = db.session.execute(_update_on_base(returning), params)
    if returning:
        return result.scalar()
    return base + 1 if result.rowcount else None


# Dialects whose INSERT can skip a row that is already there (ON CONFLICT DO NOTHING).
_SKIPPING_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _insert(response: Response, key: str, value: Any, now: datetime) -> bool:
    """The first answer to a question; False when a row was there already (another tab):
    the row's unique key plays the revision's part."""
    row = {"response_id": response.id, "question_key": key, "value": value, "revision": 1, "updated_at": now}
    insert = _SKIPPING_INSERT.get(db.session.get_bind().dialect.name)
    if insert is not None:
        statement = insert(Answer).values(row).on_conflict_do_nothing(
            index_elements=[Answer.response_id, Answer.question_key]).returning(Answer.id)
        return db.session.execute(statement).first() is not None
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(Answer).values(row))
    except IntegrityError:
        return False
    return True


def _read_stored(response: Response, key: str | None = None) -> dict[str, Answer]:
    """The stored answer rows (or one), as they are now, whatever this session loaded before."""
    query = sa.select(Answer).where(Answer.response_id == response.id)
    if key is not None:
        query = query.where(Answer.question_key == key)
    rows = db.session.scalars(query.execution_options(populate_existing=True))
    return {answer.question_key: answer for answer in rows}


def _save_against_stored(response: Response, key: str, value: Any, base: int | None, now: datetime,
                         result: SaveResult, answer: Answer | None) -> None:
    """Save one answer against its stored row, read just before: the same value is no change,
    a newer revision than ``base`` is a conflict, and the write is still conditional on the
    revision read (another request may have written since)."""
    if answer is None:
        if value is None:
            return
        if _insert(response, key, value, now):
            result.revisions[key] = 1
            return
        answer = _read_stored(response, key)[key]
        result.conflicts[key] = _conflict(answer)  # created meanwhile by another tab
        return
    if answer.value == value:
        result.revisions[key] = answer.revision
        return
    if base is not None and base != answer.revision:
        result.conflicts[key] = _conflict(answer)
        return
    revision = _write_on_base(response, key, value, answer.revision, now)
    if revision is not None:
        result.revisions[key] = revision
        return
    result.conflicts[key] = _conflict(_read_stored(response, key)[key])


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
        questions = survey_version(response.survey_id, response.content_hash).questions
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
            audit(kinds.SUBMITTED, participant_id=participant.id, pid=participant.pid,
                  survey=response.survey.key, version=response.survey.version,
                  answers=len(response.answers))
        db.session.flush()
        db.session.refresh(response)
        db.session.refresh(participant)
    return participant
