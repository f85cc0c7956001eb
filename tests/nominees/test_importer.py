"""The nominee importer: clean files import whole; bad rows are named by line, column and code."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from flask_babel import force_locale

from surveyapp.nominees.importer import NomineeRow, parse_nominees
from surveyapp.reference import local_authorities
from tests.conftest import EXAMPLE_NOMINEES

EXAMPLE = EXAMPLE_NOMINEES
HEADER = "name,email,la_code,service_area,agency,role,preferred_language"
GOOD = "Catrin Hughes,catrin.hughes@example.org,RCT,children,local_authority,Head,en"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def xlsx_bytes(rows: dict[int, list], *, first_sheet_title: str = "Nominees") -> bytes:
    """A workbook whose first sheet holds ``rows`` at the given (1-based) row numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = first_sheet_title
    for number, values in rows.items():
        for col, value in enumerate(values, start=1):
            sheet.cell(row=number, column=col, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def codes(result) -> list[tuple[int, str | None, str]]:
    return [(p.line, p.column, p.code) for p in result.problems]


BAD_ROWS = [
    HEADER,                                                                       # 1
    GOOD,                                                                         # 2
    "Bad Email,not-an-email,RCT,children,local_authority,Manager,en",            # 3
    "Unknown LA,la@example.org,XYZ,children,local_authority,Manager,cy",         # 4
    "Unknown Area,area@example.org,CRF,families,police,Manager,en",              # 5
    "Duplicate,Catrin.Hughes@EXAMPLE.org,NWP,adults,health,Nurse,en",            # 6
    "No Language,lang@example.org,GWN,whole area,third-sector,Officer,",         # 7
    "Gwion Vaughan,gwion@example.org,den,Whole-Area,Local Authority,Lead,Cymraeg",  # 8
]
BAD_EXPECTED = [
    (3, "email", "bad_email"),
    (4, "la_code", "unknown_la"),
    (5, "service_area", "unknown_service_area"),
    (6, "email", "duplicate_in_file"),
    (7, "preferred_language", "missing_language"),
]


def test_the_shared_example_imports_cleanly():
    result = parse_nominees(EXAMPLE.name, EXAMPLE.read_bytes())

    assert result.ok and result.problems == []
    assert result.total_lines == 33
    assert len(result.rows) == len(result.valid_rows) == 33
    assert {row.la_code for row in result.rows} == set(local_authorities())
    assert [row.line for row in result.rows] == list(range(2, 35))
    assert result.rows[2] == NomineeRow(
        line=4, name="Siân Morgan", email="sian.morgan@example.org", la_code="CAY",
        service_area="children", agency="local_authority",
        role="Service Manager Children's Services", preferred_language="cy",
    )


def test_bom_and_welsh_letters_survive():
    data = csv_bytes(
        HEADER,
        "Siân Ŵyn Llŷr,Sian.Wyn@Example.org,ang,children,local_authority,Rheolwr Gwasanaeth,cy",
        bom=True,
    )
    result = parse_nominees("enwebeion.csv", data)

    assert result.ok
    (row,) = result.rows
    assert row.name == "Siân Ŵyn Llŷr"
    assert row.role == "Rheolwr Gwasanaeth"
    assert row.email == "sian.wyn@example.org"
    assert row.la_code == "ANG"


def test_decomposed_accents_are_composed():
    data = csv_bytes(HEADER, "Sia\u0302n,s@example.org,ANG,children,police,,cy")
    assert parse_nominees("n.csv", data).rows[0].name == "Siân"


def test_each_bad_row_is_reported_on_its_own_line():
    result = parse_nominees("nominees.csv", csv_bytes(*BAD_ROWS))

    assert not result.ok
    assert codes(result) == BAD_EXPECTED
    assert result.bad_lines == [3, 4, 5, 6, 7]
    assert result.total_lines == 7
    assert [row.line for row in result.rows] == [2, 3, 4, 5, 6, 7, 8]
    assert [row.line for row in result.valid_rows] == [2, 8]
    duplicate = result.problems[3]
    assert duplicate.params["first_line"] == 2
    assert duplicate.params["value"] == "catrin.hughes@example.org"


def test_lenient_spellings_are_normalised():
    result = parse_nominees("nominees.csv", csv_bytes(*BAD_ROWS))
    row = result.valid_rows[-1]
    assert (row.la_code, row.service_area, row.agency, row.preferred_language) == (
        "DEN", "whole_area", "local_authority", "cy",
    )
    # the row with a missing language still had its other spellings tidied
    no_language = result.rows[5]
    assert (no_language.service_area, no_language.agency) == ("whole_area", "third_sector")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("cy", "cy"), ("EN", "en"), ("unknown", "unknown"), ("Welsh", "cy"), ("cymraeg", "cy"),
     ("English", "en"), ("Saesneg", "en")],
)
def test_language_spellings(typed, stored):
    data = csv_bytes(HEADER, f"A Person,a@example.org,ANG,children,police,,{typed}")
    result = parse_nominees("n.csv", data)
    assert result.ok
    assert result.rows[0].preferred_language == stored


