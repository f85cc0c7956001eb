"""Recording consent and enforcing it: no answer is stored without it."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.consent.models import ConsentItemAnswer, ConsentMethod, ConsentRecord
from surveyapp.db import db, utcnow
from surveyapp.errors import ConsentRequired, DomainError
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.studies.models import Study


def record_consent(
    participant: Participant,
    agreed: dict[str, bool],
    *,
    language: str,
    method: ConsentMethod = ConsentMethod.ONLINE,
    recorded_by_id: int | None = None,
) -> ConsentRecord:
    """Record one answer per item of the study's current consent form, with the information
    sheet the participant was shown (the study's current one), and write the audit event.

    Consent is given only if every required item is agreed; otherwise the record
    stands as a refusal and the participant's journey ends. The first consent given numbers
    the participant (P1, P2, ...).
    """
    if participant.status in (ParticipantStatus.SUBMITTED, ParticipantStatus.WITHDRAWN):
        raise DomainError(f"a {participant.status} participant cannot consent again")
    study = participant.study
    version = study.consent_form
    sheet = study.information_sheet
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
        information_sheet_id=sheet.id,
        information_sheet_hash=sheet.content_hash,
        recorded_by_id=recorded_by_id,
        items=[
            ConsentItemAnswer(position=i, item_id=item.id, required=item.required,
                              agreed=bool(agreed.get(item.id, False)))
            for i, item in enumerate(form.items)
        ],
    )
    db.session.add(record)
    participant.status = (ParticipantStatus.CONSENTED if given else ParticipantStatus.REFUSED).value
    if given and participant.pid is None:
        participant.pid = next_pid(study.id)
    db.session.flush()
    audit(kinds.CONSENT_GIVEN if given else kinds.CONSENT_REFUSED, actor_id=recorded_by_id,
          participant_id=participant.id, pid=participant.pid, consent_form=version.key,
          version=version.version, content_hash=version.content_hash,
          information_sheet_version=sheet.version, language=language, method=method.value,
          items={item.item_id: item.agreed for item in record.items})
    remember_consent(participant, record)
    return record


def next_pid(study_id: int) -> int:
    """The study's next participant number. The counter row is taken for update, so two
    participants consenting at once get different numbers; a number is never given twice."""
    return db.session.execute(
        sa.update(Study).where(Study.id == study_id).values(last_pid=Study.last_pid + 1)
        .returning(Study.last_pid)
    ).scalar_one()


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
    """The consent that lets answers be saved: given, to the current form, and not withdrawn."""
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise ConsentRequired(f"participant {participant.id} has withdrawn")
    record = latest_consent(participant)
    if record is None or not record.given:
        raise ConsentRequired(f"participant {participant.id} has no consent to the current form")
    return record
