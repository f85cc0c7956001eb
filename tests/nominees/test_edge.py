"""Nominee input at the edge, through the web pages and the command line, on the database the
suite runs on (SQLite, or PostgreSQL with SURVEYAPP_TEST_DATABASE_URL): one normalisation
path for the form, the importer and the CLI; refusals leave the database as it was (read back
to check); right-to-left overrides already stored cannot reorder the staff pages."""

from __future__ import annotations

import io
import re
import traceback
from html.parser import HTMLParser

import openpyxl
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from surveyapp import text
from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.cli import main
from surveyapp.db import db
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.services import import_nominees
from surveyapp.participant.models import Participant
from surveyapp.participant.services import create_linked_participant
from surveyapp.studies.models import Study
from tests.conftest import Browser

RESEARCHER = "researcher@example.org"
PASSWORD = "a-long-password-123"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language"
GOOD = "Catrin Hughes,catrin.hughes@example.org,RCT,children,local_authority,Head,en"
W_DECOMPOSED, W_COMPOSED = "w\u0302", "\u0175"
RLO = "\u202e"


@pytest.fixture
def researcher(app, study) -> Browser:
    """A researcher, signed in, reading pages in English."""
    with app.app_context():
        create_user(RESEARCHER, "Ymchwilydd", PASSWORD, {Role.RESEARCHER}, "en")
        db.session.commit()
    browser = Browser(app)
    browser.get("/login")
    assert browser.post("/login", {"email": RESEARCHER, "password": PASSWORD}, fetch=False).status_code == 302
    return browser


def stored(app) -> list[tuple[str, str, str]]:
    """(name, email, role) of every nominee, read back from the database."""
    with app.app_context():
        return sorted(tuple(r) for r in db.session.execute(sa.select(Nominee.name, Nominee.email, Nominee.role)))


def participants(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Participant))


def in_page_language(app, template, **params) -> str:
    with app.test_request_context():
        return str(template) % params


def upload(browser: Browser, data: bytes, filename: str):
    browser.get("/researcher/nominees/import")
    return browser.client.post("/researcher/nominees/import", content_type="multipart/form-data",
                               data={"csrf_token": browser.csrf(), "file": (io.BytesIO(data), filename)})


def csv_file(*lines: str) -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode("utf-8")


def row(name: str, email: str, role: str = "Head") -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    return f"{quoted},{email},RCT,children,local_authority,{role},en"


NEW = {"name": "Alys Bevan", "email": "alys.bevan@example.org", "la_code": "MON", "service_area": "adults",
       "agency": "health", "role": "Nurse", "preferred_language": "cy"}


# --- the form (item 7: one path for every input; item 3: refusals, not 500s) -----------------

def test_the_form_composes_letters_so_the_same_address_typed_another_way_is_a_duplicate(app, researcher):
    response = researcher.post("/researcher/nominees/new", {**NEW, "name": f"Gwen {W_DECOMPOSED}yn\r\nJones",
                                                            "email": f"{W_COMPOSED}ales@example.org"})
    assert response.status_code == 302
    assert stored(app) == [(f"Gwen {W_COMPOSED}yn Jones", f"{W_COMPOSED}ales@example.org", "Nurse")]

    again = researcher.post("/researcher/nominees/new", {**NEW, "email": f"{W_DECOMPOSED.upper()}ales@Example.ORG"})
    assert again.status_code == 400
    assert "Someone with that email address is already on the list." in researcher.page
    assert len(stored(app)) == participants(app) == 1


