"""The researchers' pages in real Chromium: axe-core (WCAG 2.2 A/AA) on each, in Welsh and
English, a screenshot of each, the tile map's text alternative and reflow at 320 px."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale, gettext

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.consent.services import record_consent
from surveyapp.db import db, utcnow
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.services import import_nominees
from surveyapp.responses.services import save_answers, submit
from surveyapp.studies.models import Study
from tests.conftest import EXAMPLE_NOMINEES

from .test_accessibility import WCAG_22_AA

EXAMPLE = EXAMPLE_NOMINEES
RESEARCHER = "researcher@example.org"
PASSWORD = "a-long-password-123"
BAD_CSV = "\r\n".join([
    "name,email,la_code,service_area,agency,role,preferred_language",
    "Catrin Hughes,catrin.hughes@example.org,RCT,children,local_authority,Head,en",
    "Bad Email,not-an-email,RCT,adults,local_authority,Lead,en",
    "Unknown LA,unknown.la@example.org,XYZ,children,local_authority,Lead,cy",
    "Unknown Area,unknown.area@example.org,NTL,elderly,local_authority,Lead,en",
    "Catrin Again,catrin.hughes@example.org,RCT,adults,local_authority,Lead,en",
    "No Language,no.language@example.org,CAY,adults,local_authority,Lead,",
    "Alys Bevan,alys.bevan@example.org,MON,adults,health,Safeguarding Nurse,cy",
]) + "\r\n"


# --- setting up -----------------------------------------------------------------------------

@pytest.fixture
def staff_data(app, study):
    """A researcher who prefers Welsh, the 33 example nominees, and some progress so that the
    map shows every coverage state."""
    with app.app_context():
        create_user(RESEARCHER, "Ymchwilydd Prawf", PASSWORD, {Role.RESEARCHER}, "cy")
        row = db.session.get(Study, study.id)
        result = parse_nominees(EXAMPLE.name, EXAMPLE.read_bytes())
        assert result.ok
        import_nominees(row, result.rows, app.config["LINK_KEY"])
        agreed = {item.id: True for item in study.consent_form.items}
        for email, answers, done in [
            ("catrin.hughes@example.org",
             {"role": "Head", "la_code": "RCT", "service_area": "children"}, True),
            ("gareth.price@example.org",
             {"role": "Officer", "la_code": "NTL", "service_area": "whole_area"}, True),
            ("sian.morgan@example.org", {"role": "Rheolwr"}, False),
        ]:
            nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == email))
            participant = nominee.participant
            participant.opened_at = utcnow()
            record_consent(participant, agreed, language="cy")
            save_answers(participant, answers)
            if done:
                submit(participant)
        db.session.commit()


def in_language(app, locale: str, message: str) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message)


def navigate(page, action) -> None:
    with page.expect_navigation():
        action()


def sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", RESEARCHER)
    page.fill("#password", PASSWORD)
    navigate(page, lambda: page.click("main form button[type=submit]"))
    page.wait_for_url("**/researcher/")


def switch_language(page, language: str) -> None:
    """With the link in the header, as a person would."""
    # The visible word: the link's first box is its 1 px visually-hidden label, which a mouse
    # cannot hit (Playwright would aim there).
    link = f".language-switch a[data-switch-lang={language}] span[aria-hidden=true]"
    navigate(page, lambda: page.click(link))
    assert page.get_attribute("html", "lang") == language


def upload_bad_file(page, base_url: str, tmp_path) -> None:
    path = tmp_path / "nominees-with-problems.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    page.goto(f"{base_url}/researcher/nominees/import")
    page.set_input_files("#file", str(path))
    navigate(page, lambda: page.click("main form button[type=submit]"))


def check_page(page, axe, screenshot, language: str, name: str, failures: dict) -> None:
    assert page.get_attribute("html", "lang") == language, name
    screenshot(page, f"staff-{language}-{name}")
    results = axe.run(page, options=WCAG_22_AA)
    if results.violations_count:
        failures[f"{language}-{name}"] = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:5])
            for v in results.response["violations"]]


# --- axe on every staff page ----------------------------------------------------------------

def _staff_pages(page, base_url: str):
    """The signed-in pages (the problems page has its own test); yields each page's name."""
    page.goto(f"{base_url}/researcher/")
    yield "dashboard"
    page.goto(f"{base_url}/researcher/nominees/")
    yield "nominees"
    page.goto(f"{base_url}/researcher/nominees/import")
    yield "import"
    page.goto(f"{base_url}/researcher/nominees/new")
    yield "add-nominee"
    navigate(page, lambda: page.click("main form button[type=submit]"))  # empty: errors
    assert page.locator("[data-error-summary]").count() == 1
    yield "add-nominee-errors"
    page.goto(f"{base_url}/researcher/invitations/")
    yield "invitations"
    page.goto(f"{base_url}/account")
    yield "account"


