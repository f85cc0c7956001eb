"""One bad nominee row fails alone: a name on two lines, an accented mailbox name (with and
without SMTPUTF8 at the server), an accented domain, an address that is not one, a fault while
composing. Each ends with its own reason on the batch page; the batch goes on and finishes."""

from __future__ import annotations

import html
import re
from collections import Counter
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from surveyapp.db import db
from surveyapp.invitations import emails, services
from surveyapp.invitations.mailer import Mailer, envelope
from surveyapp.invitations.models import REASON_TITLES, Batch, Message, MessageKind, Reason
from surveyapp.nominees.models import Nominee
from surveyapp.studies.models import Study

from .conftest import LINK_KEY, csv_of, legacy_nominee, load_nominees, sign_in_researcher
from .test_emails import _welsh_msgstr, header_block, raw_header

ROW_RE = re.compile(r'<tr data-message="(\d+)" data-status="(\w+)">(.*?)</tr>', re.S)
PEOPLE = (("Aled Wyn", "aled@example.org", "en"), ("Carys Môn", "carys@example.org", "cy"))
ACCENTED = "ŵales@example.org"


def run_new_batch(app, study) -> tuple[int, str]:
    """A batch for every nominee not yet in one, made directly: the preview leaves out an address
    it can tell is unusable (tests/invitations/test_preview.py), but one edited after the batch
    was made reaches the sender, which must still refuse it alone."""
    with app.app_context():
        already = sa.select(Message.nominee_id)
        ids = db.session.scalars(sa.select(Nominee.id).where(Nominee.study_id == study.id, Nominee.id.not_in(already))
                                 .order_by(Nominee.id)).all()
        batch = Batch(study_id=study.id, kind=MessageKind.INVITATION.value,
                      messages=[Message(nominee_id=pk, kind=MessageKind.INVITATION.value) for pk in ids])
        db.session.add(batch)
        db.session.commit()
        batch = services.run_batch(batch.id)
        return batch.id, batch.status


def outcomes(app) -> dict[int, tuple[str, str | None]]:
    """{nominee id: (status, smtp_reply)} for every message, last one per nominee."""
    with app.app_context():
        return {n: (s, r) for n, s, r in db.session.execute(
            sa.select(Message.nominee_id, Message.status, Message.smtp_reply).order_by(Message.id))}


def page_rows(browser, batch_id) -> dict[str, tuple[str, str]]:
    """{message id: (status, visible text of the row)} from the batch page."""
    assert browser.get(f"/researcher/invitations/batches/{batch_id}").status_code == 200
    def text(cells: str) -> str:
        cells = re.sub(r"</?(bdi|span)\b[^>]*>", "", cells)  # inline: no gap
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cells)).split())

    return {mid: (status, text(cells))
            for mid, status, cells in ROW_RE.findall(browser.page)}


def reason_text(app, reason: Reason, locale: str, **names) -> str:
    """The reason as a researcher reads it: the Welsh catalogue's own msgstr when it has one."""
    msgid = REASON_TITLES[reason]._args[0]
    with app.test_request_context():
        if locale == "cy" and _welsh_msgstr(app, msgid):
            return _welsh_msgstr(app, msgid) % names
        with force_locale(locale):
            return _(msgid, **names)


