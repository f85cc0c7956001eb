"""What arrives at a real SMTP server: language per preference, Welsh characters, working links,
declining from the email, and reminders (who gets them, how often, which template)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml
from babel.messages.pofile import read_po
from flask_babel import force_locale
from flask_babel import gettext as _

from surveyapp.db import db
from surveyapp.invitations import services
from surveyapp.invitations.emails import personal_links
from surveyapp.invitations.models import Batch, Message, MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant
from surveyapp.reference import local_authorities
from surveyapp.studies.models import Study
from tests.conftest import Browser

from .conftest import URL_RE, csv_of, load_nominees, messages_by_email

# Welsh letters with diacritics that often get lost: ŵ ŷ â ô (and ï, Ŵ).
WELSH_TITLE = "Trefniadau ‘Drws Ffrynt’: tŷ, dŵr, môr â’r gwaith"
CY = ("Siân Ŵyn-Llŷr", "sian.wyn@example.org", "cy")
EN = ("Tomos Môn", "tomos.mon@example.org", "en")
UNKNOWN = ("Gwenllïan Dŵr", "gwenllian.dwr@example.org", "unknown")


@pytest.fixture
def welsh_study(app, instruments_copy):
    """The shipped study with a Welsh title full of circumflexes, so the subject line has them."""
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue

    path = instruments_copy / "studies" / "front-door-phase1.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["title"]["cy"] = WELSH_TITLE
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    with app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
        row = db.session.scalar(sa.select(Study).where(Study.slug == "front-door-phase1"))
        assert row.title["cy"] == WELSH_TITLE
        return row.id


def _welsh_msgstr(app, msgid: str) -> str:
    po = Path(app.config["TRANSLATIONS_DIR"]) / "cy" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        message = read_po(fh, locale="cy").get(msgid)
    return message.string if message is not None and not message.fuzzy else ""


def expected_subject(app, study_id: int, msgid: str, locale: str) -> str:
    """The Welsh catalogue's own msgstr when there is one (a literal the app cannot fake);
    otherwise whatever the app's catalogue renders in that locale."""
    with app.app_context():
        title = db.session.get(Study, study_id).title[locale]
        if locale == "cy" and _welsh_msgstr(app, msgid):
            return _welsh_msgstr(app, msgid) % {"study": title}
        with force_locale(locale):
            return _(msgid, study=title)


def subject_of(msg) -> str:
    """The decoded Subject as a mail reader shows it. Python's folder puts a 70-78 character
    subject on its own continuation line ("Subject:\r\n <text>") and Python's parser then keeps
    the folding space; readers drop that leading white space, so it is dropped here too."""
    return msg["Subject"].lstrip(" ")


STALE = (
    "the Welsh subject is not the catalogue's msgstr: "
    "is messages.mo compiled (surveyapp translations compile)?"
)


def header_block(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]


def raw_header(raw: bytes, name: str) -> bytes:
    match = re.search(
        rb"^" + name.encode() + rb":(.*(?:\r?\n[ \t].*)*)", header_block(raw), re.M | re.I
    )
    assert match, f"no {name} header"
    return match.group(1)


def send_invitations(app, study_id):
    with app.app_context():
        study = db.session.get(Study, study_id)
        batch = services.create_batch(study, MessageKind.INVITATION)
        db.session.commit()
        batch = services.run_batch(batch.id)
        return batch.id, batch.status


def links(body: str) -> tuple[str, str]:
    urls = [u for u in URL_RE.findall(body) if "/p/" in u]
    personal = [u for u in urls if not u.endswith("/decline")]
    decline = [u for u in urls if u.endswith("/decline")]
    assert personal and decline, body
    return personal[0], decline[0]


