"""Telling an account's owner by email that wrong passwords are being typed for their account.

The message is written during the request, in the owner's language, and handed to the mail
server only after the response has gone (``send_after``): the answer to the attempt that
started the slowing-down takes no longer for a real account than for an unknown address.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _

from surveyapp import mail
from surveyapp.accounts.models import User
from surveyapp.db import utcnow
from surveyapp.invitations.mailer import DeliveryUncertain, Mailer, MailServerUnavailable, MessageRefused

logger = logging.getLogger(__name__)


def throttle_notice(user: User) -> EmailMessage:
    locale = user.preferred_language if user.preferred_language in ("cy", "en") else "cy"
    with force_locale(locale):
        message = EmailMessage()
        message["Subject"] = _("Wrong passwords have been typed for your account")
        message["From"] = mail.sender(locale)
        message["To"] = user.email
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(idstring="signin", domain=current_app.config["MAIL_DOMAIN"])
        body = render_template("accounts/email/throttled.txt", name=user.name, email=user.email,
                               time=format_datetime(utcnow(), "d MMMM y, HH:mm"))
        message.set_content(body, charset="utf-8")
        message["Content-Language"] = locale  # after set_content, which clears Content-* headers
    return message


def send_after(response, message: EmailMessage):
    """Send ``message`` once ``response`` has been sent, with the app's mail settings."""
    config = {key: current_app.config.get(key) for key in
              ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "SMTP_TIMEOUT", "SMTP_USERNAME", "SMTP_PASSWORD")}

    def send() -> None:
        mailer = Mailer(config)
        try:
            mailer.send(message)
        except (MailServerUnavailable, MessageRefused, DeliveryUncertain) as exc:
            logger.warning("could not send the sign-in warning email: %s", exc)
        finally:
            mailer.close()

    response.call_on_close(send)
    return response