def test_a_name_on_two_lines_fails_alone_and_can_add_no_header(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    two_lines = legacy_nominee(mail_app, study, "Siân\nMorgan", "sian@example.org", "cy")
    injected = legacy_nominee(mail_app, study, "Huw\r\nBcc: victim@evil.example\r\nX-Injected: yes",
                              "huw@example.org")
    batch_id, status = run_new_batch(mail_app, study)

    assert status == "done"
    assert smtp.handler.addresses() == Counter({"aled@example.org": 1, "carys@example.org": 1})
    for message in smtp.handler.received:
        assert not re.search(rb"^(X-Injected|Bcc):", header_block(message.raw), re.M | re.I)
    assert {outcomes(mail_app)[n] for n in (two_lines, injected)} == {("failed", "app:name_lines")}


def test_a_subject_or_name_can_never_carry_a_line_break_into_a_header(mail_app):
    from surveyapp.invitations.emails import one_line, recipient

    assert one_line("Huw\r\nBcc: victim@evil.example") == "Huw Bcc: victim@evil.example"
    assert "\n" not in recipient("Huw\r\nBcc: x@evil.example", "huw@example.org")


def test_an_accented_mailbox_fails_alone_when_the_server_has_no_smtputf8(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(PEOPLE[0]))
    accented = legacy_nominee(mail_app, study, "Gwenllïan Ŵales", ACCENTED)
    load_nominees(mail_app, study, csv_of(PEOPLE[1]))  # after the bad row: still invited
    batch_id, status = run_new_batch(mail_app, study)

    assert status == "done"
    assert smtp.handler.addresses() == Counter({"aled@example.org": 1, "carys@example.org": 1})
    assert len(smtp.handler.mail_options) == 2, "nothing was begun for the accented address"
    assert outcomes(mail_app)[accented] == ("failed", "app:needs_smtputf8")

    for language in ("en", "cy"):
        browser = sign_in_researcher(mail_app, f"researcher-{language}@example.org", language)
        rows = page_rows(browser, batch_id)
        (failed,) = [text for status, text in rows.values() if status == "failed"]
        expected = reason_text(mail_app, Reason.NEEDS_SMTPUTF8, language, name="Gwenllïan Ŵales", email=ACCENTED)
        assert expected in failed
        assert 'data-reason="needs_smtputf8"' in browser.page
        assert "app:" not in browser.page  # the stored code is never shown as it is
    assert "the mail server cannot deliver to such addresses" in reason_text(
        mail_app, Reason.NEEDS_SMTPUTF8, "en", name="x", email="y")


def test_an_accented_mailbox_is_delivered_when_the_server_offers_smtputf8(make_app, smtp_utf8, study):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_utf8.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10)
    load_nominees(app, study, csv_of(PEOPLE[0]))
    accented = legacy_nominee(app, study, "Gwenllïan Ŵales", ACCENTED, "cy")
    batch_id, status = run_new_batch(app, study)

    assert status == "done"
    assert smtp_utf8.handler.addresses() == Counter({"aled@example.org": 1, ACCENTED: 1})
    (received,) = smtp_utf8.handler.for_address(ACCENTED)
    assert "Ŵales".encode() in raw_header(received.raw, "To")  # UTF-8 in the header, not an encoded word
    assert received.message["To"].addresses[0].addr_spec == ACCENTED
    assert "Gwenllïan Ŵales" in received.body
    # SMTPUTF8 for that message only; the plain one went as plain ASCII.
    assert sorted(tuple(o) for o in smtp_utf8.handler.mail_options) == [(), ("SMTPUTF8", "BODY=8BITMIME")]
    assert outcomes(app)[accented][0] == "sent"


@pytest.mark.parametrize("utf8", [False, True])
def test_an_accented_domain_goes_as_idna(make_app, smtp, smtp_utf8, study, utf8):
    server = smtp_utf8 if utf8 else smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10)
    nominee = legacy_nominee(app, study, "Caffi'r Tŷ", "post@tŷ-coffi.cymru")
    assert run_new_batch(app, study)[1] == "done"
    (received,) = server.handler.received
    assert received.rcpt_tos == ("post@xn--t-coffi-rvb.cymru",)
    assert received.message["To"].addresses[0].addr_spec == "post@xn--t-coffi-rvb.cymru"
    assert server.handler.mail_options == [[]]
    assert outcomes(app)[nominee][0] == "sent"


@pytest.mark.parametrize("address", [
    "aled@example.org\r\nRCPT TO:<victim@evil.example>",
    "two words@example.org",
    "no-at-sign.example.org",
    "<angle>@example.org",
    "trailing@",
])
def test_an_address_that_is_not_one_fails_alone_and_injects_nothing(mail_app, smtp, study, address):
    bad = legacy_nominee(mail_app, study, "Rhys Drwg", address)
    load_nominees(mail_app, study, csv_of(PEOPLE[1]))
    assert run_new_batch(mail_app, study)[1] == "done"
    assert smtp.handler.addresses() == Counter({"carys@example.org": 1})
    assert outcomes(mail_app)[bad] == ("failed", "app:bad_address")


def test_the_reason_names_the_nominee_escaped_and_isolated(mail_app, smtp, study):
    legacy_nominee(mail_app, study, '<script>alert(1)</script> \u202eevil', "not an address")
    batch_id, _status = run_new_batch(mail_app, study)
    browser = sign_in_researcher(mail_app)
    page_rows(browser, batch_id)
    assert "<script>alert(1)" not in browser.page
    assert "Not sent: the address of <bdi>&lt;script&gt;alert(1)&lt;/script&gt; \u202eevil</bdi>, " \
           "<bdi>not an address</bdi>, is not one" in browser.page


