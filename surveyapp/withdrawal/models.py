from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow


class Scope(enum.StrEnum):
    PARTICIPATION = "participation"  # no further participation; keep what was given
    ANSWERS = "answers"              # withdraw (and erase) the answers too


SCOPE_TITLES = {
    Scope.PARTICIPATION: _l("No further participation: keep what I gave"),
    Scope.ANSWERS: _l("Withdraw my answers"),
}


class Channel(enum.StrEnum):
    LINK = "link"    # the participant, from their own link
    EMAIL = "email"  # a researcher, from an email the participant sent
    PHONE = "phone"  # a researcher, from a phone call


CHANNEL_TITLES = {
    Channel.LINK: _l("By the participant, from their link"),
    Channel.EMAIL: _l("By email, recorded by a researcher"),
    Channel.PHONE: _l("By phone, recorded by a researcher"),
}


class Outcome(enum.StrEnum):
    APPLIED = "applied"    # in force from the moment it was recorded (or decided)
    FLAGGED = "flagged"    # asked after the cut-off: waiting for a researcher's decision
    DECLINED = "declined"  # asked after the cut-off; a researcher kept the answers, with a reason


OUTCOME_TITLES = {
    Outcome.APPLIED: _l("Applied"),
    Outcome.FLAGGED: _l("After the cut-off: waiting for a researcher"),
    Outcome.DECLINED: _l("After the cut-off: answers kept"),
}


class Withdrawal(db.Model):
    """One request to withdraw. A participant has at most one: a second request widens the
    scope of the first (keep what I gave, then withdraw my answers) rather than adding a row."""

    __tablename__ = "withdrawal"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(8))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None when the participant withdrew from their own link.
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    outcome: Mapped[str] = mapped_column(sa.String(12))
    # The cut-off in force when it was asked (submission + the study's window), if any.
    cutoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # When the answers were erased (scope "answers", applied).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    participant = relationship("Participant", backref=sa.orm.backref("withdrawal", uselist=False))
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
