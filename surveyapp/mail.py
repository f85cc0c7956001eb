"""What every email the app sends has in common: the sender's name in the email's language
and a Reply-To that reaches the study's research team."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from flask import current_app

from surveyapp.i18n import in_locale

SENDER_NAME = "Safeguarding research in Wales"  # the site's name, in the catalogue


def sender(mode: str) -> str:
    """The From header: the configured address with the site's name in the email's language
    ('cy', 'en', or 'bilingual' for Welsh then English)."""
    _, address = parseaddr(current_app.config["MAIL_FROM"])
    if mode == "bilingual":
        display = f"{in_locale(SENDER_NAME, 'cy')} / {in_locale(SENDER_NAME, 'en')}"
    else:
        display = in_locale(SENDER_NAME, mode)
    return formataddr((display, address))


def address(message: EmailMessage, study, mode: str) -> None:
    """Set From and, when the study names its team's address, Reply-To."""
    message["From"] = sender(mode)
    team_email = (study.contacts or {}).get("team_email")
    if team_email:
        message["Reply-To"] = team_email
