from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.instruments.models import InstrumentVersion


class ConsentMethod(enum.StrEnum):
    ONLINE = "online"
    VERBAL = "verbal_recorded_by_researcher"


METHOD_TITLES = {
    ConsentMethod.ONLINE: _l("Online"),
    ConsentMethod.VERBAL: _l("Verbal, recorded by researcher"),
}


class ConsentRecord(db.Model):
    """One act of consenting (or declining) to one exact consent-form version."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"), index=True)
    consent_form_id: Mapped[int] = mapped_column(sa.ForeignKey("instrument_version.id"))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    language: Mapped[str] = mapped_column(sa.String(5))
    method: Mapped[str] = mapped_column(sa.String(40))
    given: Mapped[bool]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The information-sheet version the participant was shown before consenting (None on
    # records made before this was kept), and its content hash at the time.
    information_sheet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("instrument_version.id"))
    information_sheet_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # For consent taken verbally: the researcher who recorded it, and when and in which
    # language the information sheet was sent to the participant beforehand.
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    sheet_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sheet_sent_language: Mapped[str | None] = mapped_column(sa.String(5))

    consent_form: Mapped[InstrumentVersion] = relationship(foreign_keys=[consent_form_id])
    information_sheet: Mapped[InstrumentVersion | None] = relationship(foreign_keys=[information_sheet_id])
    items: Mapped[list[ConsentItemAnswer]] = relationship(
        back_populates="record", order_by="ConsentItemAnswer.position", cascade="all, delete-orphan"
    )


class ConsentItemAnswer(db.Model):
    __tablename__ = "consent_item_answer"
    __table_args__ = (sa.UniqueConstraint("record_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("consent_record.id"))
    position: Mapped[int]
    item_id: Mapped[str] = mapped_column(sa.String(100))
    required: Mapped[bool]
    agreed: Mapped[bool]

    record: Mapped[ConsentRecord] = relationship(back_populates="items")
