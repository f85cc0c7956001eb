"""The researcher's progress dashboard and nominee pages, through the test client.

Nominees come from the shared example list (33 nominees over all 22 authorities) through the
real importer and services; participants progress through the real consent and answer
services. Pages are read by their data attributes (data-la, data-state, data-code,
data-status, data-line), and every visible title is compared with what the catalogue gives
in the page's language, so the tests hold while the Welsh catalogue is being completed.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext, ngettext

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.consent.services import record_consent
from surveyapp.dashboard.services import COVERAGE_TITLES, Coverage
from surveyapp.db import db, utcnow
from surveyapp.invitations.models import MessageKind, MessageStatus
from surveyapp.invitations.services import create_batch
from surveyapp.nominees import status as nominee_status
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.services import existing_emails, import_nominees
from surveyapp.nominees.status import STATUS_TITLES, NomineeStatus
from surveyapp.participant.models import Participant
from surveyapp.participant.services import create_participant
from surveyapp.reference import local_authorities
from surveyapp.responses.services import save_answers, submit
from surveyapp.studies.models import Study
from surveyapp.withdrawal.models import Channel, Scope
from surveyapp.withdrawal.services import withdraw
from tests.conftest import EXAMPLE_NOMINEES

from ..conftest import Browser

EXAMPLE = EXAMPLE_NOMINEES
RESEARCHER = "researcher@example.org"
REVIEWER = "reviewer@example.org"
PASSWORD = "a-long-password-123"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language"
DUPLICATE_MESSAGE = "Someone with that email address is already on the list."

# Who is who in the example list (email -> (LA, service area)).
RCT_CHILDREN = "catrin.hughes@example.org"
RCT_ADULTS = "huw.davies@example.org"
NTL_WHOLE = "gareth.price@example.org"
CAY_CHILDREN = "sian.morgan@example.org"
PEM_ADULTS = "james.walker@example.org"


# --- reading pages --------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else " " + c.text() + " "
                                for c in self.children).split())

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def all(self, tag: str | None = None, **attrs) -> list[Node]:
        """Descendants with this tag and these attributes (``None``: present, any value)."""
        found = []
        for node in self.iter():
            if node is self or (tag and node.tag != tag):
                continue
            if all((k.replace("_", "-") in node.attrs) if v is None
                   else node.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(node)
        return found

    def one(self, tag: str | None = None, **attrs) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> found"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def classes(node: Node) -> set[str]:
    return set((node.get("class") or "").split())


def _service_cells(row: Node) -> list[Node]:
    """The children's, adults' and overall cells of a coverage row: the first two and the last
    cells with a state (a column for whole-area returns may sit between them)."""
    cells = row.all("td", data_state=None)
    assert len(cells) >= 3, row.text()
    return [cells[0], cells[1], cells[-1]]


def coverage_rows(page: Node) -> dict[str, tuple[str, str, str]]:
    """(children, adults, overall) states per authority row of the coverage table."""
    table = page.one("table", id="coverage-table")
    return {tr.get("data-la"): tuple(td.get("data-state") for td in _service_cells(tr))
            for tr in table.all("tr", data_la=None)}


def coverage_cells(page: Node, code: str) -> list[Node]:
    return _service_cells(page.one("table", id="coverage-table").one("tr", data_la=code))


def tiles(page: Node) -> dict[str, str]:
    svg = page.one("svg", role="img")
    return {g.get("data-code"): g.get("data-state") for g in svg.all("g", data_code=None)
            if "tilemap-tile" in classes(g)}


def statuses(app, study) -> dict[int, str]:
    """Each nominee's status, from the one place that works it out (``nominees.status``)."""
    with app.app_context():
        return {pk: status.value for pk, status in nominee_status.statuses(study_row(study)).items()}


def status_table(page: Node) -> dict[str, tuple[str, int]]:
    """(visible title, count) per row of the dashboard's "nominees by status" table."""
    table = page.one("table", id="status-table")
    return {tr.get("data-status"): (tr.one("th").text(), int(tr.one("td").text()))
            for tr in table.all("tr", data_status=None)}


