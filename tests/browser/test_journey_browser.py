"""The participant journey in real Chromium: keyboard only, both languages, nothing lost."""

from __future__ import annotations

import json

import pytest

from .helpers import activate, participant_of, start_consented, stored_answers, tab_to, token_of, wait_saved

TYPED = {
    "cy": {
        "role": "Rheolwr Diogelu Oedolion",
        "aims": "Sicrhau bod pob oedolyn sy'n wynebu risg yn cael ymateb amserol – ŵ ŷ â ô ê î û.",
        "working_well": "Cydweithio â'r heddlu a'r bwrdd iechyd; rhannu gwybodaeth yn gyflym.",
    },
    "en": {
        "role": "Head of Children's Safeguarding",
        "aims": "A single, timely response to every concern – and no child lost between services.",
        "working_well": "Co-location with police; daily triage meetings.",
    },
}


@pytest.mark.parametrize("language", ["cy", "en"])
def test_whole_journey_with_the_keyboard_only(page, live_server, study, app, language):
    text = TYPED[language]
    page.goto(f"{live_server}/s/{study.slug}")
    activate(page, f"button[value={language}]")
    page.wait_for_url("**/information")
    assert page.get_attribute("html", "lang") == language
    token = token_of(page)  # from the personal link shown: no address holds it
    activate(page, "a.button")
    page.wait_for_url("**/consent")
    for item in study.consent_form.items:
        if item.required:
            tab_to(page, f"#item_{item.id}")
            page.keyboard.press("Space")
    activate(page, "button[name=consent]")
    page.wait_for_url("**/section/1")

    tab_to(page, "#role")
    page.keyboard.type(text["role"])
    tab_to(page, "input[name=la_code]")
    page.keyboard.press("ArrowDown")  # radios: arrows move and choose
    page.keyboard.press("ArrowDown")
    tab_to(page, "input[name=service_area]")
    page.keyboard.press("ArrowDown")
    activate(page, "button[value=next]")
    page.wait_for_url("**/section/2")

    tab_to(page, "#aims")
    page.keyboard.type(text["aims"])
    activate(page, "button[value=next]")
    page.wait_for_url("**/section/3")
    for number in range(3, len(study.survey.sections) + 1):
        section = study.survey.sections[number - 1]
        if "working_well" in [q.key for q in section.questions]:
            tab_to(page, "#working_well")
            page.keyboard.type(text["working_well"])
        activate(page, "button[value=next]")
    page.wait_for_url("**/review")
    assert text["aims"] in page.inner_text("main")
    activate(page, "#submit button")
    page.wait_for_url("**/done")

    participant = participant_of(app, token)
    assert participant.status == "submitted" and participant.reference in page.inner_text("main")
    answers = stored_answers(app, token)
    for key in ("role", "aims", "working_well"):
        assert answers[key] == text[key]  # character for character
    la_options = study.survey.questions["la_code"].options
    service_options = study.survey.questions["service_area"].options
    assert answers["la_code"] == la_options[2].code
    assert answers["service_area"] == service_options[1].code


def test_closing_the_page_mid_answer_and_reopening_the_link(context, live_server, study, app):
    page = context.new_page()
    token = start_consented(page, live_server, study, "cy")
    page.goto(f"{live_server}/survey/section/2")
    first = "Mae'r tîm yn cyfarfod bob bore i drafod pob atgyfeiriad newydd. "
    page.click("#aims")
    page.keyboard.type(first)
    wait_saved(page)
    more = "Yna mae'r rheolwr yn penderfynu – ŵ ŷ."
    page.keyboard.type(more)
    page.close(run_before_unload=True)  # no waiting: the last words are still unsaved

    reopened = context.browser.new_context()  # a different browser profile: a new device
    try:
        again = reopened.new_page()
        again.goto(f"{live_server}/p/{token}")
        again.wait_for_url("**/section/2")
        assert again.input_value("#aims") == first + more
    finally:
        reopened.close()
    assert stored_answers(app, token)["aims"] == first + more