def test_one_row_can_have_every_problem():
    data = csv_bytes(HEADER, ",,,,,Role only,Gaelic")
    result = parse_nominees("n.csv", data)
    assert codes(result) == [
        (2, "name", "missing_name"),
        (2, "email", "bad_email"),
        (2, "la_code", "unknown_la"),
        (2, "service_area", "unknown_service_area"),
        (2, "agency", "unknown_agency"),
        (2, "preferred_language", "unknown_language"),
    ]
    assert result.valid_rows == []


def test_unknown_agency():
    data = csv_bytes(HEADER, "A Person,a@example.org,ANG,children,fire brigade,,en")
    assert codes(parse_nominees("n.csv", data)) == [(2, "agency", "unknown_agency")]


def test_quoted_multiline_value_keeps_later_line_numbers_right():
    data = csv_bytes(
        HEADER,                                                          # 1
        'Role Over Lines,r@example.org,ANG,children,police,"Lead\r\n'    # 2
        'and second line",en',                                           # 3
        "",                                                              # 4 (blank: skipped)
        "Bad Email,nope,ANG,children,police,,en",                        # 5
    )
    result = parse_nominees("n.csv", data)

    assert codes(result) == [(5, "email", "bad_email")]
    assert result.rows[0].role == "Lead and second line"  # one line, as every one-line field
    assert [row.line for row in result.rows] == [2, 5]
    assert result.total_lines == 2


def test_headers_are_matched_loosely_in_any_order_and_extras_ignored():
    data = csv_bytes(
        " Preferred_Language ,EMAIL,Notes,Name,la_code,Service Area,agency,role",
        "cy,x@example.org,ignore me,Nia,CRF,adults,health,Nurse",
        "en,y@example.org",  # short row: the missing cells are empty
    )
    result = parse_nominees("n.csv", data)

    assert result.rows[0] == NomineeRow(2, "Nia", "x@example.org", "CRF", "adults", "health",
                                        "Nurse", "cy")
    assert codes(result) == [
        (3, "name", "missing_name"),
        (3, "la_code", "unknown_la"),
        (3, "service_area", "unknown_service_area"),
        (3, "agency", "unknown_agency"),
    ]


def test_missing_columns_are_each_reported_and_rows_not_checked():
    data = csv_bytes("Name,E-mail address,la_code,agency", "Nia,bad,XYZ,nowhere")
    result = parse_nominees("n.csv", data)

    assert codes(result) == [
        (1, "email", "missing_column"),
        (1, "service_area", "missing_column"),
        (1, "role", "missing_column"),
        (1, "preferred_language", "missing_column"),
    ]
    assert result.rows == []


def test_text_that_is_not_utf8_is_unreadable():
    data = (HEADER + "\nSi\xe2n,s@example.org,ANG,children,police,,cy\n").encode("cp1252")
    result = parse_nominees("n.csv", data)
    assert codes(result) == [(0, None, "unreadable")]
    assert result.rows == []


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        # an unmatched quote must not swallow the nominees after it
        ([HEADER, GOOD, '"Jones, Mark,m@example.org,ANG,children,police,,en', GOOD], 3),
        ([HEADER, GOOD, GOOD, '"Nell" Jones,n@example.org,ANG,children,police,,en'], 4),
        ([HEADER, "A,a@example.org,ANG,children,police,\"" + "x" * 200_000 + "\",en"], 2),
    ],
    ids=["unmatched-quote", "text-after-quote", "huge-field"],
)
def test_malformed_csv_is_unreadable_from_the_bad_line(rows, line):
    result = parse_nominees("n.csv", csv_bytes(*rows))
    assert codes(result) == [(0, None, "unreadable")]
    assert result.problems[0].params == {"line": line}
    assert result.rows == []


