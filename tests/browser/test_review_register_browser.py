"""The consent register and a participant's consent record in real Chromium: axe-core (WCAG 2.2
A/AA) in Welsh and English, and the reviewer reaches a filter, the detail page and back with the
keyboard alone."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.review.conftest import consent, nominees
from tests.review.conftest import sign_in as sign_in_client

from .helpers import activate, tab_to
from .test_accessibility import WCAG_22_AA

REVIEWER = "reviewer-en@example.org"
PASSWORD = "a-long-password-for-tests"


@pytest.fixture
def register_data(app, study):
    sign_in_client(app, "reviewer")
    sign_in_client(app, "researcher")
    ids = nominees(app, study, [("CAY", "children"), ("GWN", "adults"), ("SWA", "whole_area")])
    consent(app, ids[0], language="cy")
    consent(app, ids[1], given=False, recorded_by="researcher-en@example.org")
    consent(app, ids[2], optional=False)
    return ids


def navigate(page, action) -> None:
    with page.expect_navigation():
        action()


def sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", REVIEWER)
    page.fill("#password", PASSWORD)
    navigate(page, lambda: page.click("main form button[type=submit]"))
    page.wait_for_url("**/review/")


@pytest.mark.parametrize("language", ["cy", "en"])
def test_register_and_detail_page_pass_axe(page, live_server, app, register_data, screenshot, language):
    sign_in(page, live_server)
    if page.get_attribute("html", "lang") != language:
        navigate(page, lambda: page.click(
            f".language-switch a[data-switch-lang={language}] span[aria-hidden=true]"))
    failures: dict = {}
    for name, path in [("register", "/review/"), ("detail", f"/review/participants/{register_data[0]}"),
                       ("versions", "/review/versions"), ("filtered", "/review/?status=refused")]:
        page.goto(f"{live_server}{path}")
        assert page.get_attribute("html", "lang") == language
        screenshot(page, f"review-{language}-{name}")
        results = Axe().run(page, options=WCAG_22_AA)
        if results.violations_count:
            failures[name] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:5])
                              for v in results.response["violations"]]
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_register_is_usable_with_the_keyboard(page, live_server, app, register_data):
    sign_in(page, live_server)
    page.goto(f"{live_server}/review/")
    tab_to(page, "#status")
    page.keyboard.press("End")  # the last status: withdrew
    page.select_option("#status", "refused")  # as the arrow keys would, without opening the list
    tab_to(page, "#register-filters button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "status=refused" in page.url
    assert page.locator("tr[data-participant]").count() == 1
    tab_to(page, ".table-wrap")  # the scrolling table can be reached and scrolled
    page.keyboard.press("ArrowRight")
    activate(page, f"a[href='/review/participants/{register_data[1]}']")
    assert page.url.endswith(f"/review/participants/{register_data[1]}")
    assert page.locator("section.consent-text[lang=en] li[data-item]").count() == 8
    activate(page, "main a[href='/review/']")
    assert page.url.endswith("/review/")