def test_each_nominee_gets_their_language_and_welsh_letters_survive(mail_app, smtp, welsh_study):
    load_nominees(mail_app, welsh_study, csv_of(CY, EN, UNKNOWN))
    batch_id, status = send_invitations(mail_app, welsh_study)
    assert status == "done"

    received = {r.rcpt_tos: r for r in smtp.handler.received}
    assert set(received) == {(CY[1],), (EN[1],), (UNKNOWN[1],)}
    msgid = "Invitation to take part: %(study)s"
    subject_cy = expected_subject(mail_app, welsh_study, msgid, "cy")
    subject_en = expected_subject(mail_app, welsh_study, msgid, "en")
    with mail_app.app_context():
        study = db.session.get(Study, welsh_study)
        title_cy, title_en = study.title["cy"], study.title["en"]
    assert title_cy != title_en and subject_cy != subject_en
    las = local_authorities()

    cases = {
        CY: ("cy", subject_cy, "cy"),
        EN: ("en", subject_en, "en"),
        UNKNOWN: ("bilingual", f"{subject_cy} / {subject_en}", "cy, en"),
    }
    for (name, address, _pref), (mode, subject, content_language) in cases.items():
        item = received[(address,)]
        msg, body, raw = item.message, item.body, item.raw
        # Subject: exactly the expected text; RFC 2047-encoded on the wire when not ASCII.
        assert subject_of(msg) == subject, STALE
        wire_subject = raw_header(raw, "Subject")
        if subject.isascii():
            assert b"=?" not in wire_subject
        else:
            assert b"=?utf-8?" in wire_subject.lower()
            assert WELSH_TITLE.encode("utf-8") not in wire_subject
        assert header_block(raw).isascii(), "headers must be 7-bit on the wire"
        # The name with its circumflexes, in the To header and in the body.
        (to,) = msg["To"].addresses
        assert b"=?utf-8?" in raw_header(raw, "To").lower()
        assert (to.display_name, to.addr_spec) == (name, address)
        assert name in body
        assert msg.get_content_charset() == "utf-8"
        assert msg["Content-Language"] == content_language
        # The right language(s), by the study title and the local authority's name.
        if mode == "cy":
            assert title_cy in body and title_en not in body
        elif mode == "en":
            assert title_en in body and title_cy not in body
            assert subject_cy not in subject_of(msg)
        else:
            assert subject_of(msg).index(subject_cy) < subject_of(msg).index(subject_en)
            assert body.index(title_cy) < body.index(title_en), "Welsh first"
            # each half carries the same personal links: the link itself, decline and withdraw
            assert {u.rsplit("/", 1)[-1] for u in URL_RE.findall(body) if "/p/" in u} >= {"decline", "withdraw"}
            assert len({u for u in URL_RE.findall(body) if "/p/" in u}) == 3

    with mail_app.app_context():
        rows = db.session.execute(
            sa.select(Nominee.email, Nominee.la_code, Message.language, Message.status)
            .join(Message, Message.nominee_id == Nominee.id)
            .where(Message.batch_id == batch_id)
        ).all()
    assert {(email, language, status) for email, _la, language, status in rows} == {
        (CY[1], "cy", "sent"),
        (EN[1], "en", "sent"),
        (UNKNOWN[1], "bilingual", "sent"),
    }
    # the local authority is named in the reader's language
    la_of = {email: la for email, la, _l, _s in rows}
    assert las[la_of[CY[1]]].name("cy") in received[(CY[1],)].body
    assert las[la_of[EN[1]]].name("en") in received[(EN[1],)].body
    bilingual = received[(UNKNOWN[1],)].body
    la = las[la_of[UNKNOWN[1]]]
    assert la.name("cy") in bilingual and la.name("en") in bilingual


def test_welsh_email_text_is_welsh_and_comes_first_in_the_bilingual_one(mail_app, smtp, study):
    """The bodies are translated, not just the study title (the .txt templates are in the
    catalogue)."""
    load_nominees(mail_app, study, csv_of(CY, EN, UNKNOWN))
    send_invitations(mail_app, study.id)
    received = {r.rcpt_tos[0]: r for r in smtp.handler.received}
    greeting_cy = _welsh_msgstr(mail_app, "Dear %(name)s,")
    thanks_cy = _welsh_msgstr(mail_app, "With thanks,")
    assert greeting_cy and thanks_cy, (
        "the email templates' strings are missing from the Welsh catalogue"
    )

    welsh = received[CY[1]]
    assert subject_of(welsh.message).startswith("Gwahoddiad"), subject_of(welsh.message)
    assert greeting_cy % {"name": CY[0]} in welsh.body and thanks_cy in welsh.body
    for english in (
        "Dear ",
        "You have been nominated",
        "Your personal link",
        "With thanks",
        "Ethical approval reference",
        "If you do not want to take part",
    ):
        assert english not in welsh.body, f"English template text in the Welsh email: {english!r}"

    english = received[EN[1]].body
    assert f"Dear {EN[0]}," in english and greeting_cy % {"name": EN[0]} not in english

    both = received[UNKNOWN[1]].body
    assert both.index(greeting_cy % {"name": UNKNOWN[0]}) < both.index(f"Dear {UNKNOWN[0]},")
    assert both.index(thanks_cy) < both.index("With thanks,")


