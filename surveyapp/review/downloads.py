"""The consent register as a table, then as CSV or XLSX bytes: pure functions of the rows.

Headers and titles are in the reader's language (the page's); times are ISO 8601 in the study's
time zone (Europe/London) with their offset, so a spreadsheet and a script read the same moment.
A cell that a spreadsheet would take for a formula (starting with = + - @, a tab or a carriage
return) is prefixed with an apostrophe. Never an answer: only what the register page shows.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import to_user_timezone
from openpyxl import Workbook

from surveyapp.consent.models import METHOD_TITLES
from surveyapp.reference import SERVICE_AREAS, local_authorities
from surveyapp.review.records import ConsentView
from surveyapp.withdrawal.models import CHANNEL_TITLES, OUTCOME_TITLES, SCOPE_TITLES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def status_title(view: ConsentView) -> str:
    if view.status == "withdrew":
        return _("Withdrew")
    if view.status == "refused":
        return _("Did not consent")
    if view.status == "older_version":
        return _("Consented to v%(version)d", version=view.form_version)
    return _("Consented")


def la_name(code: str | None, locale: str) -> str:
    if code is None:
        return ""
    la = local_authorities().get(code)
    return la.name(locale) if la else code


def item_ids(rows: list[ConsentView]) -> list[str]:
    """Every consent item in the rows, in the order the forms list them."""
    seen: dict[str, None] = {}
    for row in rows:
        for item in row.items:
            seen.setdefault(item.item_id, None)
    return list(seen)


def _time(value: datetime | None) -> str:
    return to_user_timezone(value).isoformat(timespec="seconds") if value else ""


def _title(titles, value: str | None) -> str:
    return str(titles.get(value, value)) if value else ""


def table(rows: list[ConsentView], locale: str) -> list[list[str | int]]:
    """The header row, then one row per participant."""
    items = item_ids(rows)
    header = [_("Participant ID"), _("Local authority"), _("Service area"), _("Consent form"),
              _("Consent-form version"), _("Consent-form content hash"), _("Language shown"),
              _("Information-sheet version"), _("Information-sheet content hash"), _("Method"), _("Recorded by"),
              *items, _("Time"), _("Status"), _("Withdrawal requested"), _("Withdrawal scope"),
              _("How the withdrawal was made"), _("Withdrawal recorded by"), _("Withdrawal outcome"),
              _("Answers erased")]
    body = []
    for row in rows:
        agreed = {item.item_id: item.agreed for item in row.items}
        w = row.withdrawal
        body.append([
            row.pid or "", la_name(row.local_authority, locale), _title(SERVICE_AREAS, row.service_area),
            row.form_key, row.form_version, row.form_hash, row.language,
            row.sheet_version if row.sheet_version is not None else "", row.sheet_hash or "",
            _title(METHOD_TITLES, row.method), row.recorded_by or "",
            *[("" if i not in agreed else _("Agreed") if agreed[i] else _("Not agreed")) for i in items],
            _time(row.recorded_at), status_title(row),
            _time(w.requested_at) if w else "", _title(SCOPE_TITLES, w.scope) if w else "",
            _title(CHANNEL_TITLES, w.channel) if w else "", (w.recorded_by or "") if w else "",
            _title(OUTCOME_TITLES, w.outcome) if w else "", _time(w.erased_at) if w else "",
        ])
    return [header, *body]


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def to_xlsx(rows: list[list], sheet_title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title[:31])
    for row in rows:
        sheet.append([neutralise(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