def test_quotes_inside_an_unquoted_value_are_kept():
    data = csv_bytes(HEADER, 'Helen "Nell" O\'Brien,h@example.org,ANG,children,police,,en')
    assert parse_nominees("n.csv", data).rows[0].name == 'Helen "Nell" O\'Brien'


def test_unsupported_extension_is_unreadable():
    for name in ("nominees.xls", "nominees.txt", "nominees", ""):
        result = parse_nominees(name, csv_bytes(HEADER, GOOD))
        assert codes(result) == [(0, None, "unreadable")], name


def test_extension_is_case_insensitive():
    assert parse_nominees("NOMINEES.CSV", csv_bytes(HEADER, GOOD)).ok


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n , ,\r\n\r\n"])
def test_empty_file(data):
    assert codes(parse_nominees("n.csv", data)) == [(0, None, "empty_file")]


def test_header_without_rows_is_an_empty_file():
    assert codes(parse_nominees("n.csv", csv_bytes(HEADER, ",,,"))) == [(0, None, "empty_file")]


def test_too_many_rows_stops_with_one_problem():
    rows = [f"P{i},p{i}@example.org,ANG,children,police,,en" for i in range(4)]
    assert parse_nominees("n.csv", csv_bytes(HEADER, *rows[:3]), max_rows=3).ok

    result = parse_nominees("n.csv", csv_bytes(HEADER, *rows, "bad,row"), max_rows=3)
    assert codes(result) == [(0, None, "too_many_rows")]
    assert result.rows == []
    assert result.problems[0].params == {"max": 3}


def test_existing_emails_are_already_invited():
    data = csv_bytes(HEADER, GOOD, "Nia,nia@example.org,ANG,children,police,,cy")
    result = parse_nominees(
        "n.csv", data, existing_emails=frozenset({" Catrin.Hughes@example.org", "x@example.org"})
    )
    assert codes(result) == [(2, "email", "already_invited")]
    assert [row.email for row in result.valid_rows] == ["nia@example.org"]


def test_an_invited_duplicate_gets_both_problems():
    data = csv_bytes(HEADER, GOOD, GOOD)
    result = parse_nominees("n.csv", data, existing_emails={"catrin.hughes@example.org"})
    assert codes(result) == [
        (2, "email", "already_invited"),
        (3, "email", "duplicate_in_file"),
        (3, "email", "already_invited"),
    ]


# --- Excel workbooks --------------------------------------------------------------------------


def test_xlsx_same_checks_with_sheet_row_numbers():
    rows = {number: line.split(",") for number, line in enumerate(BAD_ROWS, start=1)}
    # move everything after the header down two rows: a blank row 2 and row 3 left empty
    rows = {(n if n == 1 else n + 2): v for n, v in rows.items()}
    rows[12] = ["Numbers", "num@example.org", "ANG", "children", "police", 42, "en"]
    result = parse_nominees("Nominees.XLSX", xlsx_bytes(rows))

    assert codes(result) == [(line + 2, col, code) for line, col, code in BAD_EXPECTED]
    assert [row.line for row in result.valid_rows] == [4, 10, 12]
    assert result.valid_rows[-1].role == "42"
    assert result.total_lines == 8


def test_xlsx_the_example_imports_cleanly():
    lines = EXAMPLE.read_text("utf-8").splitlines()
    rows = {number: line.split(",") for number, line in enumerate(lines, start=1)}
    result = parse_nominees("n.xlsx", xlsx_bytes(rows))
    assert result.ok and len(result.valid_rows) == 33
    assert "Gwenllïan Parry" in {row.name for row in result.rows}


def test_xlsx_reads_the_first_sheet_even_if_another_is_active():
    book = openpyxl.Workbook()
    book.active.append(HEADER.split(","))
    book.active.append(GOOD.split(","))
    other = book.create_sheet("Notes")
    other.append(["nothing useful"])
    book.active = 1
    buffer = io.BytesIO()
    book.save(buffer)
    result = parse_nominees("n.xlsx", buffer.getvalue())
    assert result.ok and result.rows[0].name == "Catrin Hughes"


