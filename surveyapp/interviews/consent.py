"""Consent taken verbally (before or at the start of an interview) and recorded by a researcher,
against the study's current consent form. It is the same record the online page makes (see
``consent.services.record_consent``), so it opens and closes the same gate on answers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from surveyapp.consent.models import ConsentMethod, ConsentRecord
from surveyapp.consent.services import latest_consent, record_consent
from surveyapp.db import utcnow
from surveyapp.errors import DomainError
from surveyapp.participant.models import Participant, ParticipantStatus

LANGUAGES = ("cy", "en")


class VerbalConsentRefused(DomainError):
    """Nothing was recorded; the view says why."""


class AlreadyConsented(VerbalConsentRefused):
    """Consent to the current form is already on record (``record`` says when and how)."""

    def __init__(self, record: ConsentRecord):
        super().__init__(f"consent already given on {record.recorded_at.isoformat()} ({record.method})")
        self.record = record


class ParticipationClosed(VerbalConsentRefused):
    """The participant has submitted or withdrawn: consent is no longer theirs to give."""

    def __init__(self, status: str):
        super().__init__(f"a {status} participant cannot consent")
        self.status = status


class BadVerbalConsent(VerbalConsentRefused):
    """The request itself is wrong (an item not answered, a date in the future, an unknown language)."""


def check_open(participant: Participant) -> None:
    """Raise unless consent may be recorded for ``participant`` now."""
    if participant.status in (ParticipantStatus.SUBMITTED, ParticipantStatus.WITHDRAWN):
        raise ParticipationClosed(participant.status)
    current = latest_consent(participant)
    if current is not None and current.given:
        raise AlreadyConsented(current)


def sheet_sent_at(sent_on: date) -> datetime:
    """The day the information sheet was sent, stored as that day's start (UTC): only the day is known."""
    return datetime(sent_on.year, sent_on.month, sent_on.day, tzinfo=UTC)


def record_verbal_consent(participant: Participant, agreed: dict[str, bool], *, language: str,
                          sheet_sent_on: date, sheet_language: str, researcher_id: int) -> ConsentRecord:
    """Record the answers the participant gave aloud, one per item of the current consent form,
    as method "verbal, recorded by researcher", at the moment of recording, with when and in
    which language the information sheet was sent. Flushes; the caller commits."""
    check_open(participant)
    if language not in LANGUAGES or sheet_language not in LANGUAGES:
        raise BadVerbalConsent(f"languages must be one of {LANGUAGES}")
    if sheet_sent_on > utcnow().date():
        raise BadVerbalConsent("the information sheet cannot have been sent in the future")
    items = {item.id for item in participant.study.consent_form.as_consent_form().items}
    if set(agreed) != items:
        raise BadVerbalConsent(f"every item must be answered: missing {sorted(items - set(agreed))}")
    record = record_consent(participant, agreed, language=language, method=ConsentMethod.VERBAL,
                            recorded_by_id=researcher_id)
    record.sheet_sent_at = sheet_sent_at(sheet_sent_on)
    record.sheet_sent_language = sheet_language
    return record
