"""Preview and confirm before sending: who gets what (counts per language, the real email for a
sample nominee), who does not and why; a batch only through the preview's own confirmation;
"send a test to me" to the researcher only; reminders alike. Through the app's routes, with the
loopback SMTP server and the task queue."""

from __future__ import annotations

import html
import logging
import re
from collections import Counter

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext, ngettext
from markupsafe import escape

from surveyapp.db import db
from surveyapp.invitations import emails, preview, services
from surveyapp.invitations.models import Batch, Message, MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.services import NomineeData, update_nominee
from surveyapp.participant.services import derive_token
from surveyapp.reference import local_authorities
from surveyapp.studies.models import Study
from surveyapp.tasks import get_huey
from tests.conftest import Browser
from tests.sql_statements import Statements

from .conftest import (
    csv_of,
    legacy_nominee,
    load_nominees,
    open_preview,
    preview_forms,
    sign_in_researcher,
)
from .test_emails import age_messages

HUW = ("Huw Tomos", "huw@example.org", "cy")          # invited already
BETHAN = ("Bethan Ŵyn", "bethan@example.org", "cy")    # bounced
CARYS = ("Carys Môn", "carys@example.org", "en")       # bounced, then edited: included again
SIAN = ("Siân Llŷr", "sian@example.org", "cy")
DAFYDD = ("Dafydd Rhys", "dafydd@example.org", "cy")
ALED = ("Aled Wyn", "aled@example.org", "en")
GWEN = ("Gwenllïan Dŵr", "gwen@example.org", "unknown")
MAIR = ("Mair Pŵel", "mair@example.org", "en")         # declines from her link
BAD = ("Rhys Drwg", "no-at-sign.example.org")           # no usable address (a legacy row)
REFUSAL = "550 5.1.1 <{}>: Recipient address rejected"


@pytest.fixture
def queue_app(make_app, smtp, tmp_path):
    from .conftest import LINK_KEY

    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10,
                   TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    get_huey(app).flush()
    return app


def in_language(app, locale: str, message, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values) if isinstance(message, str) else str(message)


def nominee_id(app, address: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Nominee.id).where(Nominee.email == address))


def run_batch_now(app, study) -> int:
    with app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        assert services.run_batch(batch.id).status == "done"
        return batch.id


def decline_from_link(app, address: str) -> None:
    with app.app_context():
        nonce = db.session.scalar(sa.select(Nominee.link_nonce).where(Nominee.email == address))
        token = derive_token(app.config["LINK_KEY"], nonce)
    assert Browser(app).post(f"/p/{token}/decline").status_code == 302


def edit_role(app, address: str, role: str) -> None:
    with app.app_context():
        n = db.session.scalar(sa.select(Nominee).where(Nominee.email == address))
        update_nominee(n, NomineeData(n.name, n.email, n.la_code, n.service_area, n.agency, role,
                                      n.preferred_language))
        db.session.commit()


def crafted_list(app, smtp, study) -> None:
    """Huw invited; Bethan and Carys refused by the server, Carys then edited; Siân, Dafydd,
    Aled, Gwenllïan and Mair added after, Mair declining; and a legacy row with no address."""
    load_nominees(app, study, csv_of(HUW, BETHAN, CARYS))
    smtp.handler.refuse[BETHAN[1]] = REFUSAL.format(BETHAN[1])
    smtp.handler.refuse[CARYS[1]] = REFUSAL.format(CARYS[1])
    run_batch_now(app, study)
    smtp.handler.refuse.clear()
    edit_role(app, CARYS[1], "Pennaeth Diogelu")
    load_nominees(app, study, csv_of(SIAN, DAFYDD, ALED, GWEN, MAIR))
    decline_from_link(app, MAIR[1])
    legacy_nominee(app, study, *BAD)


SKIP_RE = re.compile(r'<li data-skip="(\w+)" data-count="(\d+)">(.*?)</details>', re.S)
LANGUAGE_RE = re.compile(r'<tr data-language="(\w+)"><th scope="row">(.*?)</th><td>(\d+)</td></tr>')
SAMPLE_RE = re.compile(r'<section aria-labelledby="sample-(\w+)" data-sample="\w+">(.*?)</section>', re.S)
BODY_RE = re.compile(r'<dd lang="(\w+)" data-body="\w+">(.*?)</dd>', re.S)
NAME_RE = re.compile(r"<bdi>(.*?)</bdi>")


def skips(page: str) -> dict[str, tuple[int, list[str]]]:
    return {skip: (int(count), [html.unescape(n) for n in NAME_RE.findall(body)])
            for skip, count, body in SKIP_RE.findall(page)}


