"""Recording consent and enforcing it: no answer is stored without it."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.consent.models import ConsentItemAnswer, ConsentMethod, ConsentRecord
from surveyapp.db import db, utcnow
from surveyapp.errors import ConsentRequired, DomainError
from surveyapp.participant.models import Participant, ParticipantStatus


def record_consent(
    participant: Participant,
    agreed: dict[str, bool],
    *,
    language: str,
    method: ConsentMethod = ConsentMethod.ONLINE,
) -> ConsentRecord:
    """Record one answer per item of the study's current consent form.

    Consent is given only if every required item is agreed; otherwise the record
    stands as a refusal and the participant's journey ends.
    """
    if participant.status == ParticipantStatus.SUBMITTED:
        raise DomainError("a submitted participant cannot consent again")
    version = participant.study.consent_form
    form = version.as_consent_form()
    unknown = set(agreed) - {item.id for item in form.items}
    if unknown:
        raise DomainError(f"unknown consent items: {sorted(unknown)}")
    given = all(agreed.get(item.id, False) for item in form.items if item.required)
    record = ConsentRecord(
        participant_id=participant.id,
        consent_form=version,
        content_hash=version.content_hash,
        language=language,
        method=method.value,
        given=given,
        recorded_at=utcnow(),
        items=[
            ConsentItemAnswer(position=i, item_id=item.id, required=item.required,
                              agreed=bool(agreed.get(item.id, False)))
            for i, item in enumerate(form.items)
        ],
    )
    db.session.add(record)
    participant.status = (ParticipantStatus.CONSENTED if given else ParticipantStatus.REFUSED).value
    db.session.flush()
    return record


def latest_consent(participant: Participant) -> ConsentRecord | None:
    """The most recent record against the study's *current* consent-form version."""
    return db.session.scalar(
        sa.select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id,
               ConsentRecord.consent_form_id == participant.study.consent_form_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )


def require_consent(participant: Participant) -> ConsentRecord:
    record = latest_consent(participant)
    if record is None or not record.given:
        raise ConsentRequired(f"participant {participant.id} has no consent to the current form")
    return record
