"""Read a spreadsheet of nominees (.csv or .xlsx) and say, line by line, what is wrong with it.

Pure: no Flask app, no database. The caller passes the e-mail addresses already invited and
decides what to do with the result. Every problem carries a stable ``code`` for programs and a
``message`` for people; the message is translated when it is read, in the locale of that moment.

Line numbers are the ones people see: in a CSV file the physical line where the record starts
(header = line 1; a quoted value spanning lines moves later records down), in a workbook the
sheet's row number. Blank rows are skipped silently.

Every value goes through surveyapp/text.py, as the forms' values do: a two-line name becomes
one line, decomposed letters are composed, and a control character, a bidi control or a value
longer than its database column is a row problem, never something the database sees.

Reading the file (and the limits on workbooks) is in reading.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from surveyapp import text
from surveyapp.nominees.models import NAME_LENGTH, ROLE_LENGTH
from surveyapp.nominees.reading import DEFAULT_XLSX_LIMITS, FileProblem, Record, XlsxLimits, read_csv, read_xlsx
from surveyapp.reference import AGENCIES, LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities

COLUMNS = ("name", "email", "la_code", "service_area", "agency", "role", "preferred_language")
LANGUAGE_SYNONYMS = {"welsh": "cy", "cymraeg": "cy", "english": "en", "saesneg": "en"}
MAX_SHOWN = 60  # characters of an offending value quoted back in a message


UNSUPPORTED_TYPE = _l(
    "The file '%(value)s' is not a type that can be read. Upload a CSV file saved as "
    "\"CSV UTF-8\" (.csv) or an Excel workbook (.xlsx)."
)
EMPTY_FILE = _l("The file is empty. Its first row must name these columns: %(allowed)s.")
NO_DATA_ROWS = _l("The file has column headings but no nominees below them.")
MISSING_COLUMN = _l(
    "Line %(line)d: there is no '%(column)s' column. The first row of the file must name "
    "these columns: %(allowed)s."
)
TOO_MANY_ROWS = _l(
    "The file lists more than %(max)d nominees. Split it into files of at most %(max)d "
    "nominees and upload them one at a time."
)

# Problems with one row.
MISSING_NAME = _l("Line %(line)d: the name is missing. Every nominee needs a name.")
MISSING_EMAIL = _l("Line %(line)d: the email address is missing. Every nominee needs one.")
BAD_EMAIL = _l("Line %(line)d: '%(value)s' is not a valid email address.")
MISSING_LA = _l("Line %(line)d: the local authority code is missing. Use one of: %(allowed)s.")
UNKNOWN_LA = _l(
    "Line %(line)d: '%(value)s' is not a local authority code. Use one of: %(allowed)s."
)
MISSING_SERVICE_AREA = _l(
    "Line %(line)d: the service area is missing. Use one of: %(allowed)s."
)
UNKNOWN_SERVICE_AREA = _l(
    "Line %(line)d: '%(value)s' is not a service area. Use one of: %(allowed)s."
)
MISSING_AGENCY = _l("Line %(line)d: the agency is missing. Use one of: %(allowed)s.")
UNKNOWN_AGENCY = _l("Line %(line)d: '%(value)s' is not an agency. Use one of: %(allowed)s.")
MISSING_LANGUAGE = _l(
    "Line %(line)d: the preferred language is missing. Use one of: %(allowed)s."
)
UNKNOWN_LANGUAGE = _l(
    "Line %(line)d: '%(value)s' is not a language preference. Use one of: %(allowed)s."
)
DUPLICATE_IN_FILE = _l(
    "Line %(line)d: %(value)s is already listed on line %(first_line)d of this file. "
    "List each person only once."
)
ALREADY_INVITED = _l("Line %(line)d: %(value)s has already been invited.")
ROW_CONTROL_CHARACTER = _l(
    "Line %(line)d: the '%(column)s' column contains an invisible control character (%(code)s) "
    "that cannot be stored. Delete it in the file and upload it again."
)
ROW_BIDI_CONTROL = _l(
    "Line %(line)d: the '%(column)s' column contains an invisible character (%(code)s) that "
    "changes the direction of text, which is not allowed. Delete it in the file and upload it again."
)
ROW_TOO_LONG = _l(
    "Line %(line)d: the '%(column)s' column is %(length)d characters long; it can be at most %(max)d."
)
ROW_TEMPLATES = {"control_character": ROW_CONTROL_CHARACTER, "bidi_control": ROW_BIDI_CONTROL,
                 "too_long": ROW_TOO_LONG}


@dataclass(frozen=True)
class NomineeRow:
    """One data row. For rows without problems the values are the clean, allowed values
    (text through surveyapp/text.py); for rows with problems they hold the tidied input, with
    refused characters shown as U+FFFD (so it can be shown back)."""

    line: int
    name: str
    email: str  # normalised and lower-cased
    la_code: str  # upper-cased
    service_area: str
    agency: str
    role: str
    preferred_language: str  # 'cy' | 'en' | 'unknown'


@dataclass(frozen=True)
class RowProblem:
    line: int  # 0 for a problem with the whole file
    column: str | None
    code: str  # stable, for programs: 'bad_email', 'unknown_la', ...
    template: LazyString = field(repr=False, hash=False)
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        """The sentence for people, in the current locale."""
        return str(self.template) % self.params


@dataclass
class ImportResult:
    rows: list[NomineeRow]
    problems: list[RowProblem]
    total_lines: int  # non-blank data rows seen

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_lines(self) -> list[int]:
        """Lines (>= 1) that have at least one problem, in order."""
        return sorted({p.line for p in self.problems if p.line > 0})

    @property
    def valid_rows(self) -> list[NomineeRow]:
        bad = set(self.bad_lines)
        return [row for row in self.rows if row.line not in bad]


def parse_nominees(
    filename: str,
    data: bytes,
    *,
    existing_emails: Collection[str] = frozenset(),
    max_rows: int = 100_000,
    xlsx_limits: XlsxLimits = DEFAULT_XLSX_LIMITS,
) -> ImportResult:
    """Parse an uploaded nominee list; never raises for bad input, it reports it."""
    suffix = PurePath(filename or "").suffix.lower()
    limit = max_rows + 2  # header, max_rows rows, and one more to know there are too many
    if suffix not in (".csv", ".xlsx"):
        problem = _problem(0, None, "unreadable", UNSUPPORTED_TYPE, value=_shown(filename or ""))
        return ImportResult(rows=[], problems=[problem], total_lines=0)
    try:
        records = read_csv(data, limit) if suffix == ".csv" else read_xlsx(data, limit, xlsx_limits)
    except FileProblem as exc:
        problem = _problem(0, None, exc.code, exc.template, **exc.params)
        return ImportResult(rows=[], problems=[problem], total_lines=0)
    return _check(records, existing_emails, max_rows)


# --- checking -------------------------------------------------------------------------------


def _problem(
    at: int, column: str | None, code: str, template: LazyString, /, **params: Any
) -> RowProblem:
    """A problem at line ``at`` (0: the whole file); row problems get ``line`` for the message."""
    if at:
        params.setdefault("line", at)
    return RowProblem(line=at, column=column, code=code, template=template, params=params)


def _tidy(value: str) -> str:
    """A value to check against codes or show back: composed, on one line, trimmed, refused
    characters as U+FFFD."""
    return unicodedata.normalize("NFC", text.visible(value))


def _refusal(at: int, column: str, refused: text.TextRefused) -> RowProblem:
    return _problem(at, column, refused.code, ROW_TEMPLATES[refused.code], column=column, **refused.params)


def _shown(value: str) -> str:
    """An offending value as quoted back: composed, on one line, not too long, and with any
    character that could hide or reorder text shown as U+FFFD."""
    value = _tidy(value)
    return value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"


def _language(value: str) -> str:
    value = value.lower()
    return LANGUAGE_SYNONYMS.get(value, value)


def _key(value: str) -> str:
    """Headings and codes as typed -> as stored: 'Whole area' -> 'whole_area'."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def _check(records: list[Record], existing_emails: Collection[str], max_rows: int) -> ImportResult:
    columns = ", ".join(COLUMNS)
    if not records:
        problem = _problem(0, None, "empty_file", EMPTY_FILE, allowed=columns)
        return ImportResult(rows=[], problems=[problem], total_lines=0)

    (header_line, header), data = records[0], records[1:]
    index: dict[str, int] = {}
    for i, heading in enumerate(header):
        index.setdefault(_key(_tidy(heading)), i)  # a repeated heading: the first one wins
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        problems = [
            _problem(header_line, c, "missing_column", MISSING_COLUMN, column=c, allowed=columns)
            for c in missing
        ]
        return ImportResult(rows=[], problems=problems, total_lines=len(data))
    if len(data) > max_rows:
        problem = _problem(0, None, "too_many_rows", TOO_MANY_ROWS, max=max_rows)
        return ImportResult(rows=[], problems=[problem], total_lines=len(data))
    if not data:
        problem = _problem(0, None, "empty_file", NO_DATA_ROWS)
        return ImportResult(rows=[], problems=[problem], total_lines=0)

    las = local_authorities()
    existing = {e.strip().lower() for e in existing_emails}
    first_seen: dict[str, int] = {}
    rows: list[NomineeRow] = []
    problems: list[RowProblem] = []

    for line, cells in data:

        def cell(column: str, cells: list[str] = cells) -> str:
            i = index[column]
            return cells[i] if i < len(cells) else ""

        def get(column: str) -> str:
            """A coded column, tidied (a refused character shows as U+FFFD, so it is no code)."""
            return _tidy(cell(column))

        def free_text(column: str, max_length: int, line: int = line) -> str:
            """A stored text column, through the one normalisation path; a refusal is a problem."""
            try:
                return text.clean_line(cell(column), max_length=max_length)
            except text.TextRefused as refused:
                problems.append(_refusal(line, column, refused))
                return _tidy(cell(column))

        name = free_text("name", NAME_LENGTH)
        if not name:
            problems.append(_problem(line, "name", "missing_name", MISSING_NAME))

        raw_email = cell("email")
        email = _tidy(raw_email).lower()
        email_ok = False
        if not email:
            problems.append(_problem(line, "email", "bad_email", MISSING_EMAIL))
        else:
            try:
                email = text.normalise_email(raw_email)
                email_ok = True
            except text.TextRefused as refused:
                problems.append(
                    _problem(line, "email", "bad_email", BAD_EMAIL, value=_shown(raw_email))
                    if refused.code == "bad_email" else _refusal(line, "email", refused)
                )

        def code(column: str, normalise, allowed: Collection[str], codes: tuple[str, str], templates,
                 line: int = line) -> str:
            """A coded column: blank, or not one of ``allowed``, is a problem."""
            raw = get(column)
            value, listed = normalise(raw), ", ".join(allowed)
            if not raw:
                problems.append(_problem(line, column, codes[0], templates[0], allowed=listed))
            elif value not in allowed:
                problems.append(_problem(line, column, codes[1], templates[1], value=_shown(raw), allowed=listed))
            return value

        la_code = code("la_code", str.upper, las, ("unknown_la",) * 2, (MISSING_LA, UNKNOWN_LA))
        service_area = code("service_area", _key, SERVICE_AREAS, ("unknown_service_area",) * 2,
                            (MISSING_SERVICE_AREA, UNKNOWN_SERVICE_AREA))
        agency = code("agency", _key, AGENCIES, ("unknown_agency",) * 2, (MISSING_AGENCY, UNKNOWN_AGENCY))
        language = code("preferred_language", _language, LANGUAGE_PREFERENCES,
                        ("missing_language", "unknown_language"), (MISSING_LANGUAGE, UNKNOWN_LANGUAGE))

        if email_ok:
            if email in first_seen:
                problems.append(
                    _problem(line, "email", "duplicate_in_file", DUPLICATE_IN_FILE,
                             value=email, first_line=first_seen[email])
                )
            else:
                first_seen[email] = line
            if email in existing:
                problems.append(
                    _problem(line, "email", "already_invited", ALREADY_INVITED, value=email)
                )

        rows.append(
            NomineeRow(
                line=line, name=name, email=email, la_code=la_code, service_area=service_area,
                agency=agency, role=free_text("role", ROLE_LENGTH), preferred_language=language,
            )
        )

    return ImportResult(rows=rows, problems=problems, total_lines=len(data))
