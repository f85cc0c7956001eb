from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.participant.models import Participant

# Column lengths, which the form and the importer enforce before anything reaches the database.
NAME_LENGTH, EMAIL_LENGTH, ROLE_LENGTH = 200, 320, 200


class Nominee(db.Model):
    """A person nominated to take part, with their own participant record and link."""

    __tablename__ = "nominee"
    __table_args__ = (sa.UniqueConstraint("study_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH))
    email: Mapped[str] = mapped_column(sa.String(EMAIL_LENGTH))
    la_code: Mapped[str] = mapped_column(sa.String(3), index=True)
    service_area: Mapped[str] = mapped_column(sa.String(20))
    agency: Mapped[str] = mapped_column(sa.String(40))
    role: Mapped[str] = mapped_column(sa.String(ROLE_LENGTH), default="")
    preferred_language: Mapped[str] = mapped_column(sa.String(7))  # cy, en or unknown
    # Random per nominee; with the server's link key it re-creates the personal link for
    # each email, so the link itself is never stored (only its hash, on the participant).
    link_nonce: Mapped[str] = mapped_column(sa.String(64))
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship()

    def __repr__(self) -> str:
        return f"<Nominee {self.id} {self.la_code}/{self.service_area}>"
