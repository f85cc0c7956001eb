"""A nominee's page through the app: who they are, their status, and everything that happened
to them, made by the real services (the importer, a batch sent to the loopback SMTP server
with one address refused, the participant's own link, consent and answers); and what can be
done there: send one failed email again (after a confirmation, once however often it is
pressed), mark declined with a reason, edit.

Titles are compared with what the catalogue gives in the page's language, so the tests hold
before the Welsh catalogue is compiled."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from markupsafe import escape

from surveyapp.access import Role
from surveyapp.accounts.models import User
from surveyapp.accounts.services import create_user
from surveyapp.consent.models import ConsentRecord
from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.invitations import services as invitations
from surveyapp.invitations.models import Batch, Message, MessageKind
from surveyapp.invitations.outcomes import NO_SUCH_ADDRESS, describe
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import STATUS_TITLES, NomineeStatus
from surveyapp.participant.services import email_personal_link
from surveyapp.responses.services import save_answers, submit
from surveyapp.studies.models import Study
from surveyapp.tasks import get_huey
from surveyapp.withdrawal.models import Channel, Scope
from surveyapp.withdrawal.services import withdraw
from tests.conftest import Browser
from tests.invitations.conftest import (  # noqa: F401 (mail_app is a fixture)
    PASSWORD,
    URL_RE,
    csv_of,
    load_nominees,
    mail_app,
    sign_in_researcher,
)

PEOPLE = (
    ("Aled Wyn", "aled@example.org", "en"),
    ("Bethan Ŵyn", "bethan@example.org", "cy"),
    ("Carys Môn", "carys@example.org", "unknown"),
    ("Dafydd Llŷr", "dafydd@example.org", "cy"),
    ("Elin Evans", "elin@example.org", "en"),
)
REFUSAL = "550 5.1.1 <bethan@example.org>: Recipient address rejected: User unknown"
EVENT = re.compile(r'<li class="review-row" data-event="(\w+)"')


def in_language(app, locale: str, message, **values) -> str:
    """``message`` (a msgid, or a lazily translated title) as the catalogue gives it in ``locale``."""
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values) if isinstance(message, str) else str(message)


def events(page: str) -> list[str]:
    return EVENT.findall(page)


def personal_link(smtp, address: str) -> str:
    [received] = smtp.handler.for_address(address)
    return next(url for url in URL_RE.findall(received.body) if "/p/" in url).rstrip(".,)")


def participant_browser(app, smtp, address: str) -> Browser:
    """The nominee opening the link from their invitation email (the path only: the test
    client is the server)."""
    link = personal_link(smtp, address)
    browser = Browser(app)
    response = browser.get(link[link.index("/p/"):])
    assert response.status_code in (200, 302), response.status_code
    return browser


@pytest.fixture
def journeys(mail_app, study, smtp):  # noqa: F811
    """Five nominees invited in one batch (Bethan's address refused), then: Aled opens his
    link; Carys opens hers, chooses Welsh, asks for her link by email, consents, answers
    twice and submits; Dafydd opens his and refuses consent; Elin declines from her link."""
    ids = dict(zip((p[1] for p in PEOPLE), load_nominees(mail_app, study, csv_of(*PEOPLE)), strict=True))
    smtp.handler.refuse["bethan@example.org"] = REFUSAL
    with mail_app.app_context():
        batch = invitations.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        assert invitations.run_batch(batch.id).status == "done"
    del smtp.handler.refuse["bethan@example.org"]

    participant_browser(mail_app, smtp, "aled@example.org")
    carys = participant_browser(mail_app, smtp, "carys@example.org")
    assert carys.post(carys.url, {"language": "cy"}).status_code == 302
    participant_browser(mail_app, smtp, "dafydd@example.org")
    elin = participant_browser(mail_app, smtp, "elin@example.org")
    assert elin.post("/survey/decline", {}).status_code == 302

    agreed = {item.id: True for item in study.consent_form.items}
    with mail_app.app_context():
        def participant(address):
            return db.session.scalar(sa.select(Nominee).where(Nominee.email == address)).participant

        email_personal_link(participant("carys@example.org"), "carys.home@example.org",
                            personal_link(smtp, "carys@example.org"), "cy")
        record_consent(participant("carys@example.org"), agreed, language="cy")
        save_answers(participant("carys@example.org"), {"role": "Pennaeth"})
        db.session.commit()
        save_answers(participant("carys@example.org"), {"role": "Pennaeth gwasanaeth", "la_code": "CGN",
                                                        "service_area": "children"})
        submit(participant("carys@example.org"))
        record_consent(participant("dafydd@example.org"), {item.id: False for item in study.consent_form.items},
                       language="cy")
        db.session.commit()
    return ids


def page_of(browser, nominee_id: int) -> str:
    response = browser.get(f"/researcher/nominees/{nominee_id}")
    assert response.status_code == 200
    return browser.page


def test_the_page_shows_each_kind_of_event_in_time_order(mail_app, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    page = page_of(researcher, journeys["carys@example.org"])
    assert events(page) == ["email", "opened", "language", "link_email", "consent", "answers", "submitted"]
    assert '<h1><bdi>Carys Môn</bdi></h1>' in page and "<bdi>carys@example.org</bdi>" in page
    submitted = in_language(mail_app, "en", STATUS_TITLES[NomineeStatus.SUBMITTED])
    assert f'data-status="submitted"><strong>{submitted}' in page
    with mail_app.app_context():
        message = db.session.scalar(sa.select(Message).join(Nominee).where(Nominee.email == "carys@example.org"))
        with mail_app.test_request_context(), force_locale("en"):
            accepted = describe(message)
    assert f"<dd data-outcome>{accepted.title}</dd>" in page
    assert "<code>250 2.0.0 Message accepted for delivery</code>" in unescape(page)  # under Details
    assert in_language(mail_app, "en", "Gave consent") in page
    with mail_app.app_context():
        form = db.session.scalar(sa.select(ConsentRecord).join(Nominee, Nominee.participant_id
                                                                == ConsentRecord.participant_id)
                                 .where(Nominee.email == "carys@example.org")).consent_form
        form_key, form_version = form.key, form.version
    assert in_language(mail_app, "en", "%(form)s, version %(version)d", form=form_key, version=form_version) in page
    assert in_language(mail_app, "en", "Submitted their answers") in page
    assert "Send this email again" not in page  # nothing failed

    page = page_of(researcher, journeys["aled@example.org"])
    assert events(page) == ["email", "opened", "language"]
    page = page_of(researcher, journeys["dafydd@example.org"])
    assert events(page) == ["email", "opened", "language", "consent"]
    assert in_language(mail_app, "en", "Did not give consent") in page and 'data-status="declined"' in page
    page = page_of(researcher, journeys["elin@example.org"])
    assert events(page) == ["email", "opened", "language", "declined"]
    assert f'<dd data-declined-by>{in_language(mail_app, "en", "The nominee, from their own link")}</dd>' in page

    page = page_of(researcher, journeys["bethan@example.org"])
    assert events(page) == ["email"]
    assert f"<dd data-outcome>{in_language(mail_app, 'en', NO_SUCH_ADDRESS)}</dd>" in page
    assert f"<code>{REFUSAL}</code>" in unescape(page)
    assert 'data-status="failed"' in page and "Send this email again" in page


def test_a_withdrawal_is_in_the_history_with_its_scope_and_erasure(mail_app, journeys):  # noqa: F811
    """Carys, having submitted, withdraws her answers from her link: the page records when, the
    scope, how, the outcome and the erasure; no link to record another withdrawal is offered."""
    researcher = sign_in_researcher(mail_app)
    before = page_of(researcher, journeys["carys@example.org"])
    assert re.search(r'href="/researcher/withdrawals/new\?participant=P\d+" data-record-withdrawal', before)
    with mail_app.app_context():
        participant = db.session.scalar(sa.select(Nominee).where(Nominee.email == "carys@example.org")).participant
        withdraw(participant, Scope.ANSWERS, Channel.LINK)
        db.session.commit()
    page = page_of(researcher, journeys["carys@example.org"])
    assert events(page)[-1] == "withdrew"
    assert 'data-scope="answers"' in page and 'data-withdrawal-outcome="applied"' in page
    assert in_language(mail_app, "en", "Answers erased") in page
    assert "data-record-withdrawal" not in page
    page = page_of(researcher, journeys["aled@example.org"])
    assert "withdrew" not in events(page) and "data-record-withdrawal" not in page  # never consented


def test_the_page_in_welsh(mail_app, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app, language="cy")
    page = page_of(researcher, journeys["carys@example.org"])
    assert '<html lang="cy">' in page
    for text in ("Gave consent", "Submitted their answers", "History", "Opened their personal link"):
        assert escape(in_language(mail_app, "cy", text)) in page, text
    assert escape(in_language(mail_app, "cy", STATUS_TITLES[NomineeStatus.SUBMITTED])) in page
    page = page_of(researcher, journeys["bethan@example.org"])
    assert escape(in_language(mail_app, "cy", NO_SUCH_ADDRESS)) in page
    assert f"<code>{REFUSAL}</code>" in unescape(page)  # the server's words, as it said them


def _statements(app, browser, url: str) -> int:
    seen = []
    with app.app_context():
        engine = db.engine

    def count(*args):
        seen.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert browser.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def _fail_again(app, smtp, nominee_id: int) -> None:
    """Bethan's latest email is sent again, and refused again: one more message."""
    smtp.handler.refuse["bethan@example.org"] = REFUSAL
    with app.app_context():
        failed = db.session.scalar(sa.select(Message.id).where(Message.nominee_id == nominee_id,
                                                               Message.status == "failed"))
        batch = invitations.resend(failed)
        db.session.commit()
        invitations.run_batch(batch.id)
    del smtp.handler.refuse["bethan@example.org"]


def test_the_history_costs_the_same_statements_however_many_emails(mail_app, smtp, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    bethan = journeys["bethan@example.org"]
    url = f"/researcher/nominees/{bethan}"
    _statements(mail_app, researcher, url)
    one = _statements(mail_app, researcher, url)
    for _ in range(4):
        _fail_again(mail_app, smtp, bethan)
    five = _statements(mail_app, researcher, url)
    researcher.get(url)
    assert events(researcher.page) == ["email"] * 5
    assert researcher.page.count("Send this email again") == 1  # only the latest can be sent again
    assert five == one, (one, five)


def test_resend_asks_first_and_a_double_submit_queues_one_message(mail_app, smtp, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    bethan = journeys["bethan@example.org"]
    page_of(researcher, bethan)
    confirm_url = re.search(r'href="(/researcher/nominees/\d+/messages/\d+/resend)"', researcher.page).group(1)
    huey = get_huey(mail_app)
    huey.flush()
    with mail_app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))

    assert researcher.get(confirm_url).status_code == 200
    question = in_language(mail_app, "en", "Send the invitation to %(name)s again?", name="<bdi>Bethan Ŵyn</bdi>")
    assert question in researcher.page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', researcher.page).group(1)
    assert researcher.client.post(confirm_url).status_code == 400  # no CSRF token: nothing happens
    assert huey.pending_count() == 0

    first = researcher.client.post(confirm_url, data={"csrf_token": token})
    second = researcher.client.post(confirm_url, data={"csrf_token": token})  # the double click
    assert first.status_code == second.status_code == 302
    assert first.location == second.location == f"/researcher/nominees/{bethan}"
    researcher.get(second.location)
    assert in_language(mail_app, "en", "The message to %(name)s has already been sent again, or sent; it was not "
                       "queued a second time.", name="\u2068Bethan Ŵyn\u2069") in unescape(researcher.page)
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == before + 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 2
    assert huey.pending_count() == 1
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    assert len(smtp.handler.for_address("bethan@example.org")) == 1  # refused once, then delivered once
    page_of(researcher, bethan)
    assert 'data-status="resent"' in researcher.page and 'data-status="sent"' in researcher.page
    assert "Send this email again" not in researcher.page
    # A message that may not be sent again asks nothing and changes nothing.
    assert researcher.get(confirm_url).status_code == 302


def test_resend_refuses_other_nominees_messages(mail_app, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    with mail_app.app_context():
        failed = db.session.scalar(sa.select(Message.id).where(Message.status == "failed"))
    other = journeys["aled@example.org"]
    assert researcher.get(f"/researcher/nominees/{other}/messages/{failed}/resend").status_code == 404
    assert researcher.get(f"/researcher/nominees/{other}/messages/987654/resend").status_code == 404
    assert researcher.get("/researcher/nominees/987654").status_code == 404


def _stored(app, nominee_id: int) -> tuple:
    with app.app_context():
        nominee = db.session.get(Nominee, nominee_id)
        return nominee.declined_at, nominee.declined_reason, nominee.declined_by_id


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "Bad\x00byte"])
def test_mark_declined_needs_a_good_reason(mail_app, journeys, reason):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    aled = journeys["aled@example.org"]
    response = researcher.post(f"/researcher/nominees/{aled}/decline", {"reason": reason})
    assert response.status_code == 400
    assert 'class="error-summary"' in researcher.page
    assert _stored(mail_app, aled) == (None, None, None)


