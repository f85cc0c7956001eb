"""What happened to a message, said in the reader's language from the mail server's codes, with
the server's own words kept under "Details"; and the batch page that shows it."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from markupsafe import Markup

from surveyapp.db import db
from surveyapp.invitations import outcomes, services
from surveyapp.invitations.models import REASON_TITLES, Message, MessageKind, Reason
from surveyapp.nominees.models import Nominee
from surveyapp.studies.models import Study

from .conftest import csv_of, load_nominees, sign_in_researcher

REPLIES = [
    ("sent", "250 2.0.0 Message accepted for delivery", outcomes.ACCEPTED),
    ("failed", "421 4.3.2 Service not available, closing transmission channel", outcomes.TEMPORARY),
    ("failed", "450 4.2.1 <bethan@example.org>: Mailbox busy, try again later", outcomes.TEMPORARY),
    ("failed", "550 5.1.1 <bethan@example.org>: Recipient address rejected", outcomes.NO_SUCH_ADDRESS),
    ("failed", "552 5.2.2 <bethan@example.org>: Mailbox full", outcomes.MAILBOX_FULL),
    ("failed", "554 5.7.1 Message rejected as unsolicited", outcomes.NOT_ALLOWED),
    # Without an enhanced code, the basic code says it.
    ("failed", "550 No such user here", outcomes.NO_SUCH_ADDRESS),
    ("failed", "551 User not local", outcomes.NO_SUCH_ADDRESS),
    ("failed", "553 Requested action not taken: mailbox name not allowed", outcomes.NO_SUCH_ADDRESS),
    ("failed", "552 Requested mail action aborted: exceeded storage allocation", outcomes.MAILBOX_FULL),
    ("failed", "554 Transaction failed", outcomes.NOT_ALLOWED),
    ("failed", "503 Bad sequence of commands", outcomes.REFUSED),
    # With one, the enhanced code says why, whatever the basic code.
    ("failed", "553 5.7.1 <dafydd@example.org>: Relay access denied", outcomes.NOT_ALLOWED),
    ("failed", "550 5.2.2 Quota exceeded", outcomes.MAILBOX_FULL),
    ("failed", "554 5.1.2 Bad destination system address", outcomes.NO_SUCH_ADDRESS),
    ("failed", "550 5.3.4 Message too big for system", outcomes.REFUSED),
    ("failed", "something without a code", outcomes.UNKNOWN_REPLY),
    ("pending", "Mail server unavailable: [Errno 111] Connection refused", outcomes.UNREACHABLE),
]


def _nominee() -> Nominee:
    return Nominee(name="Siân <Ŵyn>", email="sian@example.org")


@pytest.mark.parametrize("locale", ["en", "cy"])
@pytest.mark.parametrize(("status", "reply", "title"), REPLIES, ids=[r[1][:12] for r in REPLIES])
def test_a_servers_reply_becomes_a_translated_status_with_the_raw_reply_as_details(app, locale, status, reply, title):
    with app.test_request_context(), force_locale(locale):
        said = outcomes.describe(Message(status=status, smtp_reply=reply, nominee=_nominee()))
        assert said.title == str(title)  # the catalogue's words in the reader's language
        assert said.status == status and said.details == reply


@pytest.mark.parametrize("locale", ["en", "cy"])
def test_the_apps_own_reasons_name_the_nominee_isolated_and_escaped(app, locale):
    with app.test_request_context(), force_locale(locale):
        said = outcomes.describe(Message(status="failed", smtp_reply="app:declined", nominee=_nominee()))
        name = {"name": Markup("<bdi>Siân &lt;Ŵyn&gt;</bdi>")}
        expected = Markup.escape(str(REASON_TITLES[Reason.DECLINED])) % name
        assert str(said.title) == expected and said.details is None
        lost = outcomes.describe(Message(status="uncertain", smtp_reply="app:connection_lost: timed out",
                                         nominee=_nominee()))
        assert "<bdi>Siân &lt;Ŵyn&gt;</bdi>" in str(lost.title) and lost.details == "timed out"
        # An uncertain message with no reason of its own reads as interrupted.
        bare = outcomes.describe(Message(status="uncertain", smtp_reply=None, nominee=_nominee()))
        assert bare.title == Markup.escape(str(REASON_TITLES[Reason.INTERRUPTED])) % name


ROW_RE = re.compile(r'<tr data-message="(\d+)" data-status="(\w+)">(.*?)</tr>', re.S)
OUTCOME_RE = re.compile(r"<span[^>]*data-outcome>(.*?)</span>(?:\s*<details[^>]*><summary>(.*?)</summary>"
                        r"<code><bdi>(.*?)</bdi></code></details>)?", re.S)
PEOPLE = {
    "aled@example.org": None,
    "bethan@example.org": "550 5.1.1 <bethan@example.org>: Recipient address rejected",
    "carys@example.org": "552 5.2.2 <carys@example.org>: Mailbox full",
    "dafydd@example.org": "554 5.7.1 <dafydd@example.org>: Message refused as spam",
    "elin@example.org": "450 4.2.1 <elin@example.org>: Mailbox busy, try again later",
}
EXPECTED = {"aled@example.org": outcomes.ACCEPTED, "bethan@example.org": outcomes.NO_SUCH_ADDRESS,
            "carys@example.org": outcomes.MAILBOX_FULL, "dafydd@example.org": outcomes.NOT_ALLOWED,
            "elin@example.org": outcomes.TEMPORARY}


@pytest.mark.parametrize("locale", ["en", "cy"])
def test_the_batch_page_shows_each_outcome_translated_and_the_servers_words_under_details(
        mail_app, smtp, study, locale):
    load_nominees(mail_app, study, csv_of(*[(f"Enw {i}", address, "cy") for i, address in enumerate(PEOPLE)]))
    for address, reply in PEOPLE.items():
        if reply:
            smtp.handler.refuse[address] = reply
    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch_id = services.run_batch(batch.id).id
        ids = dict(db.session.execute(sa.select(Message.id, Nominee.email).join(Nominee)).all())
    browser = sign_in_researcher(mail_app, language=locale)
    assert browser.get(f"/researcher/invitations/batches/{batch_id}").status_code == 200
    rows = {ids[int(mid)]: OUTCOME_RE.search(cells).groups() for mid, _status, cells in ROW_RE.findall(browser.page)}
    with mail_app.test_request_context(), force_locale(locale):
        details = str(outcomes.DETAILS)
        for address, title in EXPECTED.items():
            shown, summary, raw = rows[address]
            assert html.unescape(shown) == str(title), address
            assert summary == html.escape(details)
            if PEOPLE[address]:
                assert html.unescape(raw) == PEOPLE[address]  # the server's own words, kept
            else:
                assert html.unescape(raw).startswith("250 ")
