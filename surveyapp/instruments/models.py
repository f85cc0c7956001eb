from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.instruments.model import ConsentForm, InformationSheet, Survey


class InstrumentVersion(db.Model):
    """An immutable snapshot of one instrument file version, as participants saw it."""

    __tablename__ = "instrument_version"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Where the text comes from ({"status": "approved"|"reconstructed", ...}). Metadata, outside
    # the hash: a committee may approve the very text participants already saw.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def approved(self) -> bool:
        return (self.provenance or {}).get("status") == "approved"

    def as_survey(self) -> Survey:
        return Survey(self.content)

    def as_consent_form(self) -> ConsentForm:
        return ConsentForm(self.content)

    def as_information_sheet(self) -> InformationSheet:
        return InformationSheet(self.content)

    def __repr__(self) -> str:
        return f"<InstrumentVersion {self.key} v{self.version} {self.content_hash[:8]}>"
