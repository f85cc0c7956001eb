"""Reading an uploaded nominee list into records (line number, cells), before any checking.

Workbooks are hostile until read: their parts' unpacked sizes are checked from the zip's
directory before anything is unpacked, the XML is parsed by defusedxml (no entities), and the
cells and characters read are counted and capped. A file that cannot be read raises
FileProblem with a stable code and a message template; importer.py turns it into a problem.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class XlsxLimits:
    """What a workbook may hold before it is read at all (``unpacked_bytes``, ``parts``: from
    the zip's directory; zipfile never unpacks more than a part declares) and while its first
    sheet is read (``cells``, empty ones included; ``characters`` over all cells;
    ``cell_characters``, Excel's own limit for one cell)."""

    unpacked_bytes: int = 32_000_000
    parts: int = 200
    cells: int = 1_000_000
    characters: int = 10_000_000
    cell_characters: int = 32_767


DEFAULT_XLSX_LIMITS = XlsxLimits()

# Files that cannot be read at all (reported as line 0).
NOT_UTF8 = _l(
    "The file is not saved as UTF-8, so its letters cannot be read reliably. In Excel, choose "
    "Save As, pick \"CSV UTF-8 (Comma delimited)\" and upload the new file."
)
BAD_CSV = _l(
    "The file could not be read as CSV from line %(line)d onwards. Check that line for a "
    "quotation mark without a partner, save the file again as \"CSV UTF-8\" and upload it."
)
BAD_XLSX = _l(
    "The file could not be opened as an Excel workbook. It may be damaged or password "
    "protected. Save it again as an .xlsx workbook or as \"CSV UTF-8\" and upload the new file."
)
XLSX_TOO_LARGE = _l(
    "The workbook is too large to read safely: unpacked it would be %(size)d MB, and the limit "
    "is %(max)d MB. Keep only the nominee list in it, or save it as \"CSV UTF-8\", and upload it again."
)
XLSX_TOO_MUCH = _l(
    "The workbook's first sheet holds more than a nominee list can (over %(cells)d cells, "
    "%(characters)d characters, or %(cell_characters)d characters in one cell), so it was not "
    "read. Keep only the nominee columns and rows, or save it as \"CSV UTF-8\", and upload it again."
)
XLSX_UNSAFE = _l(
    "The workbook contains XML features that are not allowed in uploads (such as entity "
    "declarations), so it was not read. Open it in Excel, save it as a new .xlsx workbook or as "
    "\"CSV UTF-8\", and upload that file."
)
XLSX_NO_SAFE_PARSER = _l(
    "Excel workbooks cannot be read safely on this server at the moment. Save the list as "
    "\"CSV UTF-8\" and upload that file."
)


class FileProblem(Exception):
    """The whole file cannot be read: ``code`` for programs, ``template`` and ``params`` for people."""

    def __init__(self, code: str, template: LazyString, **params):
        super().__init__(code)
        self.code, self.template, self.params = code, template, params

Record = tuple[int, list[str]]  # (line, cells as read) of a non-blank row; checked in _check


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def read_csv(data: bytes, limit: int) -> list[Record]:
    return list(itertools.islice(iter_csv(data), limit))


def iter_csv(data: bytes) -> Iterator[Record]:
    """The non-blank records of a CSV file, one at a time (FileProblem when it cannot be
    decoded at all, or from the record where it stops being CSV)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem("unreadable", NOT_UTF8) from None
    # strict: an unmatched quote is an error, not a field that silently swallows later rows
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    del text  # the reader's copy is enough
    start = 1  # the physical line the next record starts on
    try:
        for raw in reader:
            line, start = start, reader.line_num + 1
            if not _blank(raw):
                yield line, raw
    except csv.Error:
        raise FileProblem("unreadable", BAD_CSV, line=start) from None


def _check_parts(data: bytes, limits: XlsxLimits) -> None:
    """Refuse a workbook whose parts would unpack to too much, from the zip's directory alone
    (a few hundred kB can declare gigabytes of shared strings)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise FileProblem("unreadable", BAD_XLSX) from None
    size = sum(part.file_size for part in parts)
    if len(parts) > limits.parts or size > limits.unpacked_bytes:
        raise FileProblem("xlsx_too_large", XLSX_TOO_LARGE, size=math.ceil(size / 1_000_000),
                          max=limits.unpacked_bytes // 1_000_000)


def xml_is_defused() -> bool:
    """Whether openpyxl parses with defusedxml (it does when defusedxml is installed and
    OPENPYXL_DEFUSEDXML is not "False"): entity declarations are then refused, not expanded."""
    import openpyxl
    from openpyxl.xml import functions

    return bool(openpyxl.DEFUSEDXML) and functions.iterparse.__module__.startswith("defusedxml")


def read_xlsx(data: bytes, limit: int, limits: XlsxLimits) -> list[Record]:
    return list(itertools.islice(iter_xlsx(data, limits), limit))


def iter_xlsx(data: bytes, limits: XlsxLimits) -> Iterator[Record]:
    """The non-blank rows of a workbook's first sheet, one at a time, within ``limits``."""
    import openpyxl  # only needed for workbooks
    from defusedxml import DefusedXmlException

    if not xml_is_defused():
        raise FileProblem("unreadable", XLSX_NO_SAFE_PARSER)
    _check_parts(data, limits)
    too_much = FileProblem("xlsx_too_large", XLSX_TOO_MUCH, cells=limits.cells,
                           characters=limits.characters, cell_characters=limits.cell_characters)
    cells_read = characters = 0
    try:
        book = _quietly(openpyxl.load_workbook, io.BytesIO(data), read_only=True, data_only=True)
        try:
            if book.worksheets:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # don't trust the stored size; read every row
                rows = enumerate(sheet.iter_rows(values_only=True), start=1)  # gaps come back as empty rows
                while (item := _quietly(next, rows, None)) is not None:
                    line, values = item
                    cells_read += max(len(values), 1)
                    if cells_read > limits.cells:
                        raise too_much
                    cells = [_cell(v) for v in values]
                    longest = max(map(len, cells), default=0)
                    characters += sum(map(len, cells))
                    if characters > limits.characters or longest > limits.cell_characters:
                        raise too_much
                    if not _blank(cells):
                        yield line, cells
        finally:
            book.close()
    except FileProblem:
        raise
    except Exception as exc:  # a damaged workbook can fail in many ways; all mean "unreadable"
        if _caused_by(exc, DefusedXmlException):  # openpyxl wraps it in a ValueError
            raise FileProblem("unsafe_xlsx", XLSX_UNSAFE) from None
        raise FileProblem("unreadable", BAD_XLSX) from None


def _quietly(call, *args, **kwargs):
    """openpyxl warns about features it ignores (styles, validation); they don't matter here.
    Only its own calls are silenced: this generator may be paused between rows while the
    caller's code runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