def test_no_wcag_violations_on_staff_pages_in_welsh_and_english(page, live_server, app, staff_data,
                                                                 screenshot):
    axe = Axe()
    failures: dict = {}
    visited = []

    # Welsh: the login page in Welsh (by the header link), then the researcher's own choice.
    page.goto(f"{live_server}/login")
    switch_language(page, "cy")
    check_page(page, axe, screenshot, "cy", "login", failures)
    sign_in(page, live_server)
    for name in _staff_pages(page, live_server):
        visited.append(f"cy-{name}")
        check_page(page, axe, screenshot, "cy", name, failures)

    # English: switch with the header link (remembered on the account), sign out, and do it
    # all again.
    switch_language(page, "en")
    navigate(page, lambda: page.click(".staff-nav button[type=submit]"))
    page.wait_for_url("**/login")
    check_page(page, axe, screenshot, "en", "login", failures)
    sign_in(page, live_server)
    for name in _staff_pages(page, live_server):
        visited.append(f"en-{name}")
        check_page(page, axe, screenshot, "en", name, failures)

    assert len(visited) == 14
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_account_page_switches_the_language(page, live_server, app, staff_data):
    sign_in(page, live_server)
    assert page.get_attribute("html", "lang") == "cy"
    page.goto(f"{live_server}/account")
    page.check("main input[type=radio][value=en]")
    navigate(page, lambda: page.click(
        "main form:has(input[type=radio][value=en]) button[type=submit]"))
    assert page.get_attribute("html", "lang") == "en"
    page.goto(f"{live_server}/researcher/")
    assert page.get_attribute("html", "lang") == "en"




@pytest.mark.parametrize("language", ["cy", "en"])
def test_no_wcag_violations_on_the_problems_page(page, live_server, app, staff_data, screenshot,
                                                 tmp_path, language):
    sign_in(page, live_server)
    if language == "en":
        switch_language(page, "en")
    upload_bad_file(page, live_server, tmp_path)
    failures: dict = {}
    lines = page.eval_on_selector_all("li[data-line]",
                                      "items => items.map(li => Number(li.dataset.line))")
    assert set(lines) == {2, 3, 4, 5, 6, 7}  # line 2 (Catrin) is on the list already
    assert page.locator("form[action$='/import/valid-rows'] button").count() == 1
    check_page(page, Axe(), screenshot, language, "problems", failures)
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


# --- the tile map and its text alternative --------------------------------------------------

