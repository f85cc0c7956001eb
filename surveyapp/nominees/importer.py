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

import itertools
import re
import sys
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from surveyapp import text
from surveyapp.nominees.models import NAME_LENGTH, ROLE_LENGTH
from surveyapp.nominees.reading import DEFAULT_XLSX_LIMITS, FileProblem, Record, XlsxLimits, iter_csv, iter_xlsx
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

    def as_json(self) -> dict[str, Any]:
        """To keep (an import job's problems): the template by its name here, not its text."""
        return {"line": self.line, "column": self.column, "code": self.code,
                "template": _template_names()[id(self.template)], "params": self.params}

    @classmethod
    def from_json(cls, kept: dict[str, Any]) -> RowProblem:
        return cls(line=kept["line"], column=kept["column"], code=kept["code"],
                   template=_templates()[kept["template"]], params=kept["params"])


def _templates() -> dict[str, LazyString]:
    """Every problem's message template, by its name in this module or reading.py."""
    from surveyapp.nominees import reading

    return {name: value for module in (reading, sys.modules[__name__]) for name, value in vars(module).items()
            if isinstance(value, LazyString)}


def _template_names() -> dict[int, str]:
    return {id(template): name for name, template in _templates().items()}


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
    """Parse an uploaded nominee list; never raises for bad input, it reports it. Holds every
    row: for a large list, iterate a NomineeCheck instead."""
    check = NomineeCheck(filename, data, existing_emails=existing_emails, max_rows=max_rows,
                         xlsx_limits=xlsx_limits)
    rows = [row for row, _ok in check]
    return ImportResult(rows=[] if check.whole_file else rows, problems=check.problems,
                        total_lines=check.total_lines)


class NomineeCheck:
    """One streaming pass over a nominee file: iterating yields each data row as it is
    checked, with whether that row has no problem (``(row, ok)``), so a caller can act on a
    row and forget it. ``problems`` fills as the pass goes, in the order parse_nominees gives.

    A problem with the whole file (it cannot be read, a column is missing, too many rows),
    even one found part-way through, ends the pass: ``problems`` is then that problem alone
    and ``whole_file`` is True, and every row already yielded is void (the caller must undo
    whatever it did with them)."""

    def __init__(self, filename: str, data: bytes, *, existing_emails: Collection[str] = frozenset(),
                 max_rows: int = 100_000, xlsx_limits: XlsxLimits = DEFAULT_XLSX_LIMITS):
        self.filename, self.data, self.max_rows, self.xlsx_limits = filename, data, max_rows, xlsx_limits
        self.existing = {e.strip().lower() for e in existing_emails}
        self.problems: list[RowProblem] = []
        self.total_lines = 0  # non-blank data rows seen
        self.valid_lines = 0  # of which without problems
        self.whole_file = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems if p.line > 0})

    def _stop(self, problem: RowProblem, total_lines: int) -> None:
        self.problems, self.total_lines, self.whole_file = [problem], total_lines, True

    def __iter__(self) -> Iterator[tuple[NomineeRow, bool]]:
        suffix = PurePath(self.filename or "").suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            self._stop(_problem(0, None, "unreadable", UNSUPPORTED_TYPE, value=_shown(self.filename or "")), 0)
            return
        try:
            records = iter_csv(self.data) if suffix == ".csv" else iter_xlsx(self.data, self.xlsx_limits)
            yield from self._check(records)
        except FileProblem as exc:
            self._stop(_problem(0, None, exc.code, exc.template, **exc.params), 0)

    def _check(self, records: Iterator[Record]) -> Iterator[tuple[NomineeRow, bool]]:
        columns = ", ".join(COLUMNS)
        first = next(records, None)
        if first is None:
            self._stop(_problem(0, None, "empty_file", EMPTY_FILE, allowed=columns), 0)
            return
        header_line, header = first
        index: dict[str, int] = {}
        for i, heading in enumerate(header):
            index.setdefault(_key(_tidy(heading)), i)  # a repeated heading: the first one wins
        missing = [c for c in COLUMNS if c not in index]
        if missing:
            total = sum(1 for _record in itertools.islice(records, self.max_rows + 1))
            self.problems = [_problem(header_line, c, "missing_column", MISSING_COLUMN, column=c, allowed=columns)
                             for c in missing]
            self.total_lines, self.whole_file = total, True
            return
        row_check = _RowCheck(index, self.existing, self.problems)
        for line, cells in records:
            if self.total_lines == self.max_rows:
                self._stop(_problem(0, None, "too_many_rows", TOO_MANY_ROWS, max=self.max_rows), self.max_rows + 1)
                return
            self.total_lines += 1
            row, ok = row_check(line, cells)
            self.valid_lines += ok
            yield row, ok
        if not self.total_lines:
            self._stop(_problem(0, None, "empty_file", NO_DATA_ROWS), 0)


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