def test_switching_language_mid_answer(page, live_server, study, app):
    token = start_consented(page, live_server, study, "en")
    page.goto(f"{live_server}/survey/section/2")
    typed = "Half-written thought about the Front Door, ŵ ŷ"
    page.click("#aims")
    page.keyboard.type(typed)
    activate(page, "a[data-switch-lang]")
    page.wait_for_function("() => document.documentElement.lang === 'cy'")
    assert page.input_value("#aims") == typed
    assert page.url.endswith("/survey/section/2")
    assert stored_answers(app, token)["aims"] == typed
    assert participant_of(app, token).language == "cy"


def test_a_stale_second_tab_is_shown_both_versions(context, live_server, study, app):
    first = context.new_page()
    token = start_consented(first, live_server, study, "en")
    first.goto(f"{live_server}/survey/section/2")
    second = context.new_page()
    second.goto(f"{live_server}/survey/section/2")

    first.click("#aims")
    first.keyboard.type("Written in the first tab.")
    wait_saved(first)
    second.click("#aims")
    second.keyboard.type("Written in the second tab.")
    second.locator("#aims").blur()
    panel = second.locator("[data-conflict-for=aims]")
    panel.wait_for()
    assert "Written in the first tab." in panel.inner_text()
    assert stored_answers(app, token)["aims"] == "Written in the first tab."  # not overwritten
    panel.get_by_role("button", name="Keep my version").click()
    wait_saved(second)
    assert stored_answers(app, token)["aims"] == "Written in the second tab."

    # The first tab is now the stale one; choosing the other version takes the saved text.
    first.keyboard.type(" More.")
    first.locator("#aims").blur()
    panel = first.locator("[data-conflict-for=aims]")
    panel.wait_for()
    panel.get_by_role("button", name="Keep the other version").click()
    assert first.input_value("#aims") == "Written in the second tab."
    first.click("button[value=later]")
    first.wait_for_url("**/saved")
    assert stored_answers(app, token)["aims"] == "Written in the second tab."


def test_the_network_dropping_during_a_save_and_coming_back(context, page, live_server, study, app):
    token = start_consented(page, live_server, study, "cy")
    page.goto(f"{live_server}/survey/section/2")
    context.set_offline(True)
    typed = "Testun a ysgrifennwyd heb rwydwaith – ŵ ŷ â ô"
    page.click("#aims")
    page.keyboard.type(typed)
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent.startsWith('Heb ei gadw')")
    assert "aims" not in stored_answers(app, token)
    context.set_offline(False)
    wait_saved(page)
    assert stored_answers(app, token)["aims"] == typed


def test_a_90000_character_answer_round_trips_exactly(page, live_server, study, app):
    from tests.participant.test_autosave import WELSH_90K

    token = start_consented(page, live_server, study, "cy")
    page.goto(f"{live_server}/survey/section/2")
    page.fill("#aims", WELSH_90K)
    page.locator("#aims").blur()
    wait_saved(page)
    assert stored_answers(app, token)["aims"] == WELSH_90K
    page.reload()
    assert page.input_value("#aims") == WELSH_90K


def test_nothing_typed_is_kept_in_browser_storage(page, live_server, study, app):
    start_consented(page, live_server, study, "cy")
    page.goto(f"{live_server}/survey/section/2")
    page.click("#aims")
    page.keyboard.type("Cyfrinachol – ni ddylai fod yn y porwr")
    wait_saved(page)
    stored = page.evaluate("() => [localStorage.length, sessionStorage.length]")
    assert stored == [0, 0]
    # The session cookie, decoded as the app reads it (it is compressed and signed, so a
    # plain-text search of its value could never find anything).
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == app.config["SESSION_COOKIE_NAME"]]
    session = serializer.loads(cookie["value"])
    assert "participant" in session  # decoded for real
    assert "Cyfrinachol" not in json.dumps(session, ensure_ascii=False, default=str)


def test_the_survey_works_with_javascript_off(chromium, live_server, study, app):
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        token = start_consented(page, live_server, study, "en")
        page.goto(f"{live_server}/survey/section/2")
        page.fill("#aims", "Typed with scripts off")
        with page.expect_navigation():
            page.click("button[value=next]")
        assert page.url.endswith("/section/3")
        assert page.inner_text("[data-save-status]") == ""  # no script, no live status
    finally:
        context.close()
    assert stored_answers(app, token)["aims"] == "Typed with scripts off"
