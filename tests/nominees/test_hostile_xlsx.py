"""Hostile workbooks: entity expansion, a zip bomb, a lying zip directory, too many cells or
characters. Each is refused with its own message before anything is imported, and the bomb
before its large part is unpacked."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from xml.sax.saxutils import escape

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.reading import XlsxLimits, xml_is_defused

HEADER = ["name", "email", "la_code", "service_area", "agency", "role", "preferred_language"]
PLACEHOLDER = "PLACEHOLDER-NAME"
SHARED = "xl/sharedStrings.xml"
LIMITS = XlsxLimits()


def workbook(*rows: list) -> bytes:
    """A workbook as openpyxl writes it (strings inline in the sheet)."""
    book = openpyxl.Workbook()
    for row in (HEADER, *rows):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def good_row(name=PLACEHOLDER, email="catrin.hughes@example.org"):
    return [name, email, "RCT", "children", "local_authority", "Head", "en"]


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PARTS = {
    "[Content_Types].xml":
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels":
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="xl/workbook.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument"/></Relationships>',
    "xl/workbook.xml":
        f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Nominees" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels":
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet"/>'
        '<Relationship Id="rId2" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings"/></Relationships>',
}


def write_strings(part, strings: list[str], prolog: str = "") -> None:
    part.write(f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<sst xmlns="{MAIN}">'.encode())
    for value in strings:
        part.write(f'<si><t xml:space="preserve">{escape(value)}</t></si>'.encode())
    part.write(b"</sst>")


def handmade(*rows: list, strings_part=write_strings) -> bytes:
    """A workbook as Excel writes it: every string once, in xl/sharedStrings.xml, referenced
    from the sheet. ``strings_part(part, strings)`` writes that part (streamed: a huge part
    never sits in memory here)."""
    strings: list[str] = []
    index: dict[str, int] = {}
    sheet = [f'<worksheet xmlns="{MAIN}"><sheetData>']
    for number, row in enumerate((HEADER, *rows), start=1):
        sheet.append(f'<row r="{number}">')
        for col, value in enumerate(row, start=1):
            at = index.setdefault(value, len(strings))
            if at == len(strings):
                strings.append(value)
            sheet.append(f'<c r="{get_column_letter(col)}{number}" t="s"><v>{at}</v></c>')
        sheet.append("</row>")
    sheet.append("</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in PARTS.items():
            archive.writestr(name, content)
        archive.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
        with archive.open(SHARED, "w", force_zip64=True) as part:
            strings_part(part, strings)
    return out.getvalue()


def test_a_handmade_workbook_reads_as_excel_would_write_it():
    result = parse_nominees("n.xlsx", handmade(good_row("Catrin Hughes")))
    assert result.ok and [row.name for row in result.rows] == ["Catrin Hughes"]


def codes(result):
    return [(p.line, p.code) for p in result.problems]


def test_openpyxl_parses_with_defusedxml():
    import defusedxml  # noqa: F401  (installed, as pyproject.toml requires)
    from openpyxl.xml import functions

    assert openpyxl.DEFUSEDXML is True
    assert functions.iterparse.__module__.startswith("defusedxml")
    assert xml_is_defused()


def test_entity_expansion_is_refused():
    """Billion laughs in the shared strings: defusedxml refuses the entity declarations, and
    the importer says so. (Kept small: if it were expanded it would be 1 MB, not gigabytes.)"""
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcd", "bcde", strict=True))

    def strings_part(part, strings):
        part.write(f'<?xml version="1.0"?><!DOCTYPE sst [{entities}]><sst xmlns="{MAIN}">'.encode())
        for value in strings:
            part.write(("<si><t>&e;</t></si>" if value == PLACEHOLDER else f"<si><t>{value}</t></si>").encode())
        part.write(b"</sst>")

    result = parse_nominees("n.xlsx", handmade(good_row(), strings_part=strings_part))
    assert codes(result) == [(0, "unsafe_xlsx")]
    assert result.rows == []


def test_a_zip_bomb_is_refused_from_the_directory_before_the_part_is_unpacked():
    """A cell of 40 million characters compresses to about 40 kB. The refusal comes from the
    sizes the zip declares, so reading it allocates nowhere near the unpacked size."""
    huge = 40_000_000

    def strings_part(part, strings):
        part.write(f'<?xml version="1.0"?><sst xmlns="{MAIN}">'.encode())
        for value in strings:
            if value != PLACEHOLDER:
                part.write(f"<si><t>{value}</t></si>".encode())
                continue
            part.write(b"<si><t>")
            chunk = b"A" * 1_000_000
            for _ in range(huge // len(chunk)):
                part.write(chunk)
            part.write(b"</t></si>")
        part.write(b"</sst>")

    data = handmade(good_row(), strings_part=strings_part)
    assert len(data) < 200_000
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        declared = archive.getinfo(SHARED).file_size
    assert declared > huge > LIMITS.unpacked_bytes

    tracemalloc.start()
    try:
        result = parse_nominees("n.xlsx", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert codes(result) == [(0, "xlsx_too_large")]
    assert result.problems[0].params == {"size": -(-sum_sizes(data) // 1_000_000), "max": 32}
    assert peak < 5_000_000, peak


def sum_sizes(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(i.file_size for i in archive.infolist())


def test_the_declared_sizes_are_what_is_checked():
    """A directory that claims 600 MB for a small part is refused as too large, which shows
    the check is made before the part is read (reading it would fail as damaged instead)."""
    data = bytearray(handmade(good_row("Catrin Hughes")))
    name = SHARED.encode()
    at = data.index(b"PK\x01\x02")  # the first central directory entry
    while True:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + length]) == name:
            break
        at = data.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, 600_000_000)  # uncompressed size in the central directory
    result = parse_nominees("n.xlsx", bytes(data))
    assert codes(result) == [(0, "xlsx_too_large")]


def test_too_many_parts_are_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook(good_row("Catrin Hughes")))) as source, \
            zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for i in range(LIMITS.parts):
            target.writestr(f"xl/media/empty{i}.bin", b"")
    assert codes(parse_nominees("n.xlsx", out.getvalue())) == [(0, "xlsx_too_large")]


def test_one_string_repeated_in_many_cells_is_too_many_characters():
    """Shared strings are stored once: 400 cells of 30,000 characters are a small file and
    12 million characters to read."""
    long_text = "x" * 30_000
    rows = [good_row("Catrin Hughes")] + [[long_text] * 8 for _ in range(50)]
    data = handmade(*rows)
    assert len(data) < 100_000
    result = parse_nominees("n.xlsx", data)
    assert codes(result) == [(0, "xlsx_too_large")]
    assert result.problems[0].template is not None and result.rows == []


def test_a_cell_longer_than_excel_allows_is_refused():
    result = parse_nominees("n.xlsx", handmade(good_row("x" * (LIMITS.cell_characters + 1))))
    assert codes(result) == [(0, "xlsx_too_large")]


def test_too_many_cells_are_refused():
    result = parse_nominees("n.xlsx", workbook(good_row("Catrin Hughes")),
                            xlsx_limits=XlsxLimits(cells=10))
    assert codes(result) == [(0, "xlsx_too_large")]


@pytest.mark.parametrize(("name", "code"), [("Catrin\x9bHughes", "control_character"),
                                            ("Catrin\u202eHughes", "bidi_control"),
                                            ("x" * 201, "too_long")])
def test_workbook_cells_go_through_the_same_checks(name, code):
    result = parse_nominees("n.xlsx", workbook(good_row(name)))
    assert codes(result) == [(2, code)]
    assert result.problems[0].column == "name"


def test_a_two_line_workbook_cell_is_one_name():
    result = parse_nominees("n.xlsx", workbook(good_row("Catrin\nHughes"),
                                               good_row("Huw\r\nDavies", "huw@example.org")))
    assert result.ok, codes(result)
    assert [row.name for row in result.rows] == ["Catrin Hughes", "Huw Davies"]