def samples(page: str) -> dict[str, dict[str, str]]:
    """{mode: {"nominee": name, "cy"/"en": body text}} from the preview."""
    result = {}
    for mode, section in SAMPLE_RE.findall(page):
        bodies = {locale: html.unescape(body) for locale, body in BODY_RE.findall(section)}
        result[mode] = {"nominee": html.unescape(NAME_RE.search(section).group(1)), **bodies}
    return result


def la_name(app, address: str, locale: str) -> str:
    with app.app_context():
        code = db.session.scalar(sa.select(Nominee.la_code).where(Nominee.email == address))
    return local_authorities()[code].name(locale)


@pytest.mark.parametrize("locale", ["en", "cy"])
def test_the_preview_counts_each_language_and_says_who_is_left_out_and_why(mail_app, smtp, study, locale):
    crafted_list(mail_app, smtp, study)
    browser = sign_in_researcher(mail_app, language=locale)
    forms = open_preview(browser)
    page = browser.page

    counts = {mode: int(n) for mode, _title, n in LANGUAGE_RE.findall(page)}
    assert counts == {"cy": 2, "en": 2, "bilingual": 1}  # Siân, Dafydd; Carys, Aled; Gwenllïan
    assert skips(page) == {
        "declined": (1, [MAIR[0]]),
        "invited": (1, [HUW[0]]),
        "bad_address": (1, [BAD[0]]),
        "bounced": (1, [BETHAN[0]]),
    }
    titles = preview.SKIP_TITLES
    for skip in ("declined", "invited", "bad_address", "bounced"):
        assert f"<summary>{escape(in_language(mail_app, locale, titles[preview.Skip(skip)]))}: 1</summary>" in page
    with mail_app.test_request_context(), force_locale(locale):
        button = ngettext("Send %(num)d invitation", "Send %(num)d invitations", 5)
    assert escape(button) in page and ("confirm", "new") in forms

    shown = samples(page)
    assert {mode: s["nominee"] for mode, s in shown.items()} == {"cy": SIAN[0], "en": CARYS[0], "bilingual": GWEN[0]}
    assert SIAN[0] in shown["cy"]["cy"] and la_name(mail_app, SIAN[1], "cy") in shown["cy"]["cy"]
    assert CARYS[0] in shown["en"]["en"] and la_name(mail_app, CARYS[1], "en") in shown["en"]["en"]
    assert la_name(mail_app, GWEN[1], "cy") in shown["bilingual"]["cy"]
    assert la_name(mail_app, GWEN[1], "en") in shown["bilingual"]["en"]
    assert in_language(mail_app, "cy", "Dear %(name)s,", name=SIAN[0]) in shown["cy"]["cy"]
    assert in_language(mail_app, "en", "Dear %(name)s,", name=CARYS[0]) in shown["en"]["en"]
    # The preview shows example links, never a nominee's own.
    with mail_app.app_context():
        sian = db.session.get(Nominee, nominee_id(mail_app, SIAN[1]))
        real_link = emails.personal_links(sian)[0]
    assert real_link not in page and emails.EXAMPLE_LINK_PATH in shown["cy"]["cy"]

    # What the preview showed is what the batch is made of.
    action, fields = forms["confirm", "new"]
    response = browser.client.post(action, data=fields)
    assert response.status_code == 302
    with mail_app.app_context():
        batch = db.session.scalars(sa.select(Batch).order_by(Batch.id.desc())).first()
        emailed = set(db.session.scalars(sa.select(Nominee.email).join(Message).where(Message.batch_id == batch.id)))
    assert emailed == {CARYS[1], SIAN[1], DAFYDD[1], ALED[1], GWEN[1]}


def _no_batch_and_nothing_sent(app, smtp, batches_before: int) -> None:
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == batches_before
    assert get_huey(app).pending_count() == 0
    assert smtp.handler.received == []