def test_xlsx_missing_columns_and_empty_sheet():
    result = parse_nominees("n.xlsx", xlsx_bytes({1: ["name", "email"], 2: ["A", "a@example.org"]}))
    assert [p.column for p in result.problems] == [
        "la_code", "service_area", "agency", "role", "preferred_language",
    ]
    assert {p.code for p in result.problems} == {"missing_column"}
    assert codes(parse_nominees("n.xlsx", xlsx_bytes({}))) == [(0, None, "empty_file")]


def _zip_with(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04 this is not really a zip",
        csv_bytes(HEADER, GOOD),  # a CSV renamed to .xlsx
        _zip_with("hello.txt", b"hello"),
        _zip_with("[Content_Types].xml", b"<not xml"),
    ],
    ids=["empty", "bad-zip", "csv", "zip-without-workbook", "broken-xml"],
)
def test_corrupt_xlsx_is_unreadable(data):
    result = parse_nominees("n.xlsx", data)
    assert codes(result) == [(0, None, "unreadable")]


def test_truncated_xlsx_is_unreadable():
    whole = xlsx_bytes({1: HEADER.split(","), 2: GOOD.split(",")})
    assert codes(parse_nominees("n.xlsx", whole[: len(whole) // 2])) == [(0, None, "unreadable")]


# --- messages ---------------------------------------------------------------------------------


def test_messages_name_the_line_the_value_and_what_is_allowed(app):
    result = parse_nominees("nominees.csv", csv_bytes(*BAD_ROWS))
    by_code = {p.code: p for p in result.problems}

    with app.test_request_context(), force_locale("en"):
        bad_email = by_code["bad_email"].message
        assert bad_email == "Line 3: 'not-an-email' is not a valid email address."
        unknown_la = by_code["unknown_la"].message
        assert unknown_la.startswith("Line 4: 'XYZ' is not a local authority code.")
        assert all(code in unknown_la for code in local_authorities())
        assert by_code["unknown_service_area"].message == (
            "Line 5: 'families' is not a service area. Use one of: children, adults, whole_area."
        )
        duplicate = by_code["duplicate_in_file"].message
        assert "Line 6" in duplicate and "catrin.hughes@example.org" in duplicate
        assert "line 2" in duplicate
        assert "Line 7" in by_code["missing_language"].message
        assert "cy, en, unknown" in by_code["missing_language"].message


def test_every_message_renders_in_both_locales(app):
    """Whatever the Welsh catalogue holds, each message renders and keeps its line and value."""
    results = [
        parse_nominees("n.csv", csv_bytes(*BAD_ROWS), existing_emails={"la@example.org"}),
        parse_nominees("n.csv", csv_bytes(HEADER, ",,,,,,Gaelic", ",,,,,,")),
        parse_nominees("n.csv", csv_bytes(HEADER, ",x@example.org,,,,,")),
        parse_nominees("n.csv", csv_bytes("name,email")),
        parse_nominees("n.csv", b"\xff\xfe"),
        parse_nominees("n.csv", csv_bytes(HEADER, GOOD, '"unmatched,quote')),
        parse_nominees("n.pdf", b""),
        parse_nominees("n.xlsx", b"nope"),
        parse_nominees("n.csv", b""),
        parse_nominees("n.csv", csv_bytes(HEADER)),
        parse_nominees("n.csv", csv_bytes(HEADER, GOOD, GOOD), max_rows=1),
    ]
    problems = [p for result in results for p in result.problems]
    assert {p.code for p in problems} >= {
        "bad_email", "unknown_la", "unknown_service_area", "unknown_agency", "duplicate_in_file",
        "already_invited", "missing_language", "unknown_language", "missing_name",
        "missing_column", "unreadable", "empty_file", "too_many_rows",
    }
    for locale in ("en", "cy"):
        with app.test_request_context(), force_locale(locale):
            for problem in problems:
                message = problem.message
                assert message.endswith("."), message
                if problem.line:
                    assert str(problem.line) in message
                if "value" in problem.params:
                    assert problem.params["value"] in message


def test_long_values_are_shortened_in_messages(app):
    data = csv_bytes(HEADER, "A,a@example.org,ANG,children,police,," + "x" * 500)
    (problem,) = parse_nominees("n.csv", data).problems
    with app.test_request_context(), force_locale("en"):
        assert len(problem.message) < 200
