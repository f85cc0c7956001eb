from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.instruments.models import InstrumentVersion


class Response(db.Model):
    __tablename__ = "response"
    __table_args__ = (sa.UniqueConstraint("participant_id", "survey_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("instrument_version.id"))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    consent_record_id: Mapped[int] = mapped_column(sa.ForeignKey("consent_record.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    survey: Mapped[InstrumentVersion] = relationship()
    # The participant's responses, loaded once per request by the ORM and kept current by it
    # (a new response is appended; a rolled-back or expired collection is read again).
    participant = relationship("Participant", backref=backref("responses", order_by="Response.id"))
    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")


class Answer(db.Model):
    """One question's answer. ``value`` is a string, an int, a choice code, or
    ``{"choices": [...], "other": "..."}`` for multiple choice."""

    __tablename__ = "answer"
    __table_args__ = (sa.UniqueConstraint("response_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("response.id"))
    question_key: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[Any] = mapped_column(sa.JSON)
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped[Response] = relationship(back_populates="answers")