def test_a_batch_cannot_be_sent_without_the_confirmation_step(queue_app, smtp, study):
    app = queue_app
    load_nominees(app, study, csv_of(SIAN, ALED, GWEN))
    researcher = sign_in_researcher(app, "one@example.org")
    other = sign_in_researcher(app, "two@example.org", language="cy")
    action, fields = open_preview(researcher)["confirm", "new"]
    csrf = fields["csrf_token"]
    url = "/researcher/invitations/send/invitation"

    # No token at all: what the old Send button posted.
    response = researcher.client.post(url, data={"csrf_token": csrf})
    assert response.status_code == 400 and "data-refused" in response.get_data(as_text=True)
    # A token changed by one character, and a token made up.
    token = fields["token"]
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (tampered, "x", token.split(".")[0]):
        assert researcher.client.post(url, data={"csrf_token": csrf, "token": bad}).status_code == 400
    # A genuine token for invitations, posted as reminders.
    assert researcher.client.post("/researcher/invitations/send/reminder",
                                  data={"csrf_token": csrf, "token": token}).status_code == 400
    # Another researcher's genuine token (their own CSRF token: the session is theirs).
    _action, other_fields = open_preview(other)["confirm", "new"]
    response = researcher.client.post(url, data={"csrf_token": csrf, "token": other_fields["token"]})
    assert response.status_code == 400
    page = other.client.post(url, data={"csrf_token": other_fields["csrf_token"], "token": token})
    assert page.status_code == 400
    refused = in_language(app, "cy", "Nothing was sent")
    assert escape(refused) in page.get_data(as_text=True), "the refusal is in the researcher's language"
    _no_batch_and_nothing_sent(app, smtp, 0)

    # The list changes after the preview (a nominee added): nothing is sent, the preview again.
    load_nominees(app, study, csv_of(DAFYDD))
    response = researcher.client.post(action, data=fields)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "data-list-changed" in page and ("confirm", "new") in preview_forms(page)
    assert {m: int(n) for m, _t, n in LANGUAGE_RE.findall(page)} == {"cy": 2, "en": 1, "bilingual": 1}
    # ... and a nominee declining after the preview.
    _action, fields = open_preview(researcher)["confirm", "new"]
    decline_from_link(app, SIAN[1])
    assert researcher.client.post(action, data=fields).status_code == 409
    _no_batch_and_nothing_sent(app, smtp, 0)

    # The confirmation from the preview as it is now: one batch, queued, not sent by the request.
    _action, fields = open_preview(researcher)["confirm", "new"]
    response = researcher.client.post(action, data=fields)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 3
    assert get_huey(app).pending_count() == 1 and smtp.handler.received == []
    # The same confirmation twice (a double click): the list has changed, nothing more queued.
    assert researcher.client.post(action, data=fields).status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 1
    assert get_huey(app).pending_count() == 1


def test_an_unfinished_batch_is_offered_with_its_own_confirmation(queue_app, smtp, study):
    app = queue_app
    load_nominees(app, study, csv_of(SIAN, ALED))
    researcher = sign_in_researcher(app)
    action, fields = open_preview(researcher)["confirm", "new"]
    assert researcher.client.post(action, data=fields).status_code == 302
    huey = get_huey(app)
    huey.flush()  # the task is lost (a worker's queue emptied): the batch stays queued
    load_nominees(app, study, csv_of(DAFYDD))

    forms = open_preview(researcher)
    with app.app_context():
        batch_id = db.session.scalar(sa.select(Batch.id))
    assert ("confirm", "new") not in forms, "no second batch while one is unfinished"
    with app.test_request_context(), force_locale("en"):
        label = ngettext("Send the rest of batch %(number)d: %(num)d email",
                         "Send the rest of batch %(number)d: %(num)d emails", 2, number=batch_id)
    assert escape(label) in researcher.page
    resume_action, resume_fields = forms["confirm", "resume"]
    # Another researcher's resume token is refused like any other.
    other = sign_in_researcher(app, "two@example.org")
    other_fields = open_preview(other)["confirm", "resume"][1]
    assert researcher.client.post(resume_action, data={**resume_fields, "token": other_fields["token"]}).status_code \
        == 400
    assert huey.pending_count() == 0
    response = researcher.client.post(resume_action, data=resume_fields)
    assert response.status_code == 302 and response.location.endswith(f"/batches/{batch_id}")
    huey.execute(huey.dequeue())
    assert smtp.handler.addresses() == Counter({SIAN[1]: 1, ALED[1]: 1})
    # Finished: the resume token is spent; the preview now offers Dafydd.
    assert researcher.client.post(resume_action, data=resume_fields).status_code == 409
    forms = open_preview(researcher)
    assert ("confirm", "resume") not in forms and ("confirm", "new") in forms
    assert {m: int(n) for m, _t, n in LANGUAGE_RE.findall(researcher.page)} == {"cy": 1}


