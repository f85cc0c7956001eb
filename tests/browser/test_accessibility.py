"""axe-core (bundled in axe-playwright-python, not fetched) on every participant page, in
Welsh and English; screenshots of each kept as artefacts; reflow at 400% zoom."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from .helpers import start_consented

WCAG_22_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]},
    "resultTypes": ["violations"],
}


def _submit(page, selector):
    with page.expect_navigation():
        page.click(selector)


def _pages(page, base_url, study, language):
    """Visit every participant page; yield its name at each."""
    page.goto(f"{base_url}/s/{study.slug}")
    yield "choose-language"
    _submit(page, f"button[value={language}]")
    yield "information"
    page.goto(page.url.replace("/information", "/consent"))
    yield "consent"
    _submit(page, "button[name=consent]")  # nothing ticked: errors
    yield "consent-errors"
    for item in study.consent_form.items:
        if item.required:
            page.check(f"#item_{item.id}")
    _submit(page, "button[name=consent]")
    for number in range(1, len(study.survey.sections) + 1):
        page.goto(f"{base_url}/survey/section/{number}")
        yield f"section-{number}"
    page.goto(f"{base_url}/survey/section/3")
    page.fill("#referrals_children_per_year", "many")
    _submit(page, "button[value=next]")
    yield "section-3-errors"
    page.goto(f"{base_url}/survey/review")
    _submit(page, "#submit button")  # required questions unanswered: errors
    yield "review-errors"
    page.goto(f"{base_url}/survey/section/1")
    page.fill("#role", "Lead")
    page.check("input[name=la_code] >> nth=0")
    page.check("input[name=service_area] >> nth=0")
    _submit(page, "button[value=later]")
    yield "saved"
    page.goto(f"{base_url}/survey/review")
    yield "review"
    _submit(page, "#submit button")
    yield "done"
    page.goto(f"{base_url}/survey/no-such-page")
    yield "not-found"


@pytest.mark.parametrize("language", ["cy", "en"])
def test_no_wcag_violations_on_any_participant_page(page, live_server, study, language, screenshot):
    axe = Axe()
    failures = {}
    visited = []
    for name in _pages(page, live_server, study, language):
        visited.append(name)
        if name != "choose-language":
            assert page.get_attribute("html", "lang") == language, name
        screenshot(page, f"{language}-{name}")
        results = axe.run(page, options=WCAG_22_AA)
        if results.violations_count:
            failures[name] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                              for v in results.response["violations"]]
    assert len(visited) == 10 + len(study.survey.sections)
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_declined_page_passes_axe_in_welsh(page, live_server, study, screenshot):
    page.goto(f"{live_server}/s/{study.slug}")
    page.click("button[value=cy]")
    page.goto(page.url.replace("/information", "/consent"))
    page.click("button[name=decline]")
    page.wait_for_url("**/declined")
    screenshot(page, "cy-declined")
    assert Axe().run(page, options=WCAG_22_AA).violations_count == 0


@pytest.mark.parametrize("language", ["cy", "en"])
def test_pages_reflow_at_400_percent_zoom(chromium, live_server, study, language):
    # 1280 CSS px at 400% zoom is a 320 px viewport (WCAG 1.4.10 Reflow).
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        start_consented(page, live_server, study, language)
        for path in ("information", "consent", "section/1", "section/4", "review"):
            page.goto(f"{live_server}/survey/{path}")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    finally:
        context.close()
