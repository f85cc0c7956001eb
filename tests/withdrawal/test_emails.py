"""Every email a participant gets carries the link to withdraw (invitation, reminder, "email me
my link"), and it opens their withdraw page; a withdrawn nominee is sent no reminder."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from surveyapp.db import db, utcnow
from surveyapp.invitations import preview
from surveyapp.invitations import services as invitations
from surveyapp.invitations.models import MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.participant.services import email_personal_link
from surveyapp.studies.models import Study
from tests.conftest import Browser
from tests.invitations.conftest import csv_of, load_nominees, mail_app  # noqa: F401 (mail_app is a fixture)

from .helpers import withdraw_from_link

WITHDRAW_RE = re.compile(r"(https?://\S+/p/[A-Za-z0-9_-]+)/withdraw\b")


def _send(app, study, kind: MessageKind, now=None) -> None:
    with app.app_context():
        row = db.session.get(Study, study.id)
        batch = invitations.create_batch(row, kind, selection=preview.select(row, kind, now=now))
        db.session.commit()
        assert invitations.run_batch(batch.id).status == "done"


def _withdraw_links(smtp, address: str) -> list[tuple[str, str]]:
    """(personal link, withdraw link) from each email to ``address``: the withdraw link is the
    personal link's own."""
    found = []
    for received in smtp.handler.for_address(address):
        matches = WITHDRAW_RE.findall(received.body)
        assert matches, received.body
        for personal in matches:
            assert personal in received.body.replace(personal + "/withdraw", "")  # the same link, shown alone too
            found.append((personal, personal + "/withdraw"))
    return found


def test_invitation_reminder_and_link_emails_carry_the_withdraw_link(mail_app, study, smtp):  # noqa: F811
    load_nominees(mail_app, study, csv_of(("Aled Wyn", "aled@example.org", "en"),
                                          ("Bethan Prys", "bethan@example.org", "unknown")))
    _send(mail_app, study, MessageKind.INVITATION)
    [(aled_link, aled_withdraw)] = _withdraw_links(smtp, "aled@example.org")
    assert len(_withdraw_links(smtp, "bethan@example.org")) == 2  # Welsh and English, one email

    # The link works: a nominee who has not consented is sent to decline instead.
    browser = Browser(mail_app)
    response = browser.client.get(aled_withdraw[aled_withdraw.index("/p/"):])
    assert response.status_code == 302 and response.location == "/survey/withdraw"
    assert browser.client.get("/survey/withdraw").location == "/survey/decline"

    # "Email me my link".
    with mail_app.app_context():
        participant = db.session.scalar(sa.select(Nominee).where(Nominee.email == "aled@example.org")).participant
        email_personal_link(participant, "aled.home@example.org", aled_link, "en")
        db.session.commit()
    assert _withdraw_links(smtp, "aled.home@example.org") == [(aled_link, aled_withdraw)]

    # Bethan consents and then withdraws (keeping what she gave): no reminder for her.
    bethan = Browser(mail_app)
    [(bethan_link, _), _] = _withdraw_links(smtp, "bethan@example.org")
    bethan.get(bethan_link[bethan_link.index("/p/"):])
    assert bethan.post(bethan.url, {"language": "cy"}).status_code == 302
    token = bethan_link.rsplit("/", 1)[1]
    assert bethan.consent(token, study).status_code == 302
    assert withdraw_from_link(bethan, "participation").status_code == 302
    later = utcnow() + timedelta(days=8)  # past the interval between reminders
    with mail_app.app_context():
        selection = preview.select(db.session.get(Study, study.id), MessageKind.REMINDER, now=later)
        assert {n.email for n in selection.to_send} == {"aled@example.org"}
        assert {n.email for n in selection.skipped[preview.Skip.DECLINED]} == {"bethan@example.org"}
    _send(mail_app, study, MessageKind.REMINDER, now=later)
    assert len(_withdraw_links(smtp, "aled@example.org")) == 2  # the invitation, then the reminder
    assert len(smtp.handler.for_address("bethan@example.org")) == 1  # the invitation only
