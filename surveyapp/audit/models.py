from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyapp.db import UTCDateTime, db


class AuditEvent(db.Model):
    """One event in the chain. Written once, never updated or deleted (the ORM refuses both;
    the chain makes a change made behind its back detectable). ``details`` holds identifiers,
    counts and codes only: never answer text, never a password or token, never an address."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column()        # a member of staff, if one acted
    participant_id: Mapped[int | None] = mapped_column(index=True)  # the participant it concerns
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(db.Model):
    """The end of the chain, one row: taking it for update is what puts appends in one order."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(sa.String(64))
