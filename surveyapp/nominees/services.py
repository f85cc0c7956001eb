"""Adding, importing and editing nominees. Each nominee gets a participant and a link."""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa

from surveyapp import text
from surveyapp.db import db
from surveyapp.errors import DomainError
from surveyapp.nominees.models import NAME_LENGTH, ROLE_LENGTH, Nominee
from surveyapp.participant.services import create_linked_participant
from surveyapp.studies.models import Study


class DuplicateNominee(DomainError):
    pass


@dataclass(frozen=True)
class NomineeData:
    name: str
    email: str
    la_code: str
    service_area: str
    agency: str
    role: str
    preferred_language: str


def _cleaned(data: NomineeData) -> NomineeData:
    """The one normalisation path once more (the form and the importer have used it already,
    so this changes nothing for them): whoever calls, the database never sees a control
    character, an over-long value or an address in another form. Raises text.TextRefused."""
    return replace(data, name=text.clean_line(data.name, max_length=NAME_LENGTH),
                   email=text.normalise_email(data.email),
                   role=text.clean_line(data.role, max_length=ROLE_LENGTH))


def existing_emails(study: Study) -> frozenset[str]:
    return frozenset(db.session.scalars(sa.select(Nominee.email).where(Nominee.study_id == study.id)))


def add_nominee(study: Study, data: NomineeData, link_key: str, *, taken: set[str] | None = None) -> Nominee:
    """Add one nominee. ``taken``, the study's emails kept by the caller, saves a query per
    nominee when adding many; it is updated here."""
    data = _cleaned(data)
    email = data.email
    if taken is None:
        taken = set(existing_emails(study))
    if email in taken:
        raise DuplicateNominee(email)
    taken.add(email)
    language = data.preferred_language if data.preferred_language in ("cy", "en") else None
    participant, nonce = create_linked_participant(study, link_key, language=language)
    nominee = Nominee(study_id=study.id, participant=participant, link_nonce=nonce, name=data.name,
                      email=email, la_code=data.la_code, service_area=data.service_area,
                      agency=data.agency, role=data.role, preferred_language=data.preferred_language)
    db.session.add(nominee)
    db.session.flush()
    return nominee


def import_nominees(study: Study, rows, link_key: str) -> list[Nominee]:
    """Add every row (already validated by the importer); all or nothing, the caller commits."""
    taken = set(existing_emails(study))
    return [add_nominee(study, NomineeData(r.name, r.email, r.la_code, r.service_area, r.agency, r.role,
                                           r.preferred_language), link_key, taken=taken)
            for r in rows]


def update_nominee(nominee: Nominee, data: NomineeData) -> None:
    data = _cleaned(data)
    email = data.email
    clash = db.session.scalar(sa.select(Nominee.id).where(
        Nominee.study_id == nominee.study_id, Nominee.email == email, Nominee.id != nominee.id))
    if clash is not None:
        raise DuplicateNominee(email)
    nominee.name, nominee.email = data.name, email
    nominee.la_code, nominee.service_area, nominee.agency = data.la_code, data.service_area, data.agency
    nominee.role, nominee.preferred_language = data.role, data.preferred_language
    if nominee.participant.language is None and data.preferred_language in ("cy", "en"):
        nominee.participant.language = data.preferred_language
    db.session.flush()
