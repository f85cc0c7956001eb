"""Who a participant can contact about a study, in their language. Read from the study file
(``contacts:``); the same lists feed participant pages and emails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from surveyapp.i18n import tr


@dataclass(frozen=True)
class Contact:
    name: str
    role: str
    email: str
    phone: str | None

    @property
    def tel(self) -> str:
        """The phone number for a ``tel:`` link: digits and a leading +."""
        phone = self.phone or ""
        return ("+" if phone.startswith("+") else "") + "".join(c for c in phone if c.isdigit())


@dataclass(frozen=True)
class StudyContacts:
    team_email: str
    research_team: list[Contact]
    complaints: Contact
    data_protection: Contact


def _text(value: Any, locale: str | None) -> str:
    return value if isinstance(value, str) else tr(value, locale)


def _contact(raw: dict[str, Any], locale: str | None) -> Contact:
    return Contact(name=_text(raw["name"], locale), role=_text(raw["role"], locale),
                   email=raw["email"], phone=raw.get("phone"))


def study_contacts(study, locale: str | None = None) -> StudyContacts | None:
    """The study's contacts with texts in ``locale`` (default: the page's), or None."""
    raw = study.contacts
    if not raw:
        return None
    return StudyContacts(
        team_email=raw["team_email"],
        research_team=[_contact(c, locale) for c in raw["research_team"]],
        complaints=_contact(raw["complaints"], locale),
        data_protection=_contact(raw["data_protection"], locale),
    )
