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
    remember_consent(participant, record)
    return record


# The latest record is read once per transaction: the participant loader reads it with the
# participant (one statement, ``participant.services``), and a page that asks again (the
# gate, the next step) is answered from here. Held for the session's current transaction
# only, so a commit or rollback (which may undo a record made in it) forgets it.
_CACHE_KEY = "latest_consent"


def _known() -> dict[tuple[int, int], ConsentRecord | None]:
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None:
        return {}
    held = session.info.get(_CACHE_KEY)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_CACHE_KEY] = held
    return held[1]


def latest_consent_query(participant_id, consent_form_id) -> sa.Select:
    """The most recent record of a participant against one consent-form version (the
    arguments may be columns, for a correlated subquery)."""
    return (sa.select(ConsentRecord)
            .where(ConsentRecord.participant_id == participant_id,
                   ConsentRecord.consent_form_id == consent_form_id)
            .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
            .limit(1))


def remember_consent(participant: Participant, record: ConsentRecord | None) -> None:
    """Note ``record`` (None: there is none) as the participant's latest record against the
    study's current consent form, read or made in this transaction."""
    _known()[participant.id, participant.study.consent_form_id] = record


def latest_consent(participant: Participant) -> ConsentRecord | None:
    """The most recent record against the study's *current* consent-form version."""
    key = (participant.id, participant.study.consent_form_id)
    known = _known()
    if key not in known:
        known[key] = db.session.scalar(latest_consent_query(*key))
    return known[key]


def require_consent(participant: Participant) -> ConsentRecord:
    record = latest_consent(participant)
    if record is None or not record.given:
        raise ConsentRequired(f"participant {participant.id} has no consent to the current form")
    return record
