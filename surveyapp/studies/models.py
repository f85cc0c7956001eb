from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import db
from surveyapp.instruments.models import InstrumentVersion

# How a study's slug may be spelt (as study_schema.json says, within the column's length).
SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,99}"
SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")


class Study(db.Model):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    ethics_reference: Mapped[str | None] = mapped_column(sa.String(100))
    open_link: Mapped[bool] = mapped_column(default=False)
    # Who participants can contact (research team, complaints, data protection); see
    # instruments/README.md. Shown on every participant page and in every email.
    contacts: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # Whether every instrument the study serves is approved, worked out when the instruments
    # are loaded (so a page need not load three instrument texts to know). Only then is the
    # ethics reference shown; otherwise participant pages say this is a demonstration.
    approved: Mapped[bool] = mapped_column(default=False)
    # The last participant ID given out (Participant.pid); only ever counts up.
    last_pid: Mapped[int] = mapped_column(default=0, server_default="0")
    # How long after submitting a participant may still have their answers withdrawn, as the
    # information sheet states (None: no limit). A later request is recorded and flagged for
    # a researcher to decide, never applied silently (surveyapp.withdrawal).
    withdrawal_window_days: Mapped[int | None] = mapped_column()
    information_sheet_id: Mapped[int] = mapped_column(sa.ForeignKey("instrument_version.id"))
    consent_form_id: Mapped[int] = mapped_column(sa.ForeignKey("instrument_version.id"))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("instrument_version.id"))

    information_sheet: Mapped[InstrumentVersion] = relationship(foreign_keys=[information_sheet_id])
    consent_form: Mapped[InstrumentVersion] = relationship(foreign_keys=[consent_form_id])
    survey: Mapped[InstrumentVersion] = relationship(foreign_keys=[survey_id])

    def __repr__(self) -> str:
        return f"<Study {self.slug}>"
