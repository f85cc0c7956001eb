"""The ways back into the survey, in real Chromium, in Welsh and English:

* the copy button for the personal link on the "finish later" page (keyboard only);
* the save status on a phone-sized screen (a live region in view, a silent line beside the field);
* from the review page to one question and straight back ("Save and go back to check your answers");
* axe-core on the "email me my link" form with an error and on the confirmation page.

The Welsh words expected are read from translations/cy/LC_MESSAGES/messages.po (the msgstr of
each English msgid), so the tests check the page against the catalogue, not against a guess.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from .helpers import activate, start_consented, stored_answers, tab_to, wait_saved
from .test_accessibility import WCAG_22_AA

LANGUAGES = ["cy", "en"]
PO_FILE = Path(__file__).resolve().parents[2] / "translations" / "cy" / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=1)
def _welsh_catalogue():
    from babel.messages.pofile import read_po

    with PO_FILE.open("rb") as fh:
        return read_po(fh, locale="cy")


def t(language: str, msgid: str, **params) -> str:
    """``msgid`` as a page in ``language`` shows it (the .po file's msgstr for Welsh)."""
    text = msgid
    if language == "cy":
        message = _welsh_catalogue().get(msgid)
        assert message is not None and message.string and not message.fuzzy, f"no Welsh for {msgid!r}"
        text = message.string
    return text % params if params else text


def saved_pattern(language: str) -> str:
    """The "Saved HH:MM" status in ``language``, as a regular expression."""
    return "^" + re.escape(t(language, "Saved %(time)s", time="HH:MM")).replace("HH:MM", r"\d\d:\d\d") + "$"


def _click_and_wait(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _axe_violations(page) -> dict:
    results = Axe().run(page, options=WCAG_22_AA)
    return {v["id"]: (v["help"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]}


# 1. The copy button on the "finish later" page ---------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_copy_button_copies_the_personal_link_with_the_keyboard(context, page, live_server, study, language):
    # 127.0.0.1 is a secure context, so the page can write the clipboard; reading it back from the
    # test needs "clipboard-read" (without it headless Chromium says "Read permission denied").
    # Both are granted, so what was copied is checked, not only the status.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    token = start_consented(page, live_server, study, language)
    activate(page, "button[name=action][value=later]")
    page.wait_for_url("**/survey/saved")
    assert page.get_attribute("html", "lang") == language

    # The link is a real link, to the personal link, and shows that same address.
    link = page.locator("[data-copy-source]")
    assert link.evaluate("(el) => el.tagName") == "A"
    assert "personal-link__url" in link.get_attribute("class")
    href = link.get_attribute("href")
    assert urlsplit(href).path == f"/p/{token}" and not urlsplit(href).query
    assert link.inner_text().strip() == href

    # The button is shown (clipboard and secure context exist) with its name in the language.
    button = page.locator("[data-copy-button]")
    assert button.is_visible()
    assert button.inner_text().strip() == t(language, "Copy link")
    status = page.locator("[data-copy-status]")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    assert status.inner_text() == ""

    # Record every text the live region takes, to count what a screen reader would be given.
    page.evaluate("""() => {
        const region = document.querySelector('[data-copy-status]');
        window.__copyStatusTexts = [];
        new MutationObserver(() => window.__copyStatusTexts.push(region.textContent))
            .observe(region, {childList: true, characterData: true, subtree: true});
    }""")
    tab_to(page, "[data-copy-button]")
    page.keyboard.press("Enter")
    copied = t(language, "Link copied")
    page.wait_for_function("(text) => document.querySelector('[data-copy-status]').textContent === text",
                           arg=copied)
    assert status.inner_text() == copied  # set once, not appended
    page.wait_for_timeout(300)  # nothing else arrives afterwards
    texts = page.evaluate("() => window.__copyStatusTexts")
    assert [text for text in texts if text] == [copied], texts
    assert page.evaluate("() => navigator.clipboard.readText()") == href

    # Space works as well, and a second copy still says it once.
    page.evaluate("() => navigator.clipboard.writeText('something else')")
    page.evaluate("() => { window.__copyStatusTexts = []; }")
    assert page.evaluate("() => document.activeElement.matches('[data-copy-button]')")
    page.keyboard.press("Space")
    page.wait_for_function("() => window.__copyStatusTexts.some((text) => text !== '')")
    page.wait_for_timeout(300)
    assert status.inner_text() == copied
    assert page.evaluate("() => navigator.clipboard.readText()") == href
    texts = page.evaluate("() => window.__copyStatusTexts")
    assert [text for text in texts if text] == [copied], texts


# Where the clipboard cannot be written (scripts off, an insecure context, an old browser) the
# button must stay hidden: pressing it would do nothing. (``.button { display: inline-block }``
# once outranked the ``hidden`` attribute; app.css now makes ``[hidden]`` win.)
@pytest.mark.parametrize("without", ["scripts", "clipboard"])
def test_copy_button_stays_hidden_where_it_cannot_copy(chromium, live_server, study, without):
    context = chromium.new_context(java_script_enabled=without != "scripts")
    context.set_default_timeout(15_000)
    if without == "clipboard":
        context.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})")
    try:
        page = context.new_page()
        start_consented(page, live_server, study, "en")
        page.goto(f"{live_server}/survey/saved")
        assert page.locator("[data-copy-source]").is_visible()  # the link is there to copy by hand
        button = page.locator("[data-copy-button]")
        assert button.get_attribute("hidden") is not None
        assert not button.is_visible()
    finally:
        context.close()


# 2. The save status on a phone -------------------------------------------------------------

PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}
# The last text question of section 3 ("How your 'Front Door' works"), low on a long page.
LOW_QUESTION = "team_makeup"
TYPED_LOW = {"cy": "Dau weithiwr cymdeithasol, un swyddog heddlu a nyrs – ŵ ŷ.",
             "en": "Two social workers, a police officer and a nurse."}

IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height, inner: window.innerHeight,
            inside: r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight}; }"""


# Whether the element itself (not something fixed over it) is what is at its top-left corner.
ON_TOP = """(el) => { const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + 4, r.top + Math.min(r.height / 2, 12));
    return hit !== null && (hit === el || el.contains(hit)); }"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_save_status_is_in_view_on_a_phone(chromium, live_server, study, app, language):
    section_3 = study.survey.sections[2]
    text_keys = [q.key for q in section_3.questions if q.type in ("short_text", "long_text")]
    assert text_keys[-1] == LOW_QUESTION
    context = chromium.new_context(locale="en-GB", **PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        token = start_consented(page, live_server, study, language)
        page.goto(f"{live_server}/survey/section/3")
        field = page.locator(f"#{LOW_QUESTION}")
        field.scroll_into_view_if_needed()
        assert page.evaluate("() => window.scrollY") > 667  # well down a long page
        field.tap()
        page.keyboard.type(TYPED_LOW[language])
        wait_saved(page, LOW_QUESTION)

        pattern = saved_pattern(language)
        form = page.locator("#survey-form")
        live = page.locator("[data-save-status]")
        beside = page.locator(f'[data-question="{LOW_QUESTION}"] [data-field-status]')
        live_text = live.inner_text()  # read at once: the live region empties after 5 seconds
        live_box = live.evaluate(IN_VIEW)
        field_box = field.evaluate(IN_VIEW)
        beside_box = beside.evaluate(IN_VIEW)

        # (a) The live region says "Saved HH:MM" in the page's language, inside the screen,
        # while the field being typed in is on the screen too.
        assert re.match(pattern, live_text), live_text
        assert live.get_attribute("role") == "status"
        assert live_box["inside"], live_box
        assert field_box["inside"], field_box
        assert page.evaluate("(key) => document.activeElement.id === key", LOW_QUESTION)
        # (b) The line beside the question says the same, is on the screen, and is hidden from
        # assistive technology (the live region has already announced it).
        assert beside.inner_text() == live_text
        assert beside.is_visible() and beside_box["inside"], beside_box
        assert beside.get_attribute("aria-hidden") == "true"
        # (c) One live region on the form, and the line beside the field is not inside one.
        assert form.evaluate("(f) => f.querySelectorAll('[role=status], [role=alert], [aria-live]').length") == 1
        assert beside.evaluate("(el) => el.closest('[aria-live], [role=status], [role=alert]') === null")
        # Nothing covers them: the fixed bar is not on top of the field or of the line beside it.
        assert field.evaluate(ON_TOP), "the field is covered"
        assert beside.evaluate(ON_TOP), "the line beside the field is covered"
        assert stored_answers(app, token)[LOW_QUESTION] == TYPED_LOW[language]

        # Typing on the last visible line (the field's bottom edge at the screen's): the fixed bar
        # may cover the bottom of the field, but never all of it (WCAG 2.2 2.4.11, focus not obscured).
        field.evaluate("(el) => window.scrollBy(0, el.getBoundingClientRect().bottom - window.innerHeight + 1)")
        with page.expect_response(lambda r: r.url.endswith("/autosave") and r.request.method == "POST"):
            page.keyboard.type(" ✓")
        page.wait_for_function("() => document.querySelector('[data-save-status]').textContent !== ''")
        assert live.is_visible() and field.evaluate(IN_VIEW)["inside"]
        # Where the typing is (the text is short: its first line, at the field's top left).
        assert field.evaluate(ON_TOP), "the field being typed in is hidden behind the save status"
        assert stored_answers(app, token)[LOW_QUESTION] == TYPED_LOW[language] + " ✓"
    finally:
        context.close()


# 3. From the review page to one question and straight back --------------------------------

TYPED_ROLE = {"cy": "Rheolwr Gwasanaeth, Diogelu", "en": "Service Manager, Safeguarding"}
TYPED_AIMS = {"cy": "Ymateb amserol i bob pryder.", "en": "A timely response to every concern."}
CHANGED_AIMS = {"cy": "Ymateb amserol a chydlynol i bob pryder – ŵ ŷ.",
                "en": "A timely, joined-up response to every concern."}


def _summary_hrefs(page) -> list[str]:
    return page.eval_on_selector_all("[data-error-summary] a", "(links) => links.map((a) => a.getAttribute('href'))")


def _go_back_to_review(page, language, token) -> None:
    """On a section opened from the review page: the first, primary button goes back there."""
    button = page.locator(".actions button").first
    assert button.get_attribute("value") == "review"
    assert button.get_attribute("class") == "button"  # primary; "Save and continue" is secondary
    assert button.inner_text().strip() == t(language, "Save and go back to check your answers")
    activate(page, "button[name=action][value=review]")
    # The path only: the POST went to the page's own address, "#q-<key>" included, and a
    # redirect keeps the fragment of the request it answers, so Chromium shows /review#q-<key>.
    page.wait_for_url(lambda url: urlsplit(url).path == "/survey/review")


@pytest.mark.parametrize("language", LANGUAGES)
def test_review_error_link_goes_to_the_question_and_straight_back(page, live_server, study, app, language):
    token = start_consented(page, live_server, study, language)
    # Section 1: role and la_code (required) left unanswered; service_area answered.
    page.check("input[name=service_area] >> nth=0")
    _click_and_wait(page, "button[value=next]")
    page.fill("#aims", TYPED_AIMS[language])
    for _ in range(2, len(study.survey.sections) + 1):
        _click_and_wait(page, "button[value=next]")
    page.wait_for_url("**/survey/review")
    assert page.get_attribute("html", "lang") == language

    base = "/survey/section/1?return=review"
    assert _summary_hrefs(page) == [f"{base}#q-role", f"{base}#q-la_code"]
    role_text = study.survey.questions["role"].text[language]
    summary = page.inner_text("[data-error-summary]")
    assert t(language, "Answer this question before you submit: %(question)s", question=role_text) in summary

    # Keyboard only: from the summary (which has the focus) to the question, and back.
    activate(page, f'[data-error-summary] a[href="{base}#q-role"]')
    assert page.url == f"{live_server}{base}#q-role"
    assert page.locator("input[type=hidden][name=return]").get_attribute("value") == "review"
    tab_to(page, "#role")
    page.keyboard.type(TYPED_ROLE[language])
    _go_back_to_review(page, language, token)
    assert _summary_hrefs(page) == [f"{base}#q-la_code"]  # role no longer listed
    assert stored_answers(app, token)["role"] == TYPED_ROLE[language]
    assert TYPED_ROLE[language] in page.inner_text("main")

    # The radio question the same way: Space chooses the first option.
    activate(page, f'[data-error-summary] a[href="{base}#q-la_code"]')
    tab_to(page, "input[name=la_code]")
    page.keyboard.press("Space")
    _go_back_to_review(page, language, token)
    assert page.locator("[data-error-summary]").count() == 0  # nothing left to answer
    assert stored_answers(app, token)["la_code"] == study.survey.questions["la_code"].options[0].code


@pytest.mark.parametrize("language", LANGUAGES)
def test_change_links_on_the_review_page_come_back_to_it(page, live_server, study, app, language):
    token = start_consented(page, live_server, study, language)
    page.goto(f"{live_server}/survey/section/2")
    page.fill("#aims", TYPED_AIMS[language])
    _click_and_wait(page, "button[value=next]")
    page.goto(f"{live_server}/survey/review")

    # Every section's "Change your answers in ..." link comes back to the review page.
    for number, section in enumerate(study.survey.sections, start=1):
        name = t(language, "Change your answers in “%(section)s”", section=section.title[language])
        link = page.locator("section.review-section a", has_text=name)
        assert link.count() == 1, name
        assert link.get_attribute("href") == f"/survey/section/{number}?return=review"

    aims_link = 'section.review-section a[href="/survey/section/2?return=review"]'
    activate(page, aims_link)
    assert page.url == f"{live_server}/survey/section/2?return=review"
    tab_to(page, "#aims")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(CHANGED_AIMS[language])
    _go_back_to_review(page, language, token)
    assert CHANGED_AIMS[language] in page.inner_text("main")
    assert stored_answers(app, token)["aims"] == CHANGED_AIMS[language]

    # A section that is only looked at goes back the same way, with nothing changed.
    activate(page, 'section.review-section a[href="/survey/section/6?return=review"]')
    _go_back_to_review(page, language, token)
    assert stored_answers(app, token)["aims"] == CHANGED_AIMS[language]


# 4. axe-core on the link form with an error, and on the confirmation page -----------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_saved_page_with_an_email_error_has_no_axe_violations(page, live_server, study, language, screenshot):
    start_consented(page, live_server, study, language)
    _click_and_wait(page, "button[value=later]")
    page.wait_for_url("**/survey/saved")
    page.fill("#email", "not-an-address")
    send = page.locator("form button[type=submit]", has_text=t(language, "Send me the link"))
    assert send.count() == 1
    with page.expect_navigation():
        send.click()
    assert page.url.endswith("/survey/email-link")
    assert page.get_attribute("html", "lang") == language
    summary = page.locator("[data-error-summary]")
    assert summary.is_visible()
    expected = t(language, "Enter an email address in the right format, for example name@example.org.")
    assert expected in summary.inner_text()
    assert page.evaluate("() => document.activeElement.matches('[data-error-summary]')")
    assert page.locator("#email").get_attribute("aria-describedby") == "email-error"
    assert page.input_value("#email") == "not-an-address"  # kept, to be put right
    screenshot(page, f"{language}-saved-email-error")
    violations = _axe_violations(page)
    assert violations == {}, json.dumps(violations, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("language", LANGUAGES)
def test_done_page_has_no_axe_violations(page, live_server, study, language, screenshot):
    start_consented(page, live_server, study, language)
    page.fill("#role", TYPED_ROLE[language])
    page.check("input[name=la_code] >> nth=0")
    page.check("input[name=service_area] >> nth=0")
    _click_and_wait(page, "button[value=later]")
    page.goto(f"{live_server}/survey/review")
    _click_and_wait(page, "#submit button")
    page.wait_for_url("**/survey/done")
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text("h1") == t(language, "Thank you: your answers have been submitted")
    screenshot(page, f"{language}-done-after-submit")
    violations = _axe_violations(page)
    assert violations == {}, json.dumps(violations, indent=1, ensure_ascii=False)