class _RowCheck:
    """Checks one data row at a time, remembering the emails seen (for duplicates)."""

    def __init__(self, index: dict[str, int], existing: set[str], problems: list[RowProblem]):
        self.index, self.existing, self.problems = index, existing, problems
        self.first_seen: dict[str, int] = {}
        las = local_authorities()
        self.allowed = {"la_code": (las, ", ".join(las)), "service_area": (SERVICE_AREAS, ", ".join(SERVICE_AREAS)),
                        "agency": (AGENCIES, ", ".join(AGENCIES)),
                        "preferred_language": (LANGUAGE_PREFERENCES, ", ".join(LANGUAGE_PREFERENCES))}

    def __call__(self, line: int, cells: list[str]) -> tuple[NomineeRow, bool]:
        problems, index = self.problems, self.index
        before = len(problems)

        def cell(column: str) -> str:
            i = index[column]
            return cells[i] if i < len(cells) else ""

        def free_text(column: str, max_length: int) -> str:
            """A stored text column, through the one normalisation path; a refusal is a problem."""
            try:
                return text.clean_line(cell(column), max_length=max_length)
            except text.TextRefused as refused:
                problems.append(_refusal(line, column, refused))
                return _tidy(cell(column))

        def code(column: str, normalise, codes: tuple[str, str], templates) -> str:
            """A coded column: blank, or not one of the allowed codes, is a problem."""
            raw = _tidy(cell(column))  # a refused character shows as U+FFFD, so it is no code
            allowed, listed = self.allowed[column]
            value = normalise(raw)
            if not raw:
                problems.append(_problem(line, column, codes[0], templates[0], allowed=listed))
            elif value not in allowed:
                problems.append(_problem(line, column, codes[1], templates[1], value=_shown(raw), allowed=listed))
            return value

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

        la_code = code("la_code", str.upper, ("unknown_la",) * 2, (MISSING_LA, UNKNOWN_LA))
        service_area = code("service_area", _key, ("unknown_service_area",) * 2,
                            (MISSING_SERVICE_AREA, UNKNOWN_SERVICE_AREA))
        agency = code("agency", _key, ("unknown_agency",) * 2, (MISSING_AGENCY, UNKNOWN_AGENCY))
        language = code("preferred_language", _language, ("missing_language", "unknown_language"),
                        (MISSING_LANGUAGE, UNKNOWN_LANGUAGE))

        if email_ok:
            if email in self.first_seen:
                problems.append(
                    _problem(line, "email", "duplicate_in_file", DUPLICATE_IN_FILE,
                             value=email, first_line=self.first_seen[email])
                )
            else:
                self.first_seen[email] = line
            if email in self.existing:
                problems.append(
                    _problem(line, "email", "already_invited", ALREADY_INVITED, value=email)
                )

        row = NomineeRow(line=line, name=name, email=email, la_code=la_code, service_area=service_area,
                         agency=agency, role=free_text("role", ROLE_LENGTH), preferred_language=language)
        return row, len(problems) == before