def test_personal_link_opens_the_journey_and_decline_link_stops_reminders(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(CY, EN, UNKNOWN))
    _batch_id, status = send_invitations(mail_app, study.id)
    assert status == "done"
    bodies = {r.rcpt_tos[0]: r.body for r in smtp.handler.received}
    browser = Browser(mail_app)

    # The Welsh-preferring nominee: straight into the journey (language already known).
    personal, _decline = links(bodies[CY[1]])
    assert personal.startswith(mail_app.config["PUBLIC_URL"] + "/p/")
    response = browser.get(urlsplit(personal).path)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/survey/information"  # the token is left behind
    assert browser.get(response.location).status_code == 200

    # Unknown preference: the link works and asks for a language first.
    personal_unknown, _ = links(bodies[UNKNOWN[1]])
    response = browser.get(urlsplit(personal_unknown).path)
    assert response.status_code == 200, response.status_code

    # A mangled link is not somebody else's: 404.
    assert browser.get(urlsplit(personal).path[:-2] + "xx").status_code == 404

    with mail_app.app_context():
        opened = dict(
            db.session.execute(
                sa.select(Nominee.email, Participant.opened_at).join(
                    Participant, Nominee.participant_id == Participant.id
                )
            ).all()
        )
    assert opened[CY[1]] is not None and opened[UNKNOWN[1]] is not None
    assert opened[EN[1]] is None

    # The English nominee declines: a confirmation page first, then one POST.
    _personal_en, decline = links(bodies[EN[1]])
    path = urlsplit(decline).path
    response = browser.get(path)
    assert response.status_code == 200
    with mail_app.app_context():
        assert (
            db.session.scalar(sa.select(Nominee.declined_at).where(Nominee.email == EN[1])) is None
        )
    response = browser.post(path, fetch=False)
    assert response.status_code == 302
    assert response.location.endswith("/declined")
    with mail_app.app_context():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == EN[1]))
        assert nominee.declined_at is not None
        assert nominee.participant.status == "declined"

    # A week and a day later: reminders go to the other two, never to the one who declined.
    age_messages(mail_app, days=8)
    with mail_app.app_context():
        study_row = db.session.get(Study, study.id)
        assert {n.email for n in services.nominees_to_remind(study_row)} == {CY[1], UNKNOWN[1]}
        batch = services.create_batch(study_row, MessageKind.REMINDER)
        db.session.commit()
        assert services.run_batch(batch.id).status == "done"
    reminded = [r.rcpt_tos for r in smtp.handler.received[3:]]
    assert sorted(reminded) == sorted([(CY[1],), (UNKNOWN[1],)])
    assert smtp.handler.addresses()[EN[1]] == 1  # the invitation only


def age_messages(app, days: int) -> None:
    """Pretend every message so far was handed over ``days`` earlier than recorded."""
    with app.app_context():
        for message in db.session.scalars(sa.select(Message)):
            if message.attempted_at is not None:
                message.attempted_at = message.attempted_at - timedelta(days=days)
            if message.sent_at is not None:
                message.sent_at = message.sent_at - timedelta(days=days)
        db.session.commit()


