"""Every payload in every text column of an uploaded nominee list (CSV and XLSX), in its file
name, and in the "import only the valid rows" form (as a browser posts it, and tampered with),
in English and Welsh; and files that are not what they claim to be."""

from __future__ import annotations

import base64
import io
import zipfile
from xml.sax.saxutils import escape

import openpyxl
import pytest

from .kit import FEW, LANGUAGES, PAYLOADS, email_with, one_line, row

pytestmark = pytest.mark.parametrize("language", LANGUAGES)
payloads = pytest.mark.parametrize("payload", PAYLOADS, ids=[p.id for p in PAYLOADS])
few = pytest.mark.parametrize("payload", FEW, ids=[p.id for p in FEW])

HEADER = ("name", "email", "la_code", "service_area", "agency", "role", "preferred_language")
UPLOAD = "/researcher/nominees/import"
PLACEHOLDER = "PLACEHOLDER-CELL"


def _row(uid: int, **cells) -> dict:
    return {"name": f"Nominee {uid}", "email": f"upload.{uid}@example.org", "la_code": "CRF",
            "service_area": "adults", "agency": "health", "role": "Nurse", "preferred_language": "cy", **cells}


def csv_of(*rows: dict) -> bytes:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    lines = [",".join(HEADER)] + [",".join(quoted(r[c]) for c in HEADER) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def xlsx_with(name: str, uid: int) -> bytes:
    """A workbook whose name cell holds ``name`` exactly, control characters included (which
    openpyxl will not write: the cell's XML is put in place by hand)."""
    book = openpyxl.Workbook()
    book.active.append(list(HEADER))
    book.active.append([_row(uid)[c] if c != "name" else PLACEHOLDER for c in HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item).replace(PLACEHOLDER.encode(), escape(name).encode("utf-8")))
    return out.getvalue()


def _upload(staff, data: bytes, filename: str):
    return staff.client.post(UPLOAD, data={"csrf_token": staff.csrf, "file": (io.BytesIO(data), filename)},
                             content_type="multipart/form-data")


def _imported(world, accepted: bool, payload, field: str, uid: int, value: str):
    if not accepted:
        return
    assert not payload.refuse_line, "imported a value that must be refused"
    stored = row(world.app, "SELECT name, email, role FROM nominee ORDER BY id DESC LIMIT 1")
    expected = one_line(value)
    assert stored[field] == (expected.lower() if field == "email" else expected)


@payloads
@pytest.mark.parametrize("field", ["name", "email", "role"])
def test_csv_cell(world, language, payload, field):
    staff, uid = world.staff["researcher", language], world.next_uid()
    value = email_with(payload, uid) if field == "email" else payload.value
    before = world.audit.counts()
    response = _upload(staff, csv_of(_row(uid, **{field: value})), "nominees.csv")
    answer = world.check(staff.client, response, language, allowed={302, 400, 413})
    world.settle(before, {"nominee": 1, "participant": 1} if answer.status == 302 else {})
    _imported(world, answer.status == 302, payload, field, uid, value)


@payloads
def test_xlsx_cell(world, language, payload):
    staff, uid = world.staff["researcher", language], world.next_uid()
    before = world.audit.counts()
    response = _upload(staff, xlsx_with(payload.value, uid), "nominees.xlsx")
    answer = world.check(staff.client, response, language, allowed={302, 400, 413})
    world.settle(before, {"nominee": 1, "participant": 1} if answer.status == 302 else {})
    _imported(world, answer.status == 302, payload, "name", uid, payload.value)


@few
def test_file_name(world, language, payload):
    """The file name is shown on the problems page (the file has one bad row)."""
    staff, uid = world.staff["researcher", language], world.next_uid()
    before = world.audit.counts()
    response = _upload(staff, csv_of(_row(uid, email="not an address")), payload.value + ".csv")
    world.check(staff.client, response, language, allowed={400})
    world.settle(before)


@payloads
def test_only_the_valid_rows_as_a_browser_does(world, language, payload):
    """A good row and a hostile one: the hostile one never gets in, whichever way."""
    staff, uid = world.staff["researcher", language], world.next_uid()
    good, hostile = _row(uid), _row(uid + 1000_000, name=payload.value)
    before = world.audit.counts()
    response = _upload(staff, csv_of(good, hostile), "nominees.csv")
    answer = world.check(staff.client, response, language, allowed={302, 400})
    if answer.status == 302:
        world.settle(before, {"nominee": 2, "participant": 2})
        _imported(world, True, payload, "name", uid, payload.value)
        return
    world.settle(before)
    staff.page, staff.path = answer.body, UPLOAD
    form = staff.form(action="/valid-rows")
    response = staff.client.post(staff.action(form), data=form["hidden"])
    world.check(staff.client, response, language, allowed={302})
    world.settle(before, {"nominee": 1, "participant": 1})
    assert row(world.app, "SELECT email FROM nominee ORDER BY id DESC LIMIT 1")["email"] == good["email"]


@pytest.mark.parametrize(("part", "payload"), [("content", p) for p in PAYLOADS] + [("filename", p) for p in FEW],
                         ids=[f"content-{p.id}" for p in PAYLOADS] + [f"filename-{p.id}" for p in FEW])
def test_only_the_valid_rows_tampered(world, language, payload, part):
    """The form carries the file back in a hidden field: what if it is changed on the way?"""
    staff, uid = world.staff["researcher", language], world.next_uid()
    data = {"csrf_token": staff.csrf, "filename": "nominees.csv",
            "content": base64.b64encode(csv_of(_row(uid, name=payload.value))).decode("ascii")}
    if part == "filename":
        data["filename"] = payload.value
    before = world.audit.counts()
    response = staff.client.post(f"{UPLOAD}/valid-rows", data=data)
    answer = world.check(staff.client, response, language, allowed={302, 400})
    added = row(world.app, "SELECT COUNT(*) AS n FROM nominee")["n"] - before["nominee"]
    world.settle(before, {"nominee": added, "participant": added})
    assert added in (0, 1) and (added == 0 or answer.status == 302)
    if part == "content":
        _imported(world, added == 1, payload, "name", uid, payload.value)


@pytest.mark.parametrize("case", ["not-base64", "base64-of-garbage", "xlsx-named-csv", "csv-named-xlsx",
                                  "invalid-utf8", "nul-bytes", "no-extension", "empty"])
def test_files_that_are_not_what_they_say(world, language, case):
    staff, uid = world.staff["researcher", language], world.next_uid()
    good = csv_of(_row(uid))
    files = {
        "not-base64": None, "base64-of-garbage": None,
        "xlsx-named-csv": (xlsx_with("Nominee", uid), "n.csv"),
        "csv-named-xlsx": (good, "n.xlsx"),
        "invalid-utf8": (good.replace(b"Nominee", b"\xff\xfeNominee"), "n.csv"),
        "nul-bytes": (good.replace(b"Nurse", b"Nu\x00rse"), "n.csv"),
        "no-extension": (good, "nominees"),
        "empty": (b"", "n.csv"),
    }
    before = world.audit.counts()
    if files[case] is None:
        content = "%%%not base64%%%" if case == "not-base64" else base64.b64encode(b"\xff\xfe\x00garbage").decode()
        response = staff.client.post(f"{UPLOAD}/valid-rows",
                                     data={"csrf_token": staff.csrf, "filename": "n.csv", "content": content})
    else:
        response = _upload(staff, *files[case])
    world.check(staff.client, response, language, allowed={302, 400})
    world.settle(before)