@pytest.mark.parametrize("mode", ["cy", "en", "bilingual"])
def test_send_a_test_reaches_only_the_researcher(mail_app, smtp, study, mode, caplog):
    crafted_list(mail_app, smtp, study)
    researcher = sign_in_researcher(mail_app, "ymchwilydd@example.org")
    action, fields = open_preview(researcher)["test", mode]
    sample = {"cy": SIAN, "en": CARYS, "bilingual": GWEN}[mode]
    with mail_app.app_context():
        nominee = db.session.get(Nominee, nominee_id(mail_app, sample[1]))
        real_link, real_decline = emails.personal_links(nominee)
        token = real_link.rsplit("/", 1)[1]
        messages_before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
        batches_before = db.session.scalar(sa.select(sa.func.count()).select_from(Batch))

    before = len(smtp.handler.received)
    with caplog.at_level(logging.WARNING, logger="surveyapp.security"):
        response = researcher.client.post(action, data=fields)
    assert response.status_code == 302 and response.location.endswith("/researcher/invitations/send/invitation")

    (received,) = smtp.handler.received[before:]
    assert received.rcpt_tos == ("ymchwilydd@example.org",)
    assert "ymchwilydd@example.org" in received.message["To"]
    assert sample[1] not in received.raw.decode("utf-8", "replace")
    assert token not in received.raw.decode("utf-8", "replace") and real_link not in received.body
    assert emails.EXAMPLE_LINK_PATH in received.body
    subject = str(received.message["Subject"])
    locales = ("cy", "en") if mode == "bilingual" else (mode,)
    for locale in locales:
        marker = in_language(mail_app, locale, "[TEST] %(subject)s", subject="")
        assert marker.strip() in subject
        first_line = in_language(mail_app, locale, "This is a test email, sent to you from the preview. The links in "
                                 "it are examples and do not work: each nominee's email has their own link.")
        assert first_line in received.body
    assert received.body.lstrip().startswith(in_language(mail_app, locales[0], "This is a test email, sent to you "
                                             "from the preview. The links in it are examples and do not work: each "
                                             "nominee's email has their own link."))
    assert sample[0] in received.body  # the same email: greeting the sample nominee
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == messages_before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == batches_before

    researcher.get(response.location)
    with mail_app.test_request_context(), force_locale("en"):
        said = str(preview.TEST_SENT[mode]) % {"email": "ymchwilydd@example.org"}
    assert escape(said) in researcher.page
    events = [r.getMessage() for r in caplog.records if r.name == "surveyapp.security"]
    assert any('"event": "test_email_sent"' in e and '"message_kind": "invitation"' in e for e in events)
    assert not any("@" in e for e in events), "no address in the security log"


def test_a_test_that_the_mail_server_refuses_says_why_in_the_researchers_language(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(SIAN))
    researcher = sign_in_researcher(mail_app, "ymchwilydd@example.org", language="cy")
    smtp.handler.refuse["ymchwilydd@example.org"] = "552 5.2.2 <ymchwilydd@example.org>: Mailbox full"
    action, fields = open_preview(researcher)["test", "cy"]
    response = researcher.client.post(action, data=fields)
    researcher.get(response.location)
    with mail_app.test_request_context(), force_locale("cy"):
        from surveyapp.invitations.outcomes import MAILBOX_FULL
        full, not_sent = str(MAILBOX_FULL), str(preview.TEST_NOT_SENT)
    assert escape(not_sent) in researcher.page and escape(full) in researcher.page
    assert "Mailbox full" in researcher.page  # the server's own words, as details
    assert smtp.handler.received == []
    smtp.stop()
    response = researcher.client.post(action, data=fields)
    researcher.get(response.location)
    with mail_app.test_request_context(), force_locale("cy"):
        unreachable = str(preview.TEST_UNREACHABLE)
    assert escape(unreachable) in researcher.page


def test_a_test_email_posted_for_a_language_not_shown_or_without_csrf_sends_nothing(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(SIAN))
    researcher = sign_in_researcher(mail_app)
    action, fields = open_preview(researcher)["test", "cy"]
    assert researcher.client.post(action, data={**fields, "language": "en"}).status_code == 302  # nobody in English
    assert researcher.client.post(action, data={**fields, "language": "fr"}).status_code == 302
    assert researcher.client.post(action, data={"language": "cy"}).status_code == 400
    assert smtp.handler.received == []