def test_reminders_only_to_those_still_to_answer_and_not_too_often(mail_app, make_app, smtp, study):
    from surveyapp.consent.services import record_consent
    from surveyapp.responses.services import save_answers, submit

    waiting = ("Aled Wyn", "aled@example.org", "en")
    started = ("Ffion Pŵel", "ffion@example.org", "cy")
    submitted = ("Dylan Rhys", "dylan@example.org", "en")
    declined = ("Eleri Môn", "eleri@example.org", "unknown")
    refused_consent = ("Iolo Huw", "iolo@example.org", "cy")
    bounced = ("Nia Ŷd", "nia@example.org", "en")
    everyone = (waiting, started, submitted, declined, refused_consent, bounced)
    load_nominees(mail_app, study, csv_of(*everyone))
    smtp.handler.refuse[bounced[1]] = f"550 5.1.1 <{bounced[1]}>: Recipient address rejected"
    send_invitations(mail_app, study.id)
    assert sorted(smtp.handler.addresses()) == sorted(p[1] for p in everyone if p is not bounced)

    with mail_app.app_context():

        def participant(address):
            return db.session.scalar(sa.select(Nominee).where(Nominee.email == address)).participant

        items = {i.id: True for i in study.consent_form.items}
        record_consent(participant(started[1]), items, language="cy")
        save_answers(participant(started[1]), {"aims": "Rhannu gwybodaeth yn gynnar"})
        record_consent(participant(submitted[1]), items, language="en")
        save_answers(participant(submitted[1]), {"aims": "Protect people"})
        submit(participant(submitted[1]))
        record_consent(participant(refused_consent[1]), {i: False for i in items}, language="cy")
        db.session.commit()
    # Decline through the page, as from the email.
    decline_url = links(smtp.handler.for_address(declined[1])[0].body)[1]
    browser = Browser(mail_app)
    assert browser.post(urlsplit(decline_url).path).status_code == 302

    def to_remind(app=mail_app):
        with app.app_context():
            return {n.email for n in services.nominees_to_remind(db.session.get(Study, study.id))}

    assert to_remind() == set(), "nobody is reminded right after the invitation"
    age_messages(mail_app, days=6)
    assert to_remind() == set(), "6 days is within the 7-day interval"
    shorter = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        LINK_KEY=mail_app.config["LINK_KEY"],
        REMINDER_INTERVAL_DAYS=5,
    )
    assert to_remind(shorter) == {waiting[1], started[1]}, "the interval is configurable"
    age_messages(mail_app, days=2)
    assert to_remind() == {waiting[1], started[1]}

    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.REMINDER)
        db.session.commit()
        batch = services.run_batch(batch.id)
        assert (batch.status, batch.kind) == ("done", "reminder")
        kinds = dict(
            db.session.execute(
                sa.select(Nominee.email, Message.kind)
                .join(Message)
                .where(Message.batch_id == batch.id)
            ).all()
        )
    assert kinds == {waiting[1]: "reminder", started[1]: "reminder"}
    reminders = smtp.handler.received[len(everyone) - 1 :]
    assert sorted(r.rcpt_tos for r in reminders) == sorted([(waiting[1],), (started[1],)])

    with mail_app.app_context():
        title_en, title_cy = (db.session.get(Study, study.id).title[k] for k in ("en", "cy"))
        with force_locale("en"):
            nominated_en = _(
                "You have been nominated as a safeguarding lead for %(local_authority)s to take "
                "part in the study “%(study)s”.",
                local_authority="X",
                study=title_en,
            )
    for item in reminders:
        locale = "cy" if item.rcpt_tos == (started[1],) else "en"
        title = title_cy if locale == "cy" else title_en
        assert subject_of(item.message) == expected_subject(
            mail_app, study.id, "Reminder: %(study)s", locale
        ), STALE
        body = item.body
        with mail_app.app_context(), force_locale(locale):
            reminder_line = _(
                "A short reminder about the study “%(study)s”. We would still very much like "
                "to hear about the safeguarding arrangements in %(local_authority)s.",
                study=title,
                local_authority="\x00",
            )
        head, tail = reminder_line.split("\x00", 1)
        assert head in body and tail in body, body
        assert nominated_en.split("X")[0] not in body, "the reminder, not the invitation template"
        links(body)  # still carries the personal and decline links

    # Just reminded: nobody is due again until another interval has passed.
    assert to_remind() == set()
    age_messages(mail_app, days=8)
    assert to_remind() == {waiting[1], started[1]}
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 2


def test_declining_after_the_batch_was_made_stops_that_message(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(CY, EN))
    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch_id = batch.id
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == EN[1]))
        decline_path = urlsplit(personal_links(nominee)[1]).path
    browser = Browser(mail_app)
    assert browser.post(decline_path).status_code == 302  # e.g. from an earlier, forwarded email
    with mail_app.app_context():
        assert services.run_batch(batch_id).status == "done"
    assert [r.rcpt_tos for r in smtp.handler.received] == [(CY[1],)]
    rows = {email: rows[0] for email, rows in messages_by_email(mail_app).items()}
    assert rows[EN[1]][1:3] == ("failed", "app:declined")  # shown as a sentence in the reader's language
    assert rows[CY[1]][1] == "sent"


