"""Participants: creation, secret links and where in the journey they are."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from surveyapp import mail
from surveyapp.consent import services as consent_services
from surveyapp.consent.models import ConsentRecord
from surveyapp.db import db, utcnow
from surveyapp.i18n import tr
from surveyapp.instruments.model import Section
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.invitations.mailer import DeliveryUncertain, Mailer, MailServerUnavailable, MessageRefused
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import LinkEmail, Participant
from surveyapp.reference import AGENCIES
from surveyapp.responses.models import Response
from surveyapp.studies.contacts import study_contacts
from surveyapp.studies.models import Study

# 32 random bytes: unguessable, and safe to store as a plain SHA-256 (no salt needed
# because the input has 256 bits of entropy; lookups stay a single indexed query).
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_participant(study: Study, *, source: str, language: str | None = None) -> tuple[Participant, str]:
    """Create a participant and return it with its secret token (never stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    participant = Participant(study=study, token_hash=hash_token(token), source=source, language=language)
    db.session.add(participant)
    db.session.flush()
    return participant, token


def derive_token(link_key: str, nonce: str) -> str:
    """A personal link token re-created from a stored nonce and the server's link key."""
    digest = hmac.new(link_key.encode("utf-8"), f"participant-link:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def create_linked_participant(study: Study, link_key: str, *, language: str | None) -> tuple[Participant, str]:
    """A participant whose token can be re-derived (for invitation emails); returns the nonce."""
    nonce = secrets.token_hex(16)
    token = derive_token(link_key, nonce)
    participant = Participant(study=study, token_hash=hash_token(token), source="invited", language=language)
    db.session.add(participant)
    db.session.flush()
    return participant, nonce


@functools.cache
def _participant_query(by: str) -> sa.Select:
    """The statement ``_load_participant`` runs, built once per process (it is immutable):
    ``by`` is the column looked up, given as the bound parameter ``key``."""
    current_survey = aliased(InstrumentVersion)
    latest = consent_services.latest_consent_query(Participant.id, Study.consent_form_id)
    latest_id = latest.with_only_columns(ConsentRecord.id).correlate(Participant, Study).scalar_subquery()
    return (
        sa.select(Participant, ConsentRecord, Response)
        .join(Participant.study)
        .join(current_survey, current_survey.id == Study.survey_id)
        .outerjoin(ConsentRecord, ConsentRecord.id == latest_id)
        .outerjoin(Response, Response.participant_id == Participant.id)
        .where(getattr(Participant, by) == sa.bindparam("key"))
        .order_by(Response.id)
        .options(contains_eager(Participant.study).contains_eager(Study.survey.of_type(current_survey))
                 .load_only(current_survey.id, current_survey.content_hash))
    )


def _load_participant(by: str, key) -> Participant | None:
    """The participant a request acts for, read with everything its pages and autosave ask
    about, in one statement: the study (and its current survey version, without the text,
    which comes from the per-process cache), the latest consent record against the study's
    current consent form, and the participant's responses. The consent record is handed to
    the consent gate's per-transaction memory and the responses become the loaded
    ``participant.responses``, so neither is read again in this request (until a commit)."""
    rows = db.session.execute(_participant_query(by), {"key": key}).all()
    if not rows:
        return None
    participant, record = rows[0][0], rows[0][1]
    if "responses" not in sa.inspect(participant).dict:
        set_committed_value(participant, "responses", [row[2] for row in rows if row[2] is not None])
    consent_services.remember_consent(participant, record)
    return participant


def find_by_token(token: str) -> Participant | None:
    if not token or len(token) > 100:
        return None
    return _load_participant("token_hash", hash_token(token))


def participant_for_session(participant_id: int, token: str) -> Participant | None:
    """The participant a session holds, while its link is still theirs (a re-issued link
    changes the stored hash and so ends every session opened with the old one)."""
    participant = _load_participant("id", participant_id)
    if participant is None or not hmac.compare_digest(participant.token_hash, hash_token(token)):
        return None
    return participant


def remember_section(participant: Participant, index: int) -> bool:
    """Note the section (0-based) the participant is on, where their link takes them back to.
    False when it is already the one noted: then nothing is to be written."""
    if participant.current_section == index:
        return False
    participant.current_section = index
    return True


def page_key(participant: Participant) -> str:
    """A short tag, put in every participant form, naming who the page was shown to without
    revealing anything: a keyed hash of the link's hash."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    digest = hmac.new(key, f"participant-page:{participant.token_hash}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def find_open_study(slug: str) -> Study | None:
    return db.session.scalar(sa.select(Study).where(Study.slug == slug, Study.open_link.is_(True)))


# -- filled in from the invitation ----------------------------------------------------------

def _nominee_answers(nominee: Nominee, locale: str) -> dict[str, Any]:
    """What the nominee record already says, by the survey keys that ask it."""
    agency = AGENCIES.get(nominee.agency)
    with force_locale(locale):
        agency_label = str(agency) if agency is not None else nominee.agency
    return {"la_code": nominee.la_code, "service_area": nominee.service_area,
            "agency": agency_label, "role": nominee.role}


def prefill_from_nominee(participant: Participant, section: Section, state: dict) -> dict[str, Any]:
    """Answers to show already filled in on a section, from the invitation's nominee record:
    only for questions never saved, and only values the question can take. Nothing is saved
    until the participant saves the page, and they can change any of it."""
    if participant.source != "invited":
        return {}
    nominee = db.session.scalar(sa.select(Nominee).where(Nominee.participant_id == participant.id))
    if nominee is None:
        return {}
    known = _nominee_answers(nominee, participant.language or "en")
    prefilled: dict[str, Any] = {}
    for question in section.questions:
        value = known.get(question.key)
        if not value or question.key in state:
            continue
        if question.type == "single_choice" and question.option(value) is None:
            continue
        if question.type in ("single_choice", "short_text", "long_text"):
            prefilled[question.key] = value
    return prefilled


# -- "email me my link" -----------------------------------------------------------------------

class TooManyLinkEmails(Exception):
    """This participant has asked for their link too often lately."""


class LinkEmailNotSent(Exception):
    """The mail server did not take the message."""


def email_personal_link(participant: Participant, address: str, link: str, locale: str) -> LinkEmail:
    """Send one email with the personal link to ``address``, in ``locale``. The address is
    used for this message only; what is recorded is that a link was sent, and when."""
    config = current_app.config
    since = utcnow() - timedelta(seconds=config["LINK_EMAIL_WINDOW_SECONDS"])
    recent = db.session.scalar(sa.select(sa.func.count(LinkEmail.id)).where(
        LinkEmail.participant_id == participant.id, LinkEmail.sent_at >= since))
    if recent >= config["LINK_EMAIL_LIMIT"]:
        raise TooManyLinkEmails()
    study = participant.study
    with force_locale(locale):
        message = EmailMessage()
        message["Subject"] = _("Your link: %(study)s", study=tr(study.title, locale))
        message["To"] = address
        message["Message-ID"] = make_msgid(idstring="link", domain=config["MAIL_DOMAIN"])
        mail.address(message, study, locale)
        body = render_template("participant/email/link.txt", link=link, study_title=tr(study.title, locale),
                               contacts=study_contacts(study, locale), study=study)
        message.set_content(body, charset="utf-8")
        message["Content-Language"] = locale
    mailer = Mailer(config)
    try:
        mailer.send(message)
    except (MailServerUnavailable, MessageRefused, DeliveryUncertain) as exc:
        raise LinkEmailNotSent(str(exc)) from exc
    finally:
        mailer.close()
    record = LinkEmail(participant_id=participant.id, language=locale)
    db.session.add(record)
    return record
