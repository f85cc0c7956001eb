"""Progress at a glance: each nominee's status, coverage of the 22 authorities, the counts
the Phase 1 report's Methodology gives (approached, engaged, included)."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from surveyapp.db import db
from surveyapp.invitations.models import Batch, Message, MessageKind, MessageStatus
from surveyapp.invitations.services import DELIVERED
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.reference import local_authorities
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
    WITHDRAWN = "withdrawn"  # set once withdrawal is recorded (a later issue)


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


class Coverage(enum.StrEnum):
    COVERED = "covered"
    PARTLY = "partly"
    MISSING = "missing"


COVERAGE_TITLES = {
    Coverage.COVERED: _l("Covered"),
    Coverage.PARTLY: _l("Partly covered"),
    Coverage.MISSING: _l("Missing"),
}
SERVICES = ("children", "adults")


@dataclass(frozen=True)
class NomineeProgress:
    nominee: Nominee
    status: NomineeStatus


def nominee_progress(study: Study) -> list[NomineeProgress]:
    """Every nominee with a status derived from messages, the participant and answers."""
    nominees = db.session.scalars(
        sa.select(Nominee).where(Nominee.study_id == study.id).options(selectinload(Nominee.participant))
        .order_by(Nominee.la_code, Nominee.name)).all()
    invitations = (sa.select(Message.nominee_id, Message.status).join(Batch)
                   .where(Batch.study_id == study.id, Message.kind == MessageKind.INVITATION.value))
    outcomes: dict[int, set[str]] = {}
    for nominee_id, message_status in db.session.execute(invitations):
        outcomes.setdefault(nominee_id, set()).add(message_status)
    answering = set(db.session.scalars(
        sa.select(Response.participant_id).join(Answer)
        .join(Participant, Participant.id == Response.participant_id)
        .where(Participant.study_id == study.id, Answer.value.is_not(None)).distinct()))
    result = []
    for nominee in nominees:
        participant = nominee.participant
        # What they gave counts first: someone who consented and then opted out of emails
        # is still engaged, and their return still counts.
        if participant.status == ParticipantStatus.SUBMITTED:
            status = NomineeStatus.SUBMITTED
        elif participant.status == ParticipantStatus.CONSENTED:
            status = NomineeStatus.IN_PROGRESS if participant.id in answering else NomineeStatus.CONSENTED
        elif nominee.declined_at is not None or participant.status in (ParticipantStatus.DECLINED,
                                                                       ParticipantStatus.REFUSED):
            status = NomineeStatus.DECLINED
        elif participant.opened_at is not None:
            status = NomineeStatus.OPENED
        elif outcomes.get(nominee.id, set()) & set(DELIVERED):
            status = NomineeStatus.INVITED
        elif MessageStatus.FAILED.value in outcomes.get(nominee.id, set()):
            status = NomineeStatus.FAILED
        else:
            status = NomineeStatus.NOT_INVITED
        result.append(NomineeProgress(nominee, status))
    return result


@dataclass(frozen=True)
class AuthorityCoverage:
    code: str
    children: Coverage
    adults: Coverage
    whole_area: Coverage  # a return speaking for the whole area (it also counts for both)
    overall: Coverage


def _area_of(study: Study) -> dict[int, tuple[str, str]]:
    """(LA code, service area) for each participant: what they told us in the survey if they
    did, else what their nomination said."""
    areas = {n.participant_id: (n.la_code, n.service_area)
             for n in db.session.scalars(sa.select(Nominee).where(Nominee.study_id == study.id))}
    rows = db.session.execute(
        sa.select(Response.participant_id, Answer.question_key, Answer.value).join(Answer)
        .join(Participant, Participant.id == Response.participant_id)
        .where(Participant.study_id == study.id, Answer.question_key.in_(("la_code", "service_area"))))
    told: dict[int, dict[str, str]] = {}
    for participant_id, key, value in rows:
        if isinstance(value, str):
            told.setdefault(participant_id, {})[key] = value
    for participant_id, answers in told.items():
        la, service = areas.get(participant_id, (None, None))
        areas[participant_id] = (answers.get("la_code", la), answers.get("service_area", service))
    return areas


def coverage(study: Study) -> dict[str, AuthorityCoverage]:
    """Per authority and service: covered by a submission, partly (someone consented and
    answering), or missing. A whole-area return covers both children and adults."""
    statuses = dict(db.session.execute(
        sa.select(Participant.id, Participant.status).where(Participant.study_id == study.id)).all())
    level: dict[tuple[str, str], Coverage] = {}
    rank = {Coverage.MISSING: 0, Coverage.PARTLY: 1, Coverage.COVERED: 2}
    for participant_id, (la, service) in _area_of(study).items():
        status = statuses.get(participant_id)
        if status == ParticipantStatus.SUBMITTED:
            state = Coverage.COVERED
        elif status == ParticipantStatus.CONSENTED:
            state = Coverage.PARTLY
        else:
            continue
        for part in ((*SERVICES, service) if service == "whole_area" else (service,)):
            if rank[state] > rank[level.get((la, part), Coverage.MISSING)]:
                level[(la, part)] = state
    result = {}
    for code in local_authorities():
        children = level.get((code, "children"), Coverage.MISSING)
        adults = level.get((code, "adults"), Coverage.MISSING)
        if children == adults == Coverage.COVERED:
            overall = Coverage.COVERED
        elif children == adults == Coverage.MISSING:
            overall = Coverage.MISSING
        else:
            overall = Coverage.PARTLY
        whole_area = level.get((code, "whole_area"), Coverage.MISSING)
        result[code] = AuthorityCoverage(code, children, adults, whole_area, overall)
    return result


@dataclass(frozen=True)
class Counts:
    nominated: int
    approached: int
    engaged: int
    included: int
    by_status: Counter


def counts(progress: list[NomineeProgress], study: Study) -> Counts:
    """As the report's Methodology counts them: approached (an invitation went), engaged
    (consented and took part at least in part), included (submitted)."""
    by_status = Counter(p.status for p in progress)
    approached = sum(n for s, n in by_status.items() if s not in (NomineeStatus.NOT_INVITED, NomineeStatus.FAILED))
    open_link = dict(db.session.execute(
        sa.select(Participant.status, sa.func.count()).where(
            Participant.study_id == study.id, Participant.source == "open").group_by(Participant.status)).all())
    engaged = (by_status[NomineeStatus.CONSENTED] + by_status[NomineeStatus.IN_PROGRESS]
               + by_status[NomineeStatus.SUBMITTED]
               + open_link.get(ParticipantStatus.CONSENTED.value, 0)
               + open_link.get(ParticipantStatus.SUBMITTED.value, 0))
    included = by_status[NomineeStatus.SUBMITTED] + open_link.get(ParticipantStatus.SUBMITTED.value, 0)
    return Counts(len(progress), approached, engaged, included, by_status)