def test_a_consented_nominee_can_still_stop_reminders_from_the_email(mail_app, smtp, study):
    from surveyapp.consent.services import record_consent

    load_nominees(mail_app, study, csv_of(CY))
    send_invitations(mail_app, study.id)
    with mail_app.app_context():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.email == CY[1]))
        record_consent(
            nominee.participant, {i.id: True for i in study.consent_form.items}, language="cy"
        )
        db.session.commit()
    age_messages(mail_app, days=8)
    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.REMINDER)
        db.session.commit()
        services.run_batch(batch.id)
    reminder = smtp.handler.received[-1]
    _personal, decline = links(reminder.body)
    browser = Browser(mail_app)
    response = browser.get(urlsplit(decline).path)
    assert response.status_code == 200, f"decline link redirected to {response.location}"
    assert browser.post(urlsplit(decline).path, fetch=False).status_code == 302
    age_messages(mail_app, days=8)
    with mail_app.app_context():
        assert services.nominees_to_remind(db.session.get(Study, study.id)) == []


def _send_reminders(app, study_id):
    age_messages(app, days=30)
    with app.app_context():
        batch = services.create_batch(db.session.get(Study, study_id), MessageKind.REMINDER)
        db.session.commit()
        return services.run_batch(batch.id).status


def test_every_email_names_the_contacts_replies_to_the_team_and_is_honest_about_the_texts(
        mail_app, smtp, study):
    """Invitations and reminders carry the study's contacts in the email's language, a
    Reply-To that reaches the research team, a sender name in that language, and (the texts
    being reconstructed) a demonstration note instead of an ethics reference."""
    load_nominees(mail_app, study, csv_of(CY, EN, UNKNOWN))
    assert send_invitations(mail_app, study.id)[1] == "done"
    assert _send_reminders(mail_app, study.id) == "done"
    received = smtp.handler.received
    assert len(received) == 6
    sender_cy = _welsh_msgstr(mail_app, "Safeguarding research in Wales")
    for item in received:
        message, body = item.message, item.body
        language = message["Content-Language"]
        assert message["Reply-To"] == "front-door-research@example.org"
        for address in ("front-door-research@example.org", "research-ethics@example.org",
                        "data-protection@example.org"):
            assert address in body
        assert "20/LAW/005" not in body
        name = message["From"].addresses[0].display_name
        assert message["From"].addresses[0].addr_spec == "research@example.org"
        if language == "cy":
            assert name == sender_cy and "Astudiaeth arddangos yw hon" in body
            assert "(cyswllt enghreifftiol)" in body and "demonstration contact" not in body
        elif language == "en":
            assert name == "Safeguarding research in Wales"
            assert "This is a demonstration study" in body and "Astudiaeth arddangos" not in body
        else:
            assert name == f"{sender_cy} / Safeguarding research in Wales"
            assert body.index("Astudiaeth arddangos") < body.index("This is a demonstration study")


def test_an_approved_study_gives_its_ethics_reference_in_emails(mail_app, smtp, instruments_copy):
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue

    study_data = yaml.safe_load((instruments_copy / "studies" / "front-door-phase1.yaml").read_text("utf-8"))
    for kind in ("information_sheet", "consent_form", "survey"):
        path = instruments_copy / study_data[kind]["key"] / f"{study_data[kind]['version']}.yaml"
        data = yaml.safe_load(path.read_text("utf-8"))
        data["provenance"] = {"status": "approved", "approved_by": "Test REC", "approved_on": "2026-11-30"}
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    with mail_app.app_context():
        load_catalogue(read_catalogue(instruments_copy))
        db.session.commit()
        study_id = db.session.scalar(sa.select(Study.id))
    load_nominees(mail_app, study_id, csv_of(EN))
    send_invitations(mail_app, study_id)
    body = smtp.handler.received[0].body
    assert "Ethical approval reference: 20/LAW/005" in body and "demonstration study" not in body