def test_mark_declined_records_why_and_who_and_stops_invitations(mail_app, study, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    [aled] = load_nominees(mail_app, study, csv_of(("Aled Wyn", "aled.two@example.org", "en")))  # not invited yet
    with mail_app.app_context():
        assert aled in {n.id for n in invitations.nominees_to_invite(db.session.get(Study, study.id))}
        researcher_id = db.session.scalar(sa.select(User.id).where(User.email == "researcher@example.org"))
    assert researcher.get(f"/researcher/nominees/{aled}/decline").status_code == 200
    assert in_language(mail_app, "en", "Mark %(name)s as declined?", name="<bdi>Aled Wyn</bdi>") in researcher.page
    second_tab = researcher.csrf()
    assert researcher.client.post(f"/researcher/nominees/{aled}/decline",
                                  data={"reason": "No"}).status_code == 400  # no CSRF token
    response = researcher.post(f"/researcher/nominees/{aled}/decline",
                               {"reason": "  Replied by phone: no time this spring.  "})
    assert response.status_code == 302 and response.location == f"/researcher/nominees/{aled}"
    declined_at, reason, by = _stored(mail_app, aled)
    assert declined_at is not None and reason == "Replied by phone: no time this spring." and by == researcher_id
    with mail_app.app_context():
        assert aled not in {n.id for n in invitations.nominees_to_invite(db.session.get(Study, study.id))}

    page = page_of(researcher, aled)
    assert events(page)[-1] == "declined" and 'data-status="declined"' in page
    assert "<dd data-declined-by><bdi>Ymchwilydd Prawf</bdi></dd>" in page
    assert "<dd data-reason><bdi>Replied by phone: no time this spring.</bdi></dd>" in page
    assert "/decline" not in page  # no button to mark again

    # Again (a second tab): nothing changes, and the page says so.
    response = researcher.client.post(f"/researcher/nominees/{aled}/decline",
                                      data={"reason": "Another reason", "csrf_token": second_tab})
    assert response.status_code == 302
    assert _stored(mail_app, aled) == (declined_at, reason, by)
    researcher.get(response.location)
    assert in_language(mail_app, "en", "%(name)s has already declined: nothing was changed.",
                       name="\u2068Aled Wyn\u2069") in unescape(researcher.page)


def test_someone_who_declined_from_their_link_is_not_marked_again(mail_app, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    elin = journeys["elin@example.org"]
    before = _stored(mail_app, elin)
    assert before[0] is not None and before[2] is None
    response = researcher.get(f"/researcher/nominees/{elin}/decline")
    assert response.status_code == 302
    assert _stored(mail_app, elin) == before


def test_editing_moved_to_its_own_address(mail_app, journeys):  # noqa: F811
    researcher = sign_in_researcher(mail_app)
    aled = journeys["aled@example.org"]
    assert researcher.get(f"/researcher/nominees/{aled}/edit").status_code == 200
    name = re.search(r"<input[^>]*id=\"name\"[^>]*>", researcher.page).group(0)
    email = re.search(r"<input[^>]*id=\"email\"[^>]*>", researcher.page).group(0)
    # The email field is a plain full-width field, like the name (no class of its own).
    assert "class=" not in name and "class=" not in email and 'type="email"' in email
    assert researcher.client.post(f"/researcher/nominees/{aled}", data={"csrf_token": researcher.csrf()}
                                  ).status_code == 405  # the page itself changes nothing
    response = researcher.post(f"/researcher/nominees/{aled}/edit", {
        "name": "Aled Wyn Jones", "email": "aled.jones@example.org", "la_code": "CAY", "service_area": "adults",
        "agency": "police", "role": "Sergeant", "preferred_language": "cy"})
    assert response.status_code == 302 and response.location == f"/researcher/nominees/{aled}"
    page = page_of(researcher, aled)
    assert "<bdi>aled.jones@example.org</bdi>" in page and "<h1><bdi>Aled Wyn Jones</bdi></h1>" in page


@pytest.mark.parametrize("who", ["anonymous", Role.REVIEWER, Role.ADMIN])
def test_only_researchers(mail_app, journeys, who):  # noqa: F811
    bethan = journeys["bethan@example.org"]
    with mail_app.app_context():
        failed = db.session.scalar(sa.select(Message.id).where(Message.status == "failed"))
    browser = Browser(mail_app)
    if who != "anonymous":
        with mail_app.app_context():
            create_user(f"{who}@example.org", "Staff", PASSWORD, {who}, "en")
            db.session.commit()
        assert browser.post("/login", {"email": f"{who}@example.org", "password": PASSWORD}).status_code == 302
    for url in (f"/researcher/nominees/{bethan}", f"/researcher/nominees/{bethan}/edit",
                f"/researcher/nominees/{bethan}/decline", f"/researcher/nominees/{bethan}/messages/{failed}/resend"):
        response = browser.client.get(url)
        assert response.status_code == (302 if who == "anonymous" else 403), url
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 1
