"""Check before sending, in real Chromium, in Welsh and in English: the invitations page leads to
the preview, a test goes to the researcher, the Send button queues exactly the batch shown, and
axe-core (WCAG 2.2 A/AA) finds nothing on the preview or on the batch page it leads to."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale, gettext, ngettext

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.db import db
from surveyapp.invitations.models import Batch, Message
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.services import import_nominees
from surveyapp.studies.models import Study
from tests.conftest import EXAMPLE_NOMINEES

from .test_staff_pages import PASSWORD, RESEARCHER, check_page, navigate, sign_in


@pytest.fixture
def mail_server(app):
    from tests.smtp_server import SmtpServer

    server = SmtpServer()
    server.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_TIMEOUT=10)
    try:
        yield server
    finally:
        server.stop()


def _set_up(app, study, language: str) -> int:
    with app.app_context():
        create_user(RESEARCHER, "Ymchwilydd Prawf", PASSWORD, {Role.RESEARCHER}, language)
        result = parse_nominees(EXAMPLE_NOMINEES.name, EXAMPLE_NOMINEES.read_bytes())
        assert result.ok
        import_nominees(db.session.get(Study, study.id), result.rows, app.config["LINK_KEY"])
        db.session.commit()
        return len(result.rows)


@pytest.mark.parametrize("language", ["cy", "en"])
def test_preview_test_email_and_confirm_in_chromium(page, live_server, app, study, mail_server, screenshot,
                                                   language):
    total = _set_up(app, study, language)
    axe, failures = Axe(), {}
    sign_in(page, live_server)
    assert page.get_attribute("html", "lang") == language

    page.goto(f"{live_server}/researcher/invitations/")
    navigate(page, lambda: page.click("a[data-preview=invitation]"))
    assert page.url.endswith("/researcher/invitations/send/invitation")
    shown = sum(int(n) for n in page.eval_on_selector_all(
        "tr[data-language] td", "cells => cells.map(c => c.textContent)"))
    assert shown == total  # nobody has been emailed yet: every nominee, once
    assert page.locator("section[data-sample]").count() >= 2
    check_page(page, axe, screenshot, language, "send-preview", failures)

    # "Send a test to me": one email, to the researcher; back on the preview, saying so.
    first = page.locator("form[data-test] button").first
    navigate(page, lambda: first.click())
    assert page.url.endswith("/researcher/invitations/send/invitation")
    (received,) = mail_server.handler.received
    assert received.rcpt_tos == (RESEARCHER,)
    assert page.locator(".notice").count() == 1
    check_page(page, axe, screenshot, language, "send-preview-tested", failures)

    with app.test_request_context(), force_locale(language):
        button = ngettext("Send %(num)d invitation", "Send %(num)d invitations", total)
        queued = ngettext("%(num)d message queued.", "%(num)d messages queued.", total)
        heading = gettext("Check before sending: invitations")
    assert page.locator("h1").inner_text() == heading
    confirm = page.locator("form[data-confirm=new] button")
    assert confirm.inner_text() == button
    navigate(page, lambda: confirm.click())
    assert "/researcher/invitations/batches/" in page.url
    assert queued in page.locator(".notice").inner_text()
    check_page(page, axe, screenshot, language, "send-confirmed", failures)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == total
    assert len(mail_server.handler.received) == 1, "the page only queues: the worker sends"
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=False)