def summary(page: Node) -> dict[str, int]:
    """The 'at a glance' counts, in the order the page gives them."""
    values = [int(dd.text()) for dd in page.one("dl", **{"class": "summary"}).all("dd")]
    return dict(zip(("nominated", "approached", "engaged", "included"), values, strict=True))


def in_language(app, locale: str, message) -> str:
    """A catalogue message as a page in ``locale`` shows it (a callable is called there)."""
    with app.test_request_context(), force_locale(locale):
        if callable(message):
            return message()
        return gettext(message) if isinstance(message, str) else str(message)


# --- setting up -----------------------------------------------------------------------------

def add_user(app, email: str, roles: set[Role], language: str = "cy") -> None:
    with app.app_context():
        create_user(email, "Ymchwilydd Prawf", PASSWORD, roles, language)
        db.session.commit()


@pytest.fixture
def researcher(app) -> str:
    add_user(app, RESEARCHER, {Role.RESEARCHER}, "cy")
    return RESEARCHER


def study_row(study) -> Study:
    return db.session.get(Study, study.id)


def import_example(app, study) -> dict[str, int]:
    """The 33 example nominees, imported through the real importer; email -> nominee id."""
    with app.app_context():
        row = study_row(study)
        result = parse_nominees(EXAMPLE.name, EXAMPLE.read_bytes(),
                                existing_emails=existing_emails(row))
        assert result.ok, [p.code for p in result.problems]
        nominees = import_nominees(row, result.rows, app.config["LINK_KEY"])
        db.session.commit()
        return {n.email: n.id for n in nominees}


@pytest.fixture
def nominees(app, study) -> dict[str, int]:
    return import_example(app, study)


def nominee_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Nominee))


def sign_in(app, email: str = RESEARCHER) -> Browser:
    browser = Browser(app)
    assert browser.get("/login").status_code == 200
    response = browser.post("/login", {"email": email, "password": PASSWORD}, fetch=False)
    assert response.status_code == 302, response.status_code
    return browser


def dashboard(browser: Browser, query: str = "") -> Node:
    response = browser.get("/researcher/" + query)
    assert response.status_code == 200
    return dom(browser.page)


def agree_to_all(study) -> dict[str, bool]:
    return {item.id: True for item in study.consent_form.items}


def progress(app, study, email: str, *, opened=False, consent=False, answers=None, submitted=False,
             declined=False) -> None:
    """Move one nominee along the journey through the real services."""
    with app.app_context():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == email))
        participant = nominee.participant
        if opened or consent:
            participant.opened_at = utcnow()
        if consent:
            record_consent(participant, agree_to_all(study), language="en")
        if answers:
            save_answers(participant, answers)
        if submitted:
            submit(participant)
        if declined:
            nominee.declined_at = utcnow()
        db.session.commit()


def open_link_submission(app, study, answers: dict) -> None:
    with app.app_context():
        participant, _token = create_participant(study_row(study), source="open", language="cy")
        participant.opened_at = utcnow()
        record_consent(participant, agree_to_all(study), language="cy")
        save_answers(participant, answers)
        submit(participant)
        db.session.commit()


# --- the dashboard with nothing done yet ----------------------------------------------------

