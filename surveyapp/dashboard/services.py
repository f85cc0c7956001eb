"""Progress at a glance: coverage of the 22 authorities and the counts the Phase 1 report's
Methodology gives (approached, engaged, included). A nominee's status is worked out in
``surveyapp.nominees.status``; this module counts by it."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from surveyapp.db import db
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import ENGAGED, NomineeStatus, status_counts
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.reference import local_authorities
from surveyapp.responses.models import Answer, Response
from surveyapp.studies.models import Study
from surveyapp.withdrawal.services import answers_usable


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
class AuthorityCoverage:
    code: str
    children: Coverage
    adults: Coverage
    whole_area: Coverage  # a return speaking for the whole area (it also counts for both)
    overall: Coverage


def _area_of(study: Study) -> dict[int, tuple[str, str, str]]:
    """(status, LA code, service area) for each participant who consented or submitted (the
    only ones coverage counts): what they told us in the survey if they did, else what their
    nomination said. Columns only, never a row per nominee of the whole study."""
    counted = (Participant.study_id == study.id,
               sa.or_(Participant.status.in_((ParticipantStatus.CONSENTED.value, ParticipantStatus.SUBMITTED.value)),
                      # withdrew, keeping what they gave (or a late request not yet applied)
                      sa.and_(Participant.status == ParticipantStatus.WITHDRAWN.value,
                              answers_usable(Participant))))
    status = sa.case((Participant.submitted_at.is_not(None), ParticipantStatus.SUBMITTED.value),
                     else_=ParticipantStatus.CONSENTED.value)
    rows = db.session.execute(
        sa.select(Participant.id, status, Nominee.la_code, Nominee.service_area)
        .outerjoin(Nominee, Nominee.participant_id == Participant.id).where(*counted))
    areas = {pk: (status, la, service) for pk, status, la, service in rows}
    told = db.session.execute(
        sa.select(Response.participant_id, Answer.question_key, Answer.value).join(Answer)
        .join(Participant, Participant.id == Response.participant_id)
        .where(*counted, Answer.question_key.in_(("la_code", "service_area"))))
    for participant_id, key, value in told:
        if isinstance(value, str) and participant_id in areas:
            status, la, service = areas[participant_id]
            areas[participant_id] = (status, value, service) if key == "la_code" else (status, la, value)
    return areas


def coverage(study: Study) -> dict[str, AuthorityCoverage]:
    """Per authority and service: covered by a submission, partly (someone consented and
    answering), or missing. A whole-area return covers both children and adults."""
    level: dict[tuple[str, str], Coverage] = {}
    rank = {Coverage.MISSING: 0, Coverage.PARTLY: 1, Coverage.COVERED: 2}
    for status, la, service in _area_of(study).values():
        if la is None or service is None:
            continue  # an open-link participant who has not said where they work yet
        state = Coverage.COVERED if status == ParticipantStatus.SUBMITTED else Coverage.PARTLY
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


def counts(study: Study) -> Counts:
    """As the report's Methodology counts them: approached (an invitation went), engaged
    (consented and took part at least in part), included (submitted). Nominees are counted by
    their status (``nominees.status``) in the database; people who came by the open link are
    engaged and included like nominees. Someone who withdrew still counts for what may be
    used (``withdrawal.services.answers_usable``)."""
    by_status = status_counts(study)
    approached = sum(n for s, n in by_status.items() if s not in (NomineeStatus.NOT_INVITED, NomineeStatus.FAILED))
    open_link = dict(db.session.execute(
        sa.select(Participant.status, sa.func.count()).where(
            Participant.study_id == study.id, Participant.source == "open").group_by(Participant.status)).all())
    # Withdrawn participants count only for what may still be used: engaged if they gave
    # answers, included if they submitted, unless they withdrew their answers.
    withdrawn = (Participant.study_id == study.id, Participant.status == ParticipantStatus.WITHDRAWN.value,
                 answers_usable(Participant))
    gave = sa.exists().where(Response.participant_id == Participant.id, Answer.response_id == Response.id)
    withdrawn_engaged, withdrawn_included = db.session.execute(sa.select(
        sa.func.count().filter(gave), sa.func.count().filter(Participant.submitted_at.is_not(None)),
    ).where(*withdrawn)).one()
    engaged = (sum(by_status[s] for s in ENGAGED)
               + open_link.get(ParticipantStatus.CONSENTED.value, 0)
               + open_link.get(ParticipantStatus.SUBMITTED.value, 0) + withdrawn_engaged)
    included = (by_status[NomineeStatus.SUBMITTED] + open_link.get(ParticipantStatus.SUBMITTED.value, 0)
                + withdrawn_included)
    return Counts(sum(by_status.values()), approached, engaged, included, by_status)