@pytest.mark.parametrize(("field", "value", "template", "code"), [
    ("name", "Catrin\x00Hughes", text.CONTROL_CHARACTER, "U+0000"),
    ("email", "catrin\x00@example.org", text.CONTROL_CHARACTER, "U+0000"),
    ("role", "Head\x07", text.CONTROL_CHARACTER, "U+0007"),
    ("name", f"Catrin {RLO}sehguH", text.BIDI_CONTROL, "U+202E"),
    ("email", f"{RLO}catrin@example.org", text.BIDI_CONTROL, "U+202E"),
])
def test_the_form_refuses_control_and_bidi_characters_with_a_reason(app, researcher, field, value, template,
                                                                     code):
    response = researcher.post("/researcher/nominees/new", {**NEW, field: value})
    assert response.status_code == 400
    message = in_page_language(app, template, code=code)
    assert message in researcher.page
    assert "\x00" not in researcher.page and RLO not in researcher.page  # shown back as U+FFFD
    assert stored(app) == [] and participants(app) == 0


def test_the_form_refuses_an_over_long_name(app, researcher):
    response = researcher.post("/researcher/nominees/new", {**NEW, "name": "x" * 201})
    assert response.status_code == 400
    assert in_page_language(app, text.TOO_LONG, max=200) in researcher.page
    assert stored(app) == []


def test_the_form_keeps_a_non_ascii_local_part_composed(app, researcher):
    response = researcher.post("/researcher/nominees/new", {**NEW, "email": f"{W_DECOMPOSED}ales@EXAMPLE.org"})
    assert response.status_code == 302
    assert stored(app)[0][1] == f"{W_COMPOSED}ales@example.org"


# --- the web import ---------------------------------------------------------------------------

def test_a_file_with_refused_values_imports_nothing_and_names_each_line(app, researcher):
    data = csv_file(
        GOOD,                                                     # 2
        row("Null\x00Byte", "null@example.org"),                  # 3
        row("x" * 201, "long@example.org"),                       # 4: a 500 on PostgreSQL before
        row(f"{RLO}evil", "rlo@example.org"),                     # 5
        row("Bell", "bell@example.org", role="Head\x07"),         # 6
    )
    response = upload(researcher, data, "nominees.csv")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    found = set(re.findall(r'data-line="(\d+)" data-code="(\w+)"', page))
    assert found == {("3", "control_character"), ("4", "too_long"), ("5", "bidi_control"), ("6", "control_character")}
    assert "\x00" not in page and RLO not in page
    assert stored(app) == [] and participants(app) == 0