def test_dashboard_in_welsh_then_english_with_no_activity(app, study, researcher, nominees):
    browser = sign_in(app)
    codes = set(local_authorities())

    for locale in ("cy", "en"):
        if locale == "en":
            response = browser.get("/researcher/?lang=en")
            assert response.status_code == 302
            assert urlsplit(response.location).path == "/researcher/"
        page = dashboard(browser)
        assert page.one("html").get("lang") == locale

        rows = coverage_rows(page)
        assert set(rows) == codes and len(rows) == 22
        assert all(states == ("missing", "missing", "missing") for states in rows.values()), rows
        missing = in_language(app, locale, COVERAGE_TITLES[Coverage.MISSING])
        for code in codes:
            assert [td.text() for td in coverage_cells(page, code)] == [missing] * 3
        assert tiles(page) == {code: "missing" for code in codes}

        assert summary(page) == {"nominated": 33, "approached": 0, "engaged": 0, "included": 0}
        shown = statuses(app, study)
        assert shown == dict.fromkeys(nominees.values(), "not_invited")
        title = in_language(app, locale, STATUS_TITLES[NomineeStatus.NOT_INVITED])
        assert status_table(page)["not_invited"] == (title, 33)
        assert {count for _title, count in status_table(page).values()} == {0, 33}

        # Authority names follow the page's language.
        names = {tr.get("data-la"): tr.one("th").text() for tr in page.all("tr", data_la=None)}
        assert names == {code: la.name(locale) for code, la in local_authorities().items()}


def test_dashboard_with_no_nominees_says_so(app, study, researcher):
    page = dashboard(sign_in(app))
    assert summary(page) == {"nominated": 0, "approached": 0, "engaged": 0, "included": 0}
    assert statuses(app, study) == {}
    assert not page.all("table", id="status-table")
    assert page.all("a", href="/researcher/nominees/import")


# --- coverage -------------------------------------------------------------------------------

def test_coverage_follows_submissions_and_consent(app, study, researcher, nominees):
    # RCT children's lead submits; the RCT adults' lead does nothing.
    progress(app, study, RCT_CHILDREN, consent=True, submitted=True,
             answers={"role": "Head of Children's Safeguarding", "la_code": "RCT",
                      "service_area": "children"})
    # NTL's whole-area return covers children and adults.
    progress(app, study, NTL_WHOLE, consent=True, submitted=True,
             answers={"role": "Principal Officer", "la_code": "NTL", "service_area": "whole_area"})
    # CAY consented but has not submitted.
    progress(app, study, CAY_CHILDREN, consent=True)
    # Someone from the open link answers for Pembrokeshire adults (the PEM adults' nominee
    # is silent).
    open_link_submission(app, study, {"role": "Rheolwr Diogelu Oedolion", "la_code": "PEM",
                                      "service_area": "adults"})

    browser = sign_in(app)
    browser.get("/researcher/?lang=en")
    page = dashboard(browser)
    rows = coverage_rows(page)
    expected = {
        "RCT": ("covered", "missing", "partly"),
        "NTL": ("covered", "covered", "covered"),
        "CAY": ("partly", "missing", "partly"),
        "PEM": ("missing", "covered", "partly"),
    }
    for code, states in expected.items():
        assert rows[code] == states, code
    assert all(rows[code] == ("missing",) * 3 for code in set(rows) - set(expected))

    # The cells say it in words too, and the tile map agrees with the table's overall column.
    titles = {state: in_language(app, "en", COVERAGE_TITLES[state]) for state in Coverage}
    for code, states in expected.items():
        shown = [td.text() for td in coverage_cells(page, code)]
        assert shown == [titles[Coverage(s)] for s in states]
    map_states = tiles(page)
    assert map_states == {code: states[2] for code, states in rows.items()}
    assert {map_states[c] for c in expected} == {"covered", "partly"}

    svg = page.one("svg", role="img")
    tile = next(g for g in svg.all("g", data_code="NTL"))
    assert tile.one("title").text() == f"Neath Port Talbot: {titles[Coverage.COVERED]}"

    # Two nominees and one open-link participant submitted; CAY is engaged but not included.
    counts = summary(page)
    assert counts["included"] == 3
    assert counts["engaged"] == 4
    # PEM adults is covered by the open link alone: its nominee has done nothing.
    assert statuses(app, study)[nominees[PEM_ADULTS]] == "not_invited"


