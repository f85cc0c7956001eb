"""A nominee's status, worked out in one place and in SQL, so that the dashboard, the nominee
lists and pages, and the choice of whom to email all agree, at 33 nominees or 10,000.

The status is one CASE expression over the nominee, their participant record and two EXISTS
subqueries (an answer given; an invitation handed over or failed). Lists filter, sort and
count by it in the database, without loading every nominee.

What they gave counts first: someone who consented and then asked for no more emails is still
engaged, and their return still counts.
"""

from __future__ import annotations

import enum
from collections import Counter

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from surveyapp.db import db
from surveyapp.invitations.models import Message, MessageKind, MessageStatus
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses.models import Answer, Response
from surveyapp.studies.models import Study


class NomineeStatus(enum.StrEnum):
    NOT_INVITED = "not_invited"
    INVITED = "invited"
    FAILED = "failed"
    OPENED = "opened"
    CONSENTED = "consented"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # withdrew after consenting (surveyapp.withdrawal)


STATUS_TITLES = {
    NomineeStatus.NOT_INVITED: _l("Not invited"),
    NomineeStatus.INVITED: _l("Invited"),
    NomineeStatus.FAILED: _l("Invitation failed"),
    NomineeStatus.OPENED: _l("Opened the link"),
    NomineeStatus.CONSENTED: _l("Consented"),
    NomineeStatus.IN_PROGRESS: _l("In progress"),
    NomineeStatus.SUBMITTED: _l("Submitted"),
    NomineeStatus.DECLINED: _l("Declined"),
    NomineeStatus.WITHDRAWN: _l("Withdrawn"),
}

# An invitation that reached the mail server, or may have (the sender stopped mid-hand-over).
DELIVERED = (MessageStatus.SENT.value, MessageStatus.SENDING.value, MessageStatus.UNCERTAIN.value)
# Engaged: consented and taking part at least in part (the report's Methodology).
ENGAGED = (NomineeStatus.CONSENTED, NomineeStatus.IN_PROGRESS, NomineeStatus.SUBMITTED)


def _invitation(*statuses: str):
    return sa.exists().where(Message.nominee_id == Nominee.id, Message.kind == MessageKind.INVITATION.value,
                             Message.status.in_(statuses))


def _answering():
    return sa.exists().where(Response.participant_id == Participant.id, Answer.response_id == Response.id,
                             Answer.value.is_not(None))


def status_expression() -> sa.ColumnElement[str]:
    """The status of the nominee in the row, over ``Nominee`` joined to its ``Participant``
    (see ``select_with_status``)."""
    status = Participant.status
    return sa.case(
        (status == ParticipantStatus.WITHDRAWN.value, NomineeStatus.WITHDRAWN.value),
        (status == ParticipantStatus.SUBMITTED.value, NomineeStatus.SUBMITTED.value),
        (status == ParticipantStatus.CONSENTED.value,
         sa.case((_answering(), NomineeStatus.IN_PROGRESS.value), else_=NomineeStatus.CONSENTED.value)),
        (sa.or_(Nominee.declined_at.is_not(None),
                status.in_((ParticipantStatus.DECLINED.value, ParticipantStatus.REFUSED.value))),
         NomineeStatus.DECLINED.value),
        (Participant.opened_at.is_not(None), NomineeStatus.OPENED.value),
        (_invitation(*DELIVERED), NomineeStatus.INVITED.value),
        (_invitation(MessageStatus.FAILED.value), NomineeStatus.FAILED.value),
        else_=NomineeStatus.NOT_INVITED.value,
    )


def select_with_status(study: Study | int, *columns) -> sa.Select:
    """``SELECT <columns>, status FROM nominee JOIN participant`` for one study: the base of
    every list. ``columns`` defaults to the Nominee entity."""
    study_id = study if isinstance(study, int) else study.id
    return (sa.select(*(columns or (Nominee,)), status_expression().label("status"))
            .join(Participant, Participant.id == Nominee.participant_id)
            .where(Nominee.study_id == study_id))


def status_of(nominee: Nominee) -> NomineeStatus:
    return NomineeStatus(db.session.scalar(
        select_with_status(nominee.study_id, Nominee.id).where(Nominee.id == nominee.id)
        .with_only_columns(status_expression())))


def statuses(study: Study, nominee_ids=None) -> dict[int, NomineeStatus]:
    """Nominee id -> status, for the whole study or the ids given."""
    query = select_with_status(study, Nominee.id)
    if nominee_ids is not None:
        query = query.where(Nominee.id.in_(list(nominee_ids)))
    return {pk: NomineeStatus(value) for pk, value in db.session.execute(query)}


def status_counts(study: Study, query: sa.Select | None = None) -> Counter[NomineeStatus]:
    """How many nominees have each status (every status present, zero if none), counted in the
    database. ``query`` is a ``select_with_status`` already filtered, to count a subset."""
    base = (query if query is not None else select_with_status(study, Nominee.id)).subquery()
    rows = db.session.execute(sa.select(base.c.status, sa.func.count()).group_by(base.c.status))
    counts = Counter(dict.fromkeys(NomineeStatus, 0))
    counts.update({NomineeStatus(status): n for status, n in rows})
    return counts
