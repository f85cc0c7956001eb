from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.studies.models import Study


class ParticipantStatus(enum.StrEnum):
    STARTED = "started"
    CONSENTED = "consented"
    REFUSED = "refused"
    SUBMITTED = "submitted"
    DECLINED = "declined"  # said no to the invitation before reading further
    WITHDRAWN = "withdrawn"  # consented, then withdrew (surveyapp.withdrawal has the record)


STATUS_TITLES = {
    ParticipantStatus.STARTED: _l("Started"),
    ParticipantStatus.CONSENTED: _l("Consented"),
    ParticipantStatus.REFUSED: _l("Did not consent"),
    ParticipantStatus.SUBMITTED: _l("Submitted"),
    ParticipantStatus.DECLINED: _l("Declined"),
    ParticipantStatus.WITHDRAWN: _l("Withdrew"),
}


def format_pid(number: int | None) -> str | None:
    return None if number is None else f"P{number}"


class Participant(db.Model):
    """Someone taking part; reached only through a secret link whose hash is stored."""

    __tablename__ = "participant"
    __table_args__ = (sa.UniqueConstraint("study_id", "pid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    source: Mapped[str] = mapped_column(sa.String(16))  # "open" or "invited"
    language: Mapped[str | None] = mapped_column(sa.String(5))
    status: Mapped[str] = mapped_column(sa.String(16), default=ParticipantStatus.STARTED.value)
    current_section: Mapped[int] = mapped_column(default=0)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    # The pseudonymous participant ID (shown as P1, P2, ...): numbered per study in order of
    # first consent given, never reused, never renumbered (surveyapp.consent.services).
    pid: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    study: Mapped[Study] = relationship()

    @property
    def pid_label(self) -> str | None:
        return format_pid(self.pid)

    def __repr__(self) -> str:
        return f"<Participant {self.id} {self.status}>"


class LinkEmail(db.Model):
    """That a participant asked for their personal link by email, and when. The address they
    typed is used once to send and never stored."""

    __tablename__ = "link_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"), index=True)
    language: Mapped[str] = mapped_column(sa.String(5))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