def test_coverage_in_welsh_names_tiles_in_welsh(app, study, researcher, nominees):
    progress(app, study, CAY_CHILDREN, consent=True)
    page = dashboard(sign_in(app))
    assert page.one("html").get("lang") == "cy"
    assert coverage_rows(page)["CAY"] == ("partly", "missing", "partly")
    tile = page.one("svg", role="img").one("g", data_code="CAY")
    assert tile.get("data-state") == "partly"
    partly = in_language(app, "cy", COVERAGE_TITLES[Coverage.PARTLY])
    assert tile.one("title").text() == f"Caerffili: {partly}"


def test_what_the_participant_said_overrides_the_nomination(app, study, researcher, nominees):
    # Nominated for RCT adults, but answers for Merthyr's whole area.
    progress(app, study, RCT_ADULTS, consent=True, submitted=True,
             answers={"role": "Lead", "la_code": "MTY", "service_area": "whole_area"})
    rows = coverage_rows(dashboard(sign_in(app)))
    assert rows["MTY"] == ("covered", "covered", "covered")
    assert rows["RCT"] == ("missing", "missing", "missing")


# --- statuses and counts --------------------------------------------------------------------

def test_each_status_is_shown_with_its_title_and_counted(app, study, researcher, nominees):
    people = {
        "invited": "rebecca.jones@example.org",
        "opened": "ffion.roberts@example.org",
        "consented": "elin.williams@example.org",
        "in_progress": "mark.evans@example.org",
        "submitted": "rhian.thomas@example.org",
        "declined": "huw.davies@example.org",
        "failed": "nia.lloyd@example.org",
    }
    with app.app_context():
        batch = create_batch(study_row(study), MessageKind.INVITATION,
                             nominee_ids=[nominees[email] for email in people.values()])
        for message in batch.messages:
            failed = message.nominee_id == nominees[people["failed"]]
            message.status = (MessageStatus.FAILED if failed else MessageStatus.SENT).value
        db.session.commit()
    progress(app, study, people["opened"], opened=True)
    progress(app, study, people["consented"], consent=True)
    progress(app, study, people["in_progress"], consent=True, answers={"role": "Lead"})
    progress(app, study, people["submitted"], consent=True, submitted=True,
             answers={"role": "Lead", "la_code": "CMN", "service_area": "children"})
    progress(app, study, people["declined"], declined=True)

    browser = sign_in(app)
    for locale in ("cy", "en"):
        if locale == "en":
            browser.get("/researcher/?lang=en")
        page = dashboard(browser)
        shown = statuses(app, study)
        for status, email in people.items():
            assert shown[nominees[email]] == status, status
        others = set(nominees.values()) - {nominees[e] for e in people.values()}
        assert {shown[n] for n in others} == {"not_invited"}

        # approached: an invitation went (failed ones do not count); engaged: consented or
        # further; included: submitted.
        assert summary(page) == {"nominated": 33, "approached": 6, "engaged": 3, "included": 1}
        by_status = {"not_invited": 26, "invited": 1, "failed": 1, "opened": 1, "consented": 1,
                     "in_progress": 1, "submitted": 1, "declined": 1, "withdrawn": 0}
        assert status_table(page) == {s.value: (in_language(app, locale, STATUS_TITLES[s]), by_status[s.value])
                                      for s in NomineeStatus}
        # Each count with people behind it leads to the nominee list filtered by that status.
        links = {tr.get("data-status"): [a.get("href") for a in tr.all("a")]
                 for tr in page.one("table", id="status-table").all("tr", data_status=None)}
        assert links["invited"] == ["/researcher/nominees/?status=invited"]
        assert links["withdrawn"] == []
    # A submission covers its service; consent or answers in progress count as partly.
    rows = coverage_rows(page)
    assert rows["CMN"] == ("covered", "missing", "partly")
    assert rows["BGE"] == ("partly", "partly", "partly")  # whole-area nominee, in progress
    assert rows["GWN"] == ("partly", "missing", "partly")  # children's lead consented


