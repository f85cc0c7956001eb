"""The staff layout in real Chromium: one column for header, menu, content and footer; reflow at
320 px; axe-core (WCAG 2.2 A/AA) on the reviewer's page and the "not your role" page, in Welsh
and English."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.db import db
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.services import import_nominees
from surveyapp.studies.models import Study
from tests.conftest import EXAMPLE_NOMINEES

from .test_accessibility import WCAG_22_AA

PASSWORD = "a-long-password-123"
RESEARCHER = "researcher@example.org"
REVIEWER = "reviewer@example.org"
# The parts of a staff page that must line up, and the element whose box says where each sits.
COLUMNS = {"header": ".site-header > .wrap", "nav": "nav.staff-nav", "main": "main#main",
           "footer": ".site-footer > .wrap"}


@pytest.fixture
def staff(app, study):
    """A researcher and a reviewer (in English: each test picks the page's language), and the 33
    example nominees, so the dashboard's tables are full width."""
    with app.app_context():
        create_user(RESEARCHER, "Researcher", PASSWORD, {Role.RESEARCHER}, "en")
        create_user(REVIEWER, "Adolygydd", PASSWORD, {Role.REVIEWER}, "en")
        result = parse_nominees(EXAMPLE_NOMINEES.name, EXAMPLE_NOMINEES.read_bytes())
        import_nominees(db.session.get(Study, study.id), result.rows, app.config["LINK_KEY"])
        db.session.commit()


def sign_in(page, base_url: str, email: str, language: str = "en") -> None:
    page.goto(f"{base_url}/login?lang={language}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.get_attribute("html", "lang") == language


def boxes(page) -> dict[str, dict[str, float]]:
    return {name: page.eval_on_selector(selector, "el => { const r = el.getBoundingClientRect();"
                                                  " return {left: r.left, width: r.width}; }")
            for name, selector in COLUMNS.items()}


def sideways(page) -> tuple[int, list[str]]:
    """How far the page scrolls sideways, and what sticks out (a .table-wrap scrolls itself)."""
    scroll = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    outside = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        return [...document.body.querySelectorAll('*')]
            .filter(el => !el.closest('.table-wrap') && !el.closest('.visually-hidden'))
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName.toLowerCase() + ' "' + el.textContent.trim().slice(0, 40) + '"');
    }""")
    return scroll, outside


@pytest.fixture
def wide_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def narrow_page(chromium):
    # 1280 CSS px at 400% zoom is a 320 px viewport (WCAG 1.4.10 Reflow).
    context = chromium.new_context(viewport={"width": 320, "height": 640}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("path", ["/researcher/", "/account", "/researcher/nominees/new"])
def test_header_menu_content_and_footer_share_one_column_at_1280_px(wide_page, live_server, staff, screenshot,
                                                                     path):
    page = wide_page
    sign_in(page, live_server, RESEARCHER)
    page.goto(f"{live_server}{path}")
    found = boxes(page)
    header = found["header"]
    assert header["width"] > 1000  # the wide column, not the participant's reading width
    for name, box in found.items():
        assert abs(box["left"] - header["left"]) < 0.5, (name, found)
        assert abs(box["width"] - header["width"]) < 0.5, (name, found)
    # The menu's first link starts where the page's heading does.
    first_link = page.eval_on_selector("nav.staff-nav a", "el => el.getBoundingClientRect().left")
    heading = page.eval_on_selector("main h1", "el => el.getBoundingClientRect().left")
    assert abs(first_link - heading) < 0.5
    screenshot(page, "staff-layout-1280-" + path.strip("/").replace("/", "-"))


def test_a_participants_page_keeps_its_reading_width(wide_page, live_server, study):
    page = wide_page
    page.goto(f"{live_server}/s/{study.slug}")
    assert page.eval_on_selector("main#main", "el => el.getBoundingClientRect().width") < 800


@pytest.mark.parametrize("language", ["cy", "en"])
@pytest.mark.parametrize(("email", "path"), [(RESEARCHER, "/researcher/"), (REVIEWER, "/review/"),
                                             (REVIEWER, "/researcher/")])
def test_staff_pages_reflow_at_320_px(narrow_page, live_server, staff, language, email, path):
    page = narrow_page
    sign_in(page, live_server, email, language)
    page.goto(f"{live_server}{path}")
    scroll, outside = sideways(page)
    assert scroll <= 0, f"{path} scrolls sideways by {scroll}px: {outside}"
    assert outside == []


@pytest.mark.parametrize("language", ["cy", "en"])
def test_no_wcag_violations_on_the_reviewer_page_and_the_refusal(page, live_server, staff, screenshot, language):
    sign_in(page, live_server, REVIEWER, language)
    assert page.url.endswith("/review/")
    failures = {}
    axe = Axe()
    for name, path, status in [("review", "/review/", 200), ("refused", "/researcher/", 403)]:
        response = page.goto(f"{live_server}{path}")
        assert response.status == status
        assert page.get_attribute("html", "lang") == language
        screenshot(page, f"staff-{language}-{name}")
        results = axe.run(page, options=WCAG_22_AA)
        if results.violations_count:
            failures[name] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:5])
                              for v in results.response["violations"]]
    # The refusal offers the way to the reviewer's own page.
    with page.expect_navigation():
        page.click("main a[href='/review/']")
    assert page.url.endswith("/review/")
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)
