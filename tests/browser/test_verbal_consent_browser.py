"""Recording consent taken verbally, in real Chromium: the page passes axe-core (WCAG 2.2 A/AA)
in Welsh and English, and a researcher records every statement with the keyboard alone."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from surveyapp.consent.models import ConsentMethod, ConsentRecord
from surveyapp.db import db
from tests.interviews.test_verbal_consent import add_nominees, url
from tests.review.conftest import PASSWORD
from tests.review.conftest import sign_in as sign_in_client

from .helpers import tab_to
from .test_accessibility import WCAG_22_AA


def choose(page, name: str, value: str) -> None:
    """Tab into a group of radio buttons and move to ``value`` with the arrow keys, as a keyboard
    user does (Tab enters a group once; the arrows move within it and choose)."""
    tab_to(page, f"input[name={name}]")
    for _ in range(6):
        if page.evaluate("() => document.activeElement.value") == value:
            page.keyboard.press("Space")
            assert page.is_checked(f"input[name={name}][value={value}]")
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"could not choose {value} in {name}")


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")


@pytest.mark.parametrize("language", ["cy", "en"])
def test_the_verbal_consent_page_passes_axe_with_and_without_errors(page, live_server, app, study, screenshot,
                                                                    language):
    sign_in_client(app, "researcher", language)
    [nominee] = add_nominees(app, study, language)
    sign_in(page, live_server, f"researcher-{language}@example.org")
    page.goto(f"{live_server}{url(nominee)}")
    assert page.get_attribute("html", "lang") == language
    failures = {}
    for state in ("blank", "errors"):
        if state == "errors":
            with page.expect_navigation():
                page.click("main form button[type=submit]")  # nothing answered: every error shown
            assert page.locator(".error-summary, [role=alert]").count() >= 1
        screenshot(page, f"verbal-consent-{language}-{state}")
        results = Axe().run(page, options=WCAG_22_AA)
        if results.violations_count:
            failures[state] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:5])
                               for v in results.response["violations"]]
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_consent_can_be_recorded_with_the_keyboard_alone(page, live_server, app, study):
    sign_in_client(app, "researcher", "en")
    [nominee] = add_nominees(app, study, "en")
    sign_in(page, live_server, "researcher-en@example.org")
    page.goto(f"{live_server}{url(nominee)}")
    choose(page, "language", "en")
    for item in study.consent_form.items:
        choose(page, f"item_{item.id}", "agreed")
    tab_to(page, "input[name=sheet_sent_on]")
    page.fill("input[name=sheet_sent_on]", "2026-11-20")  # the date input's value, as typing it sets
    choose(page, "sheet_language", "en")
    tab_to(page, "input[name=confirm]")
    page.keyboard.press("Space")
    tab_to(page, "main form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/researcher/nominees/{nominee}")
    with app.app_context():
        record = db.session.scalar(sa.select(ConsentRecord))
        assert record.given and record.method == ConsentMethod.VERBAL.value and record.language == "en"