def test_refusing_consent_counts_as_declined(app, study, researcher, nominees):
    with app.app_context():
        participant = db.session.get(Nominee, nominees[CAY_CHILDREN]).participant
        record_consent(participant, dict.fromkeys(agree_to_all(study), False), language="cy")
        db.session.commit()
    page = dashboard(sign_in(app))
    assert statuses(app, study)[nominees[CAY_CHILDREN]] == "declined"
    assert status_table(page)["declined"][1] == 1




def test_opting_out_of_emails_after_consenting_still_counts_the_return(app, study, researcher,
                                                                      nominees):
    # As participant/views.py decline() does for someone who has consented: stop the emails only.
    progress(app, study, CAY_CHILDREN, consent=True, declined=True,
             answers={"role": "Rheolwr", "la_code": "CAY", "service_area": "children"})
    browser = sign_in(app)
    assert summary(dashboard(browser))["engaged"] == 1
    progress(app, study, CAY_CHILDREN, submitted=True)
    page = dashboard(browser)
    assert coverage_rows(page)["CAY"] == ("covered", "missing", "partly")
    assert statuses(app, study)[nominees[CAY_CHILDREN]] == "submitted"
    assert summary(page)["included"] == 1


@pytest.mark.parametrize(("scope", "counted"), [("participation", True), ("answers", False)])
def test_a_withdrawal_counts_only_what_may_still_be_used(app, study, researcher, nominees, scope, counted):
    """Keeping what they gave leaves the return counted and the area covered; withdrawing the
    answers takes both away, from that moment."""
    progress(app, study, CAY_CHILDREN, consent=True, submitted=True,
             answers={"role": "Rheolwr", "la_code": "CAY", "service_area": "children"})
    with app.app_context():
        participant = db.session.get(Nominee, nominees[CAY_CHILDREN]).participant
        withdraw(participant, Scope(scope), Channel.LINK)
        db.session.commit()
    page = dashboard(sign_in(app))
    assert statuses(app, study)[nominees[CAY_CHILDREN]] == "withdrawn"
    assert summary(page)["included"] == summary(page)["engaged"] == int(counted)
    assert coverage_rows(page)["CAY"][0] == ("covered" if counted else "missing")  # children


# --- filters --------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "wanted"), [
    ("?region=North%20Wales", lambda la: la.region_en == "North Wales"),
    ("?setting=rural", lambda la: la.rural),
    ("?setting=urban", lambda la: not la.rural),
    ("?region=North%20Wales&setting=urban",
     lambda la: la.region_en == "North Wales" and not la.rural),
])
def test_filters(app, study, researcher, nominees, query, wanted):
    page = dashboard(sign_in(app), query)
    expected = [code for code, la in local_authorities().items() if wanted(la)]
    table = page.one("table", id="coverage-table")
    shown = [tr.get("data-la") for tr in table.all("tr", data_la=None)]
    assert shown == expected
    if query == "?region=North%20Wales":
        assert set(shown) == {"ANG", "GWN", "CNW", "DEN", "FLN", "WRX"}
    # The map still shows the whole of Wales; the filters keep their values.
    assert len(tiles(page)) == 22
    for name in ("region", "setting"):
        selected = [o.get("value") for o in page.one("select", id=name).all("option")
                    if "selected" in o.attrs]
        asked = dict(p.split("=") for p in query[1:].split("&")).get(name)
        assert selected == ([asked.replace("%20", " ")] if asked else [])


def test_unknown_filter_values_show_everything(app, study, researcher, nominees):
    page = dashboard(sign_in(app), "?setting=suburban")
    assert len(coverage_rows(page)) == 22


# --- access ---------------------------------------------------------------------------------