def test_send_again_on_an_unsendable_message_fails_the_same_way_but_finishes(mail_app, smtp, study):
    accented = legacy_nominee(mail_app, study, "Gwenllïan Ŵales", ACCENTED)
    batch_id, _status = run_new_batch(mail_app, study)
    with mail_app.app_context():
        old = db.session.scalar(sa.select(Message.id).where(Message.nominee_id == accented))
        again = services.resend(old)
        db.session.commit()
        assert services.run_batch(again.id).status == "done"
    assert outcomes(mail_app)[accented] == ("failed", "app:needs_smtputf8")
    assert smtp.handler.received == []


def test_a_fault_while_composing_one_email_fails_that_one_and_the_batch_goes_on(
        mail_app, smtp, study, monkeypatch):
    """Any fault building one email (here a broken template for one nominee) fails it alone."""
    _first, unlucky, _last = load_nominees(mail_app, study, csv_of(
        PEOPLE[0], ("Nia Nam", "nia@example.org", "en"), PEOPLE[1]))
    compose = emails.compose

    def faulty(kind, nominee, seed):
        if nominee.id == unlucky:
            raise RuntimeError("template blew up")
        return compose(kind, nominee, seed)

    monkeypatch.setattr(emails, "compose", faulty)
    batch_id, status = run_new_batch(mail_app, study)
    assert status == "done"
    assert smtp.handler.addresses() == Counter({"aled@example.org": 1, "carys@example.org": 1})
    assert outcomes(mail_app)[unlucky] == ("failed", "app:unsendable")
    browser = sign_in_researcher(mail_app)
    (failed,) = [text for status, text in page_rows(browser, batch_id).values() if status == "failed"]
    assert reason_text(mail_app, Reason.UNSENDABLE, "en", name="Nia Nam") in failed


def test_a_fault_of_our_own_while_sending_leaves_that_one_uncertain_and_the_batch_goes_on(mail_app, smtp, study):
    """A fault inside the sender after the claim (a bug, say): the email may have gone, so the
    message is uncertain, never sent again by itself, and the others still go."""
    _first, unlucky, _last = load_nominees(mail_app, study, csv_of(
        PEOPLE[0], ("Nia Nam", "nia@example.org", "en"), PEOPLE[1]))

    class FaultyMailer(Mailer):
        def send(self, message):
            if "nia@example.org" in str(message["To"]):
                raise RuntimeError("a bug in the sender")
            return super().send(message)

    with mail_app.app_context():
        batch_id = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION).id
        db.session.commit()
        assert services.run_batch(batch_id, mailer=FaultyMailer(mail_app.config)).status == "done"
        assert services.run_batch(batch_id).status == "done"
    assert smtp.handler.addresses() == Counter({"aled@example.org": 1, "carys@example.org": 1})
    assert outcomes(mail_app)[unlucky] == ("uncertain", "app:interrupted: RuntimeError")


def test_a_fault_that_escapes_the_batch_never_leaves_it_sending(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE, ("Nia Nam", "nia@example.org", "en")))

    def crash(message):
        raise RuntimeError("the worker fell over")

    with mail_app.app_context():
        batch_id = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION).id
        db.session.commit()
        with pytest.raises(RuntimeError):
            services.run_batch(batch_id, progress=crash)
    with mail_app.app_context():
        batch = db.session.get(Batch, batch_id)
        assert (batch.status, batch.runner) == ("interrupted", None)
        assert services.run_batch(batch_id).status == "done"
    assert set(smtp.handler.addresses().values()) == {1} and len(smtp.handler.received) == 3


def test_any_message_with_an_accented_domain_in_its_headers_goes_out_in_idna():
    """Not only invitations: the mailer itself gives header addresses as the envelope does."""
    message = EmailMessage()
    message["From"] = "research@example.org"
    message["To"] = "Siân <post@tŷ-coffi.cymru>"
    message["Subject"] = "Dolen"
    message.set_content("Helo", charset="utf-8")
    prepared = envelope(message)
    assert (prepared.recipients, prepared.utf8) == (("post@xn--t-coffi-rvb.cymru",), False)
    assert b"<post@xn--t-coffi-rvb.cymru>" in prepared.data
    assert str(message["To"]) == "Siân <post@tŷ-coffi.cymru>"  # the caller's message is left as it was
