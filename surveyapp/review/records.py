"""The consent register's records as plain data: what the register, the detail page, the
downloads and the consent-record PDF show. Built from the immutable instrument versions the
participant saw (never from today's files) and from the consent, withdrawal and audit rows.
Never holds an answer.

The builders (``register_rows``, ``consent_views``, ``version_matrix``) are in register.py; pages
and PDFs receive these dataclasses, never ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ItemView:
    item_id: str
    text: str            # the item's text in the language the participant was shown
    required: bool
    agreed: bool


@dataclass(frozen=True)
class WithdrawalView:
    requested_at: datetime
    scope: str           # withdrawal.models.Scope value
    channel: str         # withdrawal.models.Channel value
    outcome: str         # withdrawal.models.Outcome value
    recorded_by: str | None   # staff name, None when the participant withdrew from their link
    cutoff_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    erased_at: datetime | None


@dataclass(frozen=True)
class ConsentView:
    """One consent record as the participant saw and answered it."""

    participant_id: int
    pid: str | None             # "P12"; None for someone who never consented
    local_authority: str | None  # LA code (nominees only); names come from surveyapp.reference
    service_area: str | None
    record_id: int
    recorded_at: datetime
    given: bool
    method: str                 # consent.models.ConsentMethod value
    recorded_by: str | None     # staff name for verbal consent
    language: str               # "cy" or "en": the language the form was shown in
    form_key: str
    form_version: int
    form_hash: str
    form_title: str             # in ``language``
    form_intro: list[str]       # paragraphs, in ``language``
    items: list[ItemView]
    sheet_version: int | None   # the information sheet shown (None: not recorded then)
    sheet_hash: str | None
    current_form_version: int   # the study's consent-form version today
    withdrawal: WithdrawalView | None = None
    history: list[tuple[datetime, str]] = field(default_factory=list)  # (when, event kind)

    @property
    def status(self) -> str:
        """The register's status: "withdrew", "refused" (did not consent), "older_version"
        (consented to a version older than the study's current one) or "consented"."""
        if self.withdrawal is not None:
            return "withdrew"
        if not self.given:
            return "refused"
        return "older_version" if self.form_version != self.current_form_version else "consented"