STAFF_PAGES = ["/researcher/", "/researcher/nominees/", "/researcher/nominees/import",
               "/researcher/nominees/new"]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(app, study, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_a_reviewer_cannot_open_researcher_pages(app, study, path):
    add_user(app, REVIEWER, {Role.REVIEWER})
    browser = sign_in(app, REVIEWER)
    assert browser.get(path).status_code == 403


def test_sign_in_lands_on_the_dashboard(app, study, researcher):
    browser = Browser(app)
    browser.get("/login")
    response = browser.post("/login", {"email": RESEARCHER, "password": PASSWORD}, fetch=False)
    assert urlsplit(response.location).path == "/researcher/"


# --- importing through the web form ---------------------------------------------------------

def upload(browser: Browser, data: bytes, filename: str = "nominees.csv"):
    browser.get("/researcher/nominees/import")
    return browser.client.post(
        "/researcher/nominees/import", content_type="multipart/form-data",
        data={"csrf_token": browser.csrf(), "file": (io.BytesIO(data), filename)})


def test_importing_the_example_list_through_the_form(app, study, researcher):
    browser = sign_in(app)
    response = upload(browser, EXAMPLE.read_bytes())
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/researcher/nominees/"
    with app.app_context():
        rows = db.session.scalars(sa.select(Nominee)).all()
        assert len(rows) == 33
        assert {n.la_code for n in rows} == set(local_authorities())
        assert all(n.participant.source == "invited" for n in rows)
        assert len({n.participant_id for n in rows}) == 33
        gwenllian = next(n for n in rows if n.email == "gwenllian.parry@example.org")
        assert gwenllian.name == "Gwenllïan Parry"
        assert gwenllian.participant.language == "cy"
    listing = browser.get(response.location)
    assert listing.status_code == 200
    page = dom(browser.page)
    assert len(page.one("main").one("tbody").all("tr")) == 33
    flashed = in_language(app, "cy", lambda: ngettext("%(num)d nominee imported.",
                                                      "%(num)d nominees imported.", 33))
    assert page.one("div", role="status").text() == flashed


def test_importing_the_example_list_as_a_workbook(app, study, researcher):
    import csv

    import openpyxl

    book = openpyxl.Workbook()
    for row in csv.reader(EXAMPLE.read_text("utf-8").splitlines()):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(sign_in(app), buffer.getvalue(), "nominees.xlsx")
    assert response.status_code == 302
    with app.app_context():
        assert set(db.session.scalars(sa.select(Nominee.la_code))) == set(local_authorities())
    assert nominee_count(app) == 33


def test_an_upload_without_a_file_is_refused(app, study, researcher):
    browser = sign_in(app)
    browser.get("/researcher/nominees/import")
    response = browser.client.post("/researcher/nominees/import",
                                   content_type="multipart/form-data",
                                   data={"csrf_token": browser.csrf()})
    assert response.status_code == 400
    assert nominee_count(app) == 0


BAD_FILE = "\r\n".join([
    HEADER,
    "Catrin Hughes,catrin.hughes@example.org,RCT,children,local_authority,Head,en",     # 2 good
    "Bad Email,not-an-email,RCT,adults,local_authority,Lead,en",                         # 3
    "Unknown LA,unknown.la@example.org,XYZ,children,local_authority,Lead,cy",            # 4
    "Unknown Area,unknown.area@example.org,NTL,elderly,local_authority,Lead,en",         # 5
    "Catrin Again,Catrin.Hughes@example.org,RCT,adults,local_authority,Lead,en",         # 6 again
    "No Language,no.language@example.org,CAY,adults,local_authority,Lead,",              # 7
    "Siân Morgan,sian.morgan@example.org,CAY,children,local_authority,Manager,cy",       # 8 invited
    "Gareth Price,gareth.price@example.org,NTL,whole_area,local_authority,Officer,en",   # 9 good
]) + "\r\n"
BAD_LINES = {3: "bad_email", 4: "unknown_la", 5: "unknown_service_area", 6: "duplicate_in_file",
             7: "missing_language", 8: "already_invited"}


@pytest.fixture
def one_nominee(app, study):
    """Siân Morgan is on the list already (so her row is 'already invited')."""
    with app.app_context():
        row = study_row(study)
        text = f"{HEADER}\r\nSiân Morgan,{CAY_CHILDREN},CAY,children,local_authority,Manager,cy\r\n"
        result = parse_nominees("x.csv", text.encode())
        import_nominees(row, result.rows, app.config["LINK_KEY"])
        db.session.commit()




def test_a_file_with_bad_rows_writes_nothing_and_names_each_line_in_welsh(app, study, researcher,
                                                                          one_nominee):
    browser = sign_in(app)
    before = nominee_count(app)
    response = upload(browser, BAD_FILE.encode("utf-8"))
    assert response.status_code == 400
    assert nominee_count(app) == before == 1

    page = dom(response.get_data(as_text=True))
    assert page.one("html").get("lang") == "cy"
    items = page.all("li", data_line=None)
    found = {(int(li.get("data-line")), li.get("data-code")) for li in items}
    assert found == set(BAD_LINES.items())

    # Each reason is the importer's message in Welsh (as far as the catalogue has it).
    result = parse_nominees("nominees.csv", BAD_FILE.encode(), existing_emails={CAY_CHILDREN})
    with app.test_request_context(), force_locale("cy"):
        welsh = {(p.line, p.code): p.message for p in result.problems}
    with app.test_request_context(), force_locale("en"):
        english = {(p.line, p.code): p.message for p in result.problems}
    for li in items:
        key = (int(li.get("data-line")), li.get("data-code"))
        assert li.text() == " ".join(welsh[key].split())
        assert str(key[0]) in li.text()
        if welsh[key] != english[key]:
            assert li.text() != " ".join(english[key].split())

    # Then only the valid rows (lines 2 and 9) can be imported.
    form = next(f for f in page.all("form")
                if (f.get("action") or "").endswith("/import/valid-rows"))
    fields = {i.get("name"): i.get("value") for i in form.all("input")}
    button = form.one("button").text()
    assert button == in_language(app, "cy", lambda: ngettext("Import %(num)d valid row",
                                                             "Import %(num)d valid rows", 2))
    response = browser.client.post(form.get("action"), data=fields)
    assert response.status_code == 302
    with app.app_context():
        emails = set(db.session.scalars(sa.select(Nominee.email)))
    assert emails == {CAY_CHILDREN, RCT_CHILDREN, NTL_WHOLE}


def test_a_file_with_bad_rows_in_english(app, study, researcher):
    browser = sign_in(app)
    browser.get("/researcher/?lang=en")
    response = upload(browser, BAD_FILE.encode("utf-8"))
    assert response.status_code == 400
    page = dom(response.get_data(as_text=True))
    assert page.one("html").get("lang") == "en"
    texts = {int(li.get("data-line")): li.text() for li in page.all("li", data_line=None)}
    assert texts[3] == "Line 3: 'not-an-email' is not a valid email address."
    assert texts[4].startswith("Line 4: 'XYZ' is not a local authority code.")
    assert texts[6].startswith("Line 6: catrin.hughes@example.org is already listed on line 2")
    assert nominee_count(app) == 0


def test_importing_valid_rows_checks_the_csrf_token(app, study, researcher):
    import base64

    browser = sign_in(app)
    # The form's real fields (ConfirmImportForm: filename, content), so that only the missing
    # token can be what refuses it: the same post with the token imports the two valid rows.
    fields = {"filename": "nominees.csv", "content": base64.b64encode(BAD_FILE.encode()).decode()}
    response = browser.client.post("/researcher/nominees/import/valid-rows", data=fields)
    assert response.status_code == 400
    assert nominee_count(app) == 0
    response = browser.client.post("/researcher/nominees/import/valid-rows",
                                   data={**fields, "csrf_token": "not-the-token"})
    assert response.status_code == 400
    assert nominee_count(app) == 0
    browser.get("/researcher/nominees/import")
    response = browser.client.post("/researcher/nominees/import/valid-rows",
                                   data={**fields, "csrf_token": browser.csrf()})
    assert response.status_code == 302
    with app.app_context():
        assert set(db.session.scalars(sa.select(Nominee.email))) == {RCT_CHILDREN, CAY_CHILDREN, NTL_WHOLE}


# --- adding and editing by hand -------------------------------------------------------------

NEW = {"name": "Alys Bevan", "email": "alys.bevan@example.org", "la_code": "MON",
       "service_area": "adults", "agency": "health", "role": "Safeguarding Nurse",
       "preferred_language": "cy"}


def test_adding_a_nominee_by_hand(app, study, researcher, nominees):
    browser = sign_in(app)
    response = browser.post("/researcher/nominees/new", NEW)
    assert response.status_code == 302
    with app.app_context():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == NEW["email"]))
        assert (nominee.name, nominee.la_code, nominee.service_area, nominee.agency, nominee.role,
                nominee.preferred_language) == ("Alys Bevan", "MON", "adults", "health",
                                                "Safeguarding Nurse", "cy")
        assert nominee.participant.language == "cy"
    assert nominee_count(app) == 34
    page = dashboard(browser)
    assert summary(page)["nominated"] == 34


