"""A nominee's page in real Chromium, in Welsh and in English: axe-core (WCAG 2.2 A/AA) at no
violations on the history, the resend confirmation, the decline form and the filtered list;
the resend confirmed by a click queues one message; the email field is as wide as the name;
the pages reflow at 320 px."""

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
from surveyapp.invitations import services as invitations
from surveyapp.invitations.models import Message, MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.responses.services import save_answers, submit
from surveyapp.studies.models import Study
from surveyapp.tasks import get_huey
from tests.invitations.conftest import LINK_KEY, csv_of, load_nominees

from .test_staff_pages import check_page, narrow_page, navigate, overflow, switch_language  # noqa: F401

RESEARCHER = "researcher@example.org"
PASSWORD = "a-long-password-123"
PEOPLE = (("Bethan Ŵyn", "bethan@example.org", "cy"), ("Carys Môn", "carys@example.org", "en"),
          ("Aled Wyn", "aled@example.org", "en"))
REFUSAL = "550 5.1.1 <bethan@example.org>: Recipient address rejected"


@pytest.fixture
def app(make_app, smtp):
    """The app the live server serves, sending mail to the loopback SMTP server."""
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10)


@pytest.fixture
def history_data(app, study, smtp) -> dict[str, int]:
    """Three nominees invited (Bethan's address refused); Carys opened her link, consented,
    answered and submitted. A researcher who prefers Welsh."""
    ids = dict(zip((p[1] for p in PEOPLE), load_nominees(app, study, csv_of(*PEOPLE)), strict=True))
    smtp.handler.refuse["bethan@example.org"] = REFUSAL
    with app.app_context():
        create_user(RESEARCHER, "Ymchwilydd Prawf", PASSWORD, {Role.RESEARCHER}, "cy")
        batch = invitations.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        invitations.run_batch(batch.id)
        participant = db.session.get(Nominee, ids["carys@example.org"]).participant
        participant.opened_at = utcnow()
        record_consent(participant, {item.id: True for item in study.consent_form.items}, language="en")
        save_answers(participant, {"role": "Head of Service"})
        submit(participant)
        db.session.commit()
    del smtp.handler.refuse["bethan@example.org"]
    get_huey(app).flush()
    return ids


def in_language(app, locale: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values)


def sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", RESEARCHER)
    page.fill("#password", PASSWORD)
    navigate(page, lambda: page.click("main form button[type=submit]"))
    page.wait_for_url("**/researcher/")


def test_history_and_resend_in_welsh_and_english(page, live_server, app, history_data, screenshot):
    axe, failures = Axe(), {}
    carys, bethan = history_data["carys@example.org"], history_data["bethan@example.org"]
    sign_in(page, live_server)
    for language in ("cy", "en"):
        if language == "en":
            switch_language(page, "en")
        page.goto(f"{live_server}/researcher/nominees/{carys}")
        kinds = page.eval_on_selector_all("[data-event]", "items => items.map(li => li.dataset.event)")
        assert kinds == ["email", "opened", "language", "consent", "answers", "submitted"]
        assert page.inner_text("h2#history-title") == in_language(app, language, "History")
        check_page(page, axe, screenshot, language, "nominee-history", failures)

        page.goto(f"{live_server}/researcher/nominees/{bethan}")
        page.click("details summary")  # the server's reply, opened as a person would
        assert page.is_visible(f"code:text('{REFUSAL}')")
        check_page(page, axe, screenshot, language, "nominee-history-failed", failures)
        page.goto(f"{live_server}/researcher/nominees/{bethan}/decline")
        check_page(page, axe, screenshot, language, "nominee-decline", failures)
        page.goto(f"{live_server}/researcher/nominees/?language=cy&sort=changed&dir=desc")
        assert page.locator("tbody tr").count() == 1
        check_page(page, axe, screenshot, language, "nominee-list-filtered", failures)

        page.goto(f"{live_server}/researcher/nominees/{bethan}")
        navigate(page, lambda: page.click("[data-status=failed] a.button"))
        question = in_language(app, language, "Send the invitation to %(name)s again?", name="Bethan Ŵyn")
        assert page.inner_text("h1") == question
        check_page(page, axe, screenshot, language, "nominee-resend-confirm", failures)
        if language == "cy":
            navigate(page, lambda: page.click("main form a"))  # "No, go back": nothing is sent
            assert page.url.endswith(f"/researcher/nominees/{bethan}")
            with app.app_context():
                assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 3
    # In English, the researcher confirms.
    navigate(page, lambda: page.click("main form button[type=submit]"))
    assert page.url.endswith(f"/researcher/nominees/{bethan}")
    queued = in_language(app, "en", "The message to %(name)s has been queued again.", name="\u2068Bethan Ŵyn\u2069")
    assert page.inner_text(".notice").strip() == queued
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 4
    assert get_huey(app).pending_count() == 1
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)


def test_the_email_field_is_as_wide_as_the_name(page, live_server, app, history_data):
    sign_in(page, live_server)
    page.goto(f"{live_server}/researcher/nominees/{history_data['aled@example.org']}/edit")
    name, email = (page.eval_on_selector(f"#{field}", "el => el.getBoundingClientRect().width")
                   for field in ("name", "email"))
    assert email == name and email > 300


def test_the_nominee_pages_reflow_at_320_px(narrow_page, live_server, app, history_data):  # noqa: F811
    page = narrow_page
    sign_in(page, live_server)
    bethan = history_data["bethan@example.org"]
    with app.app_context():
        failed = db.session.scalar(sa.select(Message.id).where(Message.status == "failed"))
    for path in (f"/researcher/nominees/{bethan}", f"/researcher/nominees/{bethan}/decline",
                 f"/researcher/nominees/{bethan}/messages/{failed}/resend", "/researcher/nominees/?q=example"):
        page.goto(f"{live_server}{path}")
        if page.locator("details summary").count():
            page.click("details summary")  # the server's reply shown too
        sideways, outside = overflow(page)
        assert sideways <= 0 and outside == [], (path, sideways, outside)