def test_two_line_names_and_accented_addresses_import_on_one_line_and_composed(app, researcher):
    book = openpyxl.Workbook()
    book.active.append(HEADER.split(","))
    book.active.append(["Catrin\nHughes", f"{W_DECOMPOSED}ales@example.org", "RCT", "children", "local_authority",
                        "Head\r\nof service", "en"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(researcher, buffer.getvalue(), "nominees.xlsx")
    assert response.status_code == 302
    assert stored(app) == [("Catrin Hughes", f"{W_COMPOSED}ales@example.org", "Head of service")]


def test_a_hostile_workbook_is_refused_through_the_page_with_its_message(app, researcher):
    from tests.nominees.test_hostile_xlsx import good_row, handmade

    data = handmade(good_row("x" * 40_000))
    response = upload(researcher, data, "nominees.xlsx")
    assert response.status_code == 400
    assert 'data-code="xlsx_too_large"' in response.get_data(as_text=True)
    assert stored(app) == []


# --- the command line (a test that must bite: the CLI must not ignore bad rows) ---------------

BAD_FILE = csv_file(
    GOOD,                                                                  # 2 good
    "Bad Email,not-an-email,RCT,adults,local_authority,Lead,en",           # 3
    row("Null\x00Byte", "null@example.org"),                               # 4
    "Gareth Price,gareth.price@example.org,NTL,whole_area,police,Lead,en",  # 5 good
    "Unknown LA,unknown@example.org,XYZ,children,local_authority,Lead,cy",  # 6
)


def test_the_cli_imports_nothing_from_a_file_with_bad_rows_and_names_each_line(app, study, tmp_path):
    path = tmp_path / "nominees.csv"
    path.write_bytes(BAD_FILE)
    result = app.test_cli_runner().invoke(main, ["nominees", "import", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), \
        "".join(traceback.format_exception(*result.exc_info))  # refused, not crashed
    assert stored(app) == [] and participants(app) == 0

    with app.test_request_context(), force_locale("en"):  # the command speaks English
        expected = parse_nominees(path.name, BAD_FILE)
        messages = {p.line: p.message for p in expected.problems}
    assert sorted(messages) == [3, 4, 6]
    for line, message in messages.items():
        assert message in result.output, (line, result.output)
        assert f"Line {line}:" in message


def test_the_cli_imports_only_the_good_rows_when_asked(app, study, tmp_path):
    path = tmp_path / "nominees.csv"
    path.write_bytes(BAD_FILE)
    result = app.test_cli_runner().invoke(main, ["nominees", "import", str(path), "--valid-only"])
    assert result.exit_code == 0, result.output
    assert [email for _, email, _ in stored(app)] == ["catrin.hughes@example.org", "gareth.price@example.org"]
    assert participants(app) == 2


def test_the_cli_normalises_as_the_page_does(app, study, tmp_path):
    path = tmp_path / "nominees.csv"
    path.write_bytes(csv_file(row(f"Gwen {W_DECOMPOSED}yn\nJones", f"{W_DECOMPOSED.upper()}ales@example.org")))
    result = app.test_cli_runner().invoke(main, ["nominees", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert stored(app) == [(f"Gwen {W_COMPOSED}yn Jones", f"{W_COMPOSED}ales@example.org", "Head")]


# --- display (item 8): stored text is isolated wherever staff see it --------------------------

class _Isolation(HTMLParser):
    """For each text node: is it inside a <bdi> (or an element with dir="auto")?"""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.texts: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "input", "img", "meta", "link", "hr"):
            self.stack.append(tag == "bdi" or dict(attrs).get("dir") == "auto")

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        self.texts.append((data, any(self.stack)))


def isolation(page: str) -> _Isolation:
    parser = _Isolation()
    parser.feed(page)
    return parser


def add_stored_spoof(app, study) -> str:
    """A row stored before input was checked (or by some other way in): the model, directly."""
    name = f"Catrin {RLO}exe.txt"
    with app.app_context():
        row_ = db.session.get(Study, study.id)
        participant, nonce = create_linked_participant(row_, app.config["LINK_KEY"], language=None)
        db.session.add(Nominee(study_id=row_.id, participant=participant, link_nonce=nonce, name=name,
                               email=f"spoof{RLO}@example.org", la_code="RCT", service_area="children",
                               agency="local_authority", role="", preferred_language="unknown"))
        db.session.commit()
    return name


@pytest.mark.parametrize("path", ["/researcher/nominees/", "/researcher/nominees/{id}"])
def test_a_stored_right_to_left_override_is_shown_inside_bdi(app, study, researcher, path):
    name = add_stored_spoof(app, study)
    with app.app_context():
        nominee_id = db.session.scalar(sa.select(Nominee.id).where(Nominee.name == name))
    response = researcher.get(path.format(id=nominee_id))
    assert response.status_code == 200
    holding = [(data, isolated) for data, isolated in isolation(researcher.page).texts if RLO in data]
    assert holding, "the name is on the page"
    assert all(isolated for _, isolated in holding), holding
    assert any(name in data for data, _ in holding)


def test_the_saved_message_isolates_the_name(app, study, researcher):
    with app.app_context():
        result = parse_nominees("n.csv", csv_file(GOOD))
        nominee, = import_nominees(db.session.get(Study, study.id), result.rows, app.config["LINK_KEY"])
        db.session.commit()
        nominee_id = nominee.id
    response = researcher.post(f"/researcher/nominees/{nominee_id}/edit", {**NEW, "name": "Catrin Hughes",
                                                                     "email": "catrin.hughes@example.org"})
    assert response.status_code == 302
    researcher.get(response.location)
    assert "\u2068Catrin Hughes\u2069" in researcher.page