def test_adding_someone_already_listed_is_refused(app, study, researcher, nominees):
    browser = sign_in(app)
    response = browser.post("/researcher/nominees/new",
                            {**NEW, "email": "Catrin.Hughes@Example.org"})
    assert response.status_code == 400
    page = dom(browser.page)
    summary_box = page.one("div", data_error_summary=None)
    assert summary_box.one("a", href="#email").text() == in_language(app, "cy", DUPLICATE_MESSAGE)
    assert nominee_count(app) == 33
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 33


def test_editing_a_nominee(app, study, researcher, nominees):
    browser = sign_in(app)
    nominee_id = nominees[CAY_CHILDREN]
    url = f"/researcher/nominees/{nominee_id}/edit"
    assert browser.get(url).status_code == 200
    page = dom(browser.page)
    assert page.one("input", id="email").get("value") == CAY_CHILDREN
    response = browser.post(url, {
        "name": "Siân Morgan-Rees", "email": "sian.morgan-rees@example.org", "la_code": "CAY",
        "service_area": "whole_area", "agency": "local_authority", "role": "Head of Service",
        "preferred_language": "cy"})
    assert response.status_code == 302
    with app.app_context():
        nominee = db.session.get(Nominee, nominee_id)
        assert (nominee.name, nominee.email, nominee.service_area, nominee.role) == (
            "Siân Morgan-Rees", "sian.morgan-rees@example.org", "whole_area", "Head of Service")