@pytest.mark.parametrize("language", ["cy", "en"])
def test_tile_map_has_a_name_and_the_table_says_the_same(page, live_server, app, staff_data,
                                                         language):
    sign_in(page, live_server)
    if language == "en":
        switch_language(page, "en")
    svg = page.locator("svg[role=img]")
    assert svg.count() == 1
    title = in_language(app, language, "Coverage of the 22 local authorities")
    assert page.get_by_role("img", name=title).count() == 1
    name = page.evaluate("""() => {
        const svg = document.querySelector('svg[role=img]');
        return svg.getAttribute('aria-labelledby').split(' ')
            .map(id => document.getElementById(id).textContent.trim()).join(' ');
    }""")
    assert name.startswith(title)

    tiles = dict(page.evaluate(
        "() => [...document.querySelectorAll('svg[role=img] g[data-code]')]"
        ".map(g => [g.dataset.code, g.dataset.state])"))
    overall = dict(page.evaluate(
        "() => [...document.querySelectorAll('#coverage-table tr[data-la]')]"
        ".map(tr => [tr.dataset.la,"
        "            tr.querySelector('td[data-state]:last-of-type').dataset.state])"))
    assert len(tiles) == 22
    assert tiles == overall
    assert tiles["NTL"] == "covered" and tiles["RCT"] == "partly" and tiles["CAY"] == "partly"
    assert tiles["ANG"] == "missing"
    # The table comes after the map and is a real data table with a caption and headers.
    follows = page.evaluate("""() => {
        const svg = document.querySelector('svg[role=img]');
        const table = document.getElementById('coverage-table');
        return Boolean(svg.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    assert follows
    assert page.locator("#coverage-table caption").inner_text().strip()
    columns = page.locator("#coverage-table thead th[scope=col]").count()
    assert columns >= 6
    widths = page.evaluate("() => [...document.querySelectorAll('#coverage-table tbody tr')]"
                           ".map(tr => tr.children.length)")
    assert set(widths) == {columns}
    assert page.locator("#coverage-table tbody th[scope=row]").count() == 22


# --- reflow ---------------------------------------------------------------------------------

def overflow(page) -> tuple[int, list[str]]:
    """How far the page scrolls sideways, and what sticks out of it (a .table-wrap scrolls its
    own table, so what is inside one does not count)."""
    sideways = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    outside = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        return [...document.body.querySelectorAll('*')]
            .filter(el => !el.closest('.table-wrap') && !el.closest('.visually-hidden'))
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (typeof el.className === 'string' && el.className
                           ? '.' + el.className : '')
                        + ' "' + el.textContent.trim().slice(0, 40) + '"');
    }""")
    return sideways, outside


@pytest.fixture
def narrow_page(chromium):
    # 1280 CSS px at 400% zoom is a 320 px viewport (WCAG 1.4.10 Reflow).
    context = chromium.new_context(viewport={"width": 320, "height": 640}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("language", ["cy", "en"])
def test_dashboard_reflows_at_320_px(narrow_page, live_server, app, staff_data, language):
    page = narrow_page
    sign_in(page, live_server)
    if language == "en":
        switch_language(page, "en")
    page.goto(f"{live_server}/researcher/")
    assert page.locator("#coverage-table").count() == 1
    sideways, outside = overflow(page)
    assert sideways <= 0, f"the dashboard scrolls sideways by {sideways}px: {outside}"
    assert outside == []
    # The wide tables scroll inside their own box instead.
    assert page.evaluate(
        "() => getComputedStyle(document.querySelector('.table-wrap')).overflowX") == "auto"
    assert page.evaluate(
        "() => document.querySelector('svg[role=img]').getBoundingClientRect().right"
        " <= document.documentElement.clientWidth")




@pytest.mark.parametrize("language", ["cy", "en"])
@pytest.mark.parametrize("path", [
    "/researcher/nominees/", "/researcher/nominees/import", "/researcher/nominees/new",
    "/researcher/invitations/",
    "/account",
])
def test_other_staff_pages_reflow_at_320_px(narrow_page, live_server, app, staff_data, language,
                                            path):
    page = narrow_page
    sign_in(page, live_server)
    if language == "en":
        switch_language(page, "en")
    page.goto(f"{live_server}{path}")
    assert page.get_attribute("html", "lang") == language
    sideways, outside = overflow(page)
    assert sideways <= 0, f"{path} scrolls sideways by {sideways}px: {outside}"
    assert outside == []
