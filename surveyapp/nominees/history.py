"""What has happened to one nominee, in time order, built from the rows that record it.

Nothing here is a separate log that could disagree with the records: each email is its
message row, the link opened and submitted are the participant's times, consent is its
consent records, answers are the response's first and last save, declined is the nominee's
own record, a withdrawal is its withdrawal row. The whole history costs a fixed number of queries, however many emails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager

from surveyapp.accounts.models import User
from surveyapp.consent.models import ConsentRecord
from surveyapp.db import db
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.invitations.models import Batch, Message, MessageKind
from surveyapp.invitations.outcomes import Outcome, describe
from surveyapp.invitations.services import RESENDABLE
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import LinkEmail, Participant
from surveyapp.responses.models import Response
from surveyapp.withdrawal.models import Withdrawal


class EventKind(enum.StrEnum):
    EMAIL = "email"                # an invitation or a reminder (its kind, language, outcome)
    LINK_EMAIL = "link_email"      # the participant asked for their link by email
    OPENED = "opened"              # opened their personal link
    LANGUAGE = "language"          # the language they use the survey in
    CONSENT = "consent"            # consent given, or refused
    ANSWERS = "answers"            # answers saved (first and last save)
    SUBMITTED = "submitted"
    DECLINED = "declined"          # by the nominee from their link, or marked by a researcher
    WITHDREW = "withdrew"          # withdrew after consenting (scope, how, outcome, any erasure)


# Languages named in the reader's language (a Welsh page says "Saesneg", not "English").
LANGUAGE_NAMES = {
    "cy": _l("Welsh"),
    "en": _l("English"),
    "bilingual": _l("Welsh and English"),
    "unknown": _l("Not known (bilingual, Welsh first)"),
}
EMAIL_KINDS = {MessageKind.INVITATION: _l("Invitation"), MessageKind.REMINDER: _l("Reminder")}

# Within one moment, the order things must have happened in.
_ORDER = {kind: position for position, kind in enumerate(EventKind)}


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: datetime | None  # None only for an email never attempted and with no batch time
    data: dict = field(default_factory=dict)

    @property
    def sort_key(self):
        return (self.at is None, self.at or datetime.min, _ORDER[self.kind])


@dataclass(frozen=True)
class History:
    nominee: Nominee
    events: list[Event]

    @property
    def resendable(self) -> list[int]:
        return [e.data["message"].id for e in self.events if e.kind == EventKind.EMAIL and e.data["resendable"]]


def _emails(nominee: Nominee) -> list[Event]:
    rows = db.session.execute(
        sa.select(Message, Batch.created_at).join(Batch, Batch.id == Message.batch_id)
        .where(Message.nominee_id == nominee.id).order_by(Message.id))
    events = []
    for message, queued_at in rows:
        outcome: Outcome = describe(message)  # the nominee is already in the session: no query
        events.append(Event(EventKind.EMAIL, message.attempted_at or queued_at, {
            "message": message, "outcome": outcome, "attempted": message.attempted_at is not None,
            "resendable": message.status in RESENDABLE}))
    return events


def _participant_events(participant: Participant) -> list[Event]:
    events = [Event(EventKind.LINK_EMAIL, at, {"language": language}) for at, language in db.session.execute(
        sa.select(LinkEmail.sent_at, LinkEmail.language).where(LinkEmail.participant_id == participant.id))]
    if participant.opened_at is not None:
        events.append(Event(EventKind.OPENED, participant.opened_at))
        if participant.language:
            events.append(Event(EventKind.LANGUAGE, participant.opened_at, {"language": participant.language}))
    consents = db.session.execute(
        sa.select(ConsentRecord.recorded_at, ConsentRecord.given, ConsentRecord.language, ConsentRecord.method,
                  InstrumentVersion.key, InstrumentVersion.version)
        .join(InstrumentVersion, InstrumentVersion.id == ConsentRecord.consent_form_id)
        .where(ConsentRecord.participant_id == participant.id))
    events += [Event(EventKind.CONSENT, row.recorded_at, {
        "given": row.given, "language": row.language, "method": row.method, "form": row.key,
        "version": row.version}) for row in consents]
    first, last = db.session.execute(
        sa.select(sa.func.min(Response.started_at), sa.func.max(Response.updated_at))
        .where(Response.participant_id == participant.id)).one()
    if first is not None:
        events.append(Event(EventKind.ANSWERS, first, {"last": last}))
    if participant.submitted_at is not None:
        events.append(Event(EventKind.SUBMITTED, participant.submitted_at, {"reference": participant.reference}))
    return events


def _declined(nominee: Nominee) -> list[Event]:
    if nominee.declined_at is None:
        return []
    by = db.session.scalar(sa.select(User.name).where(User.id == nominee.declined_by_id)) \
        if nominee.declined_by_id is not None else None
    return [Event(EventKind.DECLINED, nominee.declined_at, {"reason": nominee.declined_reason, "by": by})]


def _withdrew(participant: Participant) -> list[Event]:
    withdrawal = db.session.scalar(sa.select(Withdrawal).where(Withdrawal.participant_id == participant.id))
    if withdrawal is None:
        return []
    names = dict(db.session.execute(sa.select(User.id, User.name).where(
        User.id.in_({withdrawal.recorded_by_id, withdrawal.decided_by_id} - {None}))).all()) \
        if withdrawal.recorded_by_id or withdrawal.decided_by_id else {}
    return [Event(EventKind.WITHDREW, withdrawal.requested_at, {
        "scope": withdrawal.scope, "channel": withdrawal.channel, "outcome": withdrawal.outcome,
        "by": names.get(withdrawal.recorded_by_id), "decided_at": withdrawal.decided_at,
        "decided_by": names.get(withdrawal.decided_by_id), "reason": withdrawal.decision_reason,
        "erased_at": withdrawal.erased_at})]


def history(nominee: Nominee) -> History:
    """Every event for ``nominee``, oldest first (an email's time is when it was tried, or
    when its batch was made if it has not been tried yet)."""
    events = (_emails(nominee) + _participant_events(nominee.participant) + _declined(nominee)
              + _withdrew(nominee.participant))
    return History(nominee, sorted(events, key=lambda e: e.sort_key))


def load_nominee(nominee_id: int, study_id: int) -> Nominee | None:
    """The nominee with their participant (one query), or None if not in this study."""
    return db.session.scalar(
        sa.select(Nominee).join(Participant, Participant.id == Nominee.participant_id)
        .options(contains_eager(Nominee.participant))
        .where(Nominee.id == nominee_id, Nominee.study_id == study_id))
