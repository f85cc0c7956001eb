from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.participant.models import Participant

# Column lengths, which the form and the importer enforce before anything reaches the database.
NAME_LENGTH, EMAIL_LENGTH, ROLE_LENGTH, DECLINED_REASON_LENGTH = 200, 320, 200, 500


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
    # When a researcher marks someone declined (they said so by email or phone): why, and who.
    # Empty when the nominee declined from their own link.
    declined_reason: Mapped[str | None] = mapped_column(sa.String(DECLINED_REASON_LENGTH))
    declined_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship()

    def __repr__(self) -> str:
        return f"<Nominee {self.id} {self.la_code}/{self.service_area}>"


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"      # being checked and added, in one transaction (stale: the worker died, nothing added)
    PROBLEMS = "problems"    # nothing added: the file has problems (the researcher may add only the valid rows)
    DONE = "done"
    FAILED = "failed"        # stopped by a fault: nothing added


class NomineeImport(db.Model):
    """A nominee file uploaded from the web, checked and imported by the worker.

    The rows are added in one transaction with the status ``done``: a file is either wholly
    imported (and says so) or not at all. The file is kept only until it is imported (it
    holds personal data); ``problems`` holds what the check found, as the importer reports it
    (line, column, code, the message's msgid and its values), to be shown in the reader's
    language."""

    __tablename__ = "nominee_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    valid_only: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default=ImportStatus.QUEUED.value)
    total_lines: Mapped[int] = mapped_column(default=0)
    valid_lines: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    problems: Mapped[list | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