def test_editing_to_another_nominees_email_changes_nothing(app, study, researcher, nominees):
    browser = sign_in(app)
    nominee_id = nominees[CAY_CHILDREN]

    def snapshot():
        with app.app_context():
            n = db.session.get(Nominee, nominee_id)
            return (n.name, n.email, n.la_code, n.service_area, n.agency, n.role,
                    n.preferred_language)

    before = snapshot()
    response = browser.post(f"/researcher/nominees/{nominee_id}/edit", {
        "name": "Someone Else", "email": RCT_CHILDREN.upper(), "la_code": "RCT",
        "service_area": "adults", "agency": "police", "role": "Changed",
        "preferred_language": "en"})
    assert response.status_code == 400
    page = dom(browser.page)
    assert page.one("div", data_error_summary=None).one("a", href="#email").text() == \
        in_language(app, "cy", DUPLICATE_MESSAGE)
    assert snapshot() == before
    assert browser.get("/researcher/nominees/999999").status_code == 404


def test_nominee_list_shows_everyone(app, study, researcher, nominees):
    browser = sign_in(app)
    browser.get("/researcher/?lang=en")
    assert browser.get("/researcher/nominees/").status_code == 200
    page = dom(browser.page)
    rows = page.one("main").one("tbody").all("tr")
    assert len(rows) == 33
    emails = {tr.all("td")[1].text() for tr in rows}
    assert emails == set(nominees)
