"""What a verification found, said in a sentence (the CLI prints it in English, the reviewer
page in the reader's language), and the events, a page at a time, ready to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from surveyapp.accounts.models import User
from surveyapp.audit import kinds
from surveyapp.audit.chain import Break
from surveyapp.audit.models import AuditEvent
from surveyapp.db import db
from surveyapp.paging import page_count, page_to_show
from surveyapp.participant.models import Participant, format_pid

PER_PAGE = 50


def describe(broken: Break) -> str:
    """What is wrong at the first broken link, and what that usually means."""
    if broken.code == "missing":
        first, last = broken.expected_seq, broken.seq - 1
        if first == last:
            return _("Event %(first)d is missing (deleted): the chain goes from event %(before)d to event %(seq)d.",
                     first=first, before=first - 1, seq=broken.seq)
        return _("Events %(first)d to %(last)d are missing (deleted): the chain goes from event %(before)d "
                 "to event %(seq)d.", first=first, last=last, before=first - 1, seq=broken.seq)
    if broken.code == "unlinked":
        return _("Event %(seq)d does not follow the event before it (an event was inserted, or events were "
                 "reordered).", seq=broken.seq)
    if broken.code == "altered":
        return _("Event %(seq)d does not match its hash (it was edited, or the chain was rebuilt without the "
                 "key).", seq=broken.seq)
    if broken.code == "truncated":
        return _("The anchor file records event %(seq)d but the chain ends at event %(last)d (events were cut "
                 "off the end).", seq=broken.seq, last=broken.expected_seq)
    if broken.code == "anchor_mismatch":
        return _("Event %(seq)d is not the event the anchor file recorded (the chain was replaced).",
                 seq=broken.seq)
    return _("The chain ends at event %(seq)d but its head records event %(head)d (events were cut off the "
             "end, or the head was edited).", seq=broken.seq, head=broken.expected_seq)


@dataclass(frozen=True)
class EventRow:
    seq: int
    occurred_at: datetime
    kind: str
    title: str
    actor: str | None
    pid: str | None
    details: list[tuple[str, str]]


@dataclass(frozen=True)
class Page:
    rows: list[EventRow]
    page: int
    pages: int
    total: int


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def events_page(page: int, per_page: int = PER_PAGE) -> Page:
    """One page of events, newest first, with the acting member of staff's name and the
    participant's P-ID. A page out of range is the last page. Two statements."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
    pages = page_count(total, per_page)
    page = page_to_show(page, total, per_page)
    query = (sa.select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.kind, AuditEvent.details,
                       User.name, Participant.pid)
             .outerjoin(User, User.id == AuditEvent.actor_id)
             .outerjoin(Participant, Participant.id == AuditEvent.participant_id)
             .order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page))
    rows = [EventRow(seq, at, kind, str(kinds.TITLES.get(kind, kind)), name, format_pid(pid),
                     [(key, _text(value)) for key, value in sorted((details or {}).items())])
            for seq, at, kind, details, name, pid in db.session.execute(query)]
    return Page(rows, page, pages, total)
