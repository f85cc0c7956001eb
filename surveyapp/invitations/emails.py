"""Composing invitation and reminder emails in the nominee's language (or both, Welsh first)."""

from __future__ import annotations

import functools
import unicodedata
from email.message import EmailMessage
from email.utils import make_msgid, quote

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from surveyapp import mail
from surveyapp.i18n import tr
from surveyapp.invitations.mailer import NAME_LINES, MessageUnsendable, smtp_address
from surveyapp.invitations.models import MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.participant.services import derive_token
from surveyapp.reference import local_authorities
from surveyapp.studies.contacts import study_contacts

SEPARATOR = "\n\n" + "-" * 60 + "\n\n"


def one_line(text: str) -> str:
    """Text for a header: every line break and control character becomes a space (a header
    cannot then be split or added to), and runs of white space one space."""
    return " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text).split())


def recipient(name: str, address: str) -> str:
    """The To header: the name on one line, quoted, and the address as the server takes it
    (an accented domain in IDNA). Raises MessageUnsendable for an address that cannot be used."""
    address, _utf8 = smtp_address(address)
    name = one_line(name)
    return f'"{quote(name)}" <{address}>' if name else address


def language_mode(nominee: Nominee) -> str:
    return nominee.preferred_language if nominee.preferred_language in ("cy", "en") else "bilingual"


def personal_links(nominee: Nominee) -> tuple[str, str]:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    token = derive_token(current_app.config["LINK_KEY"], nominee.link_nonce)
    return f"{base}/p/{token}", f"{base}/p/{token}/decline"


# In a preview or a test email the personal link must not be anyone's real link (whoever
# received it could answer, or decline, as the nominee): an example that opens nothing.
EXAMPLE_LINK_PATH = "/p/example-link-for-testing"


def example_links() -> tuple[str, str]:
    base = current_app.config["PUBLIC_URL"].rstrip("/") + EXAMPLE_LINK_PATH
    return base, f"{base}/decline"


def _subject(kind: str, study_title: str) -> str:
    if kind == MessageKind.REMINDER:
        return _("Reminder: %(study)s", study=study_title)
    return _("Invitation to take part: %(study)s", study=study_title)


def render(kind: str, nominee: Nominee, locale: str, *, example: bool = False, test: bool = False) -> tuple[str, str]:
    """The subject and body for ``nominee`` in one language. A preview (``example``) carries
    example links, not the nominee's own; a test email also says it is a test."""
    with force_locale(locale):
        study = nominee.participant.study
        title = tr(study.title, locale)
        link, decline = example_links() if example or test else personal_links(nominee)
        la = local_authorities().get(nominee.la_code)
        body = render_template(
            f"invitations/email/{kind}.txt", name=one_line(nominee.name), study_title=title, link=link,
            decline_link=decline, study=study, contacts=study_contacts(study, locale),
            local_authority=la.name(locale) if la else nominee.la_code,
        )
        subject = _subject(kind, title)
        if test:
            subject = _("[TEST] %(subject)s", subject=subject)
            body = _("This is a test email, sent to you from the preview. The links in it are examples "
                     "and do not work: each nominee's email has their own link.") + "\n\n" + body
        return subject, body


def compose(kind: str, nominee: Nominee, message_id_seed: str, *,
            test_recipient: tuple[str, str] | None = None) -> tuple[EmailMessage, str]:
    """The email for one nominee and the language it is in ('cy', 'en' or 'bilingual').
    Raises MessageUnsendable when the nominee's address cannot be used.

    ``test_recipient`` (name, address): the same email marked as a test, with example links,
    to that person instead of the nominee."""
    if nominee.name != one_line(nominee.name):
        # A name on several lines (a two-line spreadsheet cell) is usually a name and
        # something else: greeting "Rhiannon Prys (Pennaeth Diogelu)" would be wrong, so the
        # researcher corrects it first. New names are put on one line when they are entered.
        raise MessageUnsendable(NAME_LINES)
    mode = language_mode(nominee)
    test = test_recipient is not None
    if mode == "bilingual":
        subject_cy, body_cy = render(kind, nominee, "cy", test=test)
        subject_en, body_en = render(kind, nominee, "en", test=test)
        subject, body = f"{subject_cy} / {subject_en}", body_cy + SEPARATOR + body_en
    else:
        subject, body = render(kind, nominee, mode, test=test)
    message = EmailMessage()
    message["Subject"] = _parsed("Subject", one_line(subject))
    for name, header in _sender_headers(nominee.participant.study, mode):
        message[name] = header
    message["To"] = recipient(*(test_recipient or (nominee.name, nominee.email)))
    message["Message-ID"] = make_msgid(idstring=message_id_seed, domain=current_app.config["MAIL_DOMAIN"])
    message.set_content(body, charset="utf-8")
    message["Content-Language"] = _parsed("Content-Language", "cy, en" if mode == "bilingual" else mode)  # after
    return message, mode  # set_content resets Content-Language


# The same few headers go on every email of a batch. The email package parses a header's text
# each time it is set (a millisecond for an address); a header already parsed is set as it is.

@functools.lru_cache(maxsize=256)
def _parsed(name: str, value: str):
    """The header ``name: value``, parsed once (the policy still refuses a line break)."""
    return EmailMessage().policy.header_store_parse(name, value)[1]


def _sender_headers(study, mode: str) -> list:
    """From and Reply-To as surveyapp.mail sets them, parsed once per app, study address and mode."""
    cache = current_app.extensions.setdefault("surveyapp.invitation_senders", {})
    key = (current_app.config["MAIL_FROM"], (study.contacts or {}).get("team_email"), mode)
    if key not in cache:
        scratch = EmailMessage()
        mail.address(scratch, study, mode)
        cache[key] = scratch.items()  # the parsed header objects
    return cache[key]