def test_reminders_get_the_same_preview_and_confirmation(queue_app, smtp, study):
    from surveyapp.consent.services import record_consent
    from surveyapp.responses.services import save_answers, submit

    app = queue_app
    load_nominees(app, study, csv_of(SIAN, ALED, GWEN, DAFYDD))
    with app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION,
                                      nominee_ids=[nominee_id(app, a) for a in (SIAN[1], ALED[1], GWEN[1])])
        db.session.commit()
        services.run_batch(batch.id)
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == GWEN[1]))
        record_consent(nominee.participant, {i.id: True for i in study.consent_form.items}, language="en")
        save_answers(nominee.participant, {"aims": "Protect people"})
        submit(nominee.participant)
        db.session.commit()
    researcher = sign_in_researcher(app, language="cy")
    forms = open_preview(researcher, "reminder")
    assert ("confirm", "new") not in forms and "data-nobody" in researcher.page
    assert skips(researcher.page)["recent"] == (2, [SIAN[0], ALED[0]])
    age_messages(app, days=8)

    forms = open_preview(researcher, "reminder")
    page = researcher.page
    assert {m: int(n) for m, _t, n in LANGUAGE_RE.findall(page)} == {"cy": 1, "en": 1}
    assert skips(page) == {"submitted": (1, [GWEN[0]]), "not_invited": (1, [DAFYDD[0]])}
    shown = samples(page)
    assert in_language(app, "cy", "Reminder: %(study)s", study="") in page
    assert SIAN[0] in shown["cy"]["cy"] and la_name(app, SIAN[1], "cy") in shown["cy"]["cy"]
    with app.test_request_context(), force_locale("cy"):
        button = ngettext("Send %(num)d reminder", "Send %(num)d reminders", 2)
    assert escape(button) in page

    url = "/researcher/invitations/send/reminder"
    action, fields = forms["confirm", "new"]
    assert researcher.client.post(url, data={"csrf_token": fields["csrf_token"]}).status_code == 400
    load_nominees(app, study, csv_of(MAIR))  # not invited: the reminder list is the same
    response = researcher.client.post(action, data=fields)
    assert response.status_code == 302
    with app.app_context():
        batch = db.session.scalars(sa.select(Batch).where(Batch.kind == "reminder")).one()
        assert {m.nominee.email for m in batch.messages} == {SIAN[1], ALED[1]}
    huey = get_huey(app)
    before = smtp.handler.addresses()
    huey.execute(huey.dequeue())
    assert smtp.handler.addresses() - before == Counter({SIAN[1]: 1, ALED[1]: 1})



def _mixed_list(app, study, start: int, stop: int) -> None:
    """Nominees ``start`` to ``stop`` in every language: a quarter invited, a quarter refused by
    the server, a quarter declined, the rest new."""
    from surveyapp.db import utcnow

    languages = ("cy", "en", "unknown")
    ids = load_nominees(app, study, csv_of(*[(f"Enw {i}", f"person{i}@example.org", languages[i % 3])
                                             for i in range(start, stop)]))
    with app.app_context():
        now = utcnow()
        batch = Batch(study_id=study.id, kind="invitation", status="done")
        for i, pk in enumerate(ids):
            if i % 4 == 0:
                batch.messages.append(Message(nominee_id=pk, kind="invitation", status="sent", attempted_at=now))
            elif i % 4 == 1:
                batch.messages.append(Message(nominee_id=pk, kind="invitation", status="failed", attempted_at=now,
                                              smtp_reply="550 5.1.1 no such user"))
            elif i % 4 == 2:
                db.session.get(Nominee, pk).declined_at = now
        db.session.add(batch)
        db.session.commit()


@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_the_preview_sends_as_many_statements_for_200_nominees_as_for_33(mail_app, study, kind):
    browser = sign_in_researcher(mail_app)
    counts = {}
    for start, stop in ((0, 33), (33, 200)):
        _mixed_list(mail_app, study, start, stop)
        if kind == "reminder":
            age_messages(mail_app, days=30)
        open_preview(browser, kind)  # warm: the first request of an app loads reference data
        with Statements(mail_app) as statements:
            open_preview(browser, kind)
        counts[stop] = statements.count
        assert "data-sample=" in browser.page
    assert counts[33] == counts[200], counts
    assert counts[200] <= 12, counts


def test_a_confirmation_older_than_an_hour_is_refused(queue_app, smtp, study):
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    app = queue_app
    load_nominees(app, study, csv_of(SIAN))
    researcher = sign_in_researcher(app)
    action, fields = open_preview(researcher)["confirm", "new"]
    payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=preview.TOKEN_SALT).loads(fields["token"])

    class EarlierSigner(TimestampSigner):
        def get_timestamp(self) -> int:  # as if the preview was opened 61 minutes ago
            return int(time.time()) - preview.TOKEN_MAX_AGE - 60

    class Earlier(URLSafeTimedSerializer):
        default_signer = EarlierSigner

    old = Earlier(app.config["SECRET_KEY"], salt=preview.TOKEN_SALT).dumps(payload)
    assert researcher.client.post(action, data={**fields, "token": old}).status_code == 400
    _no_batch_and_nothing_sent(app, smtp, 0)
    assert researcher.client.post(action, data=fields).status_code == 302
