"""What happened to a message, in the reader's language, with the mail server's own words kept
for a "Details" disclosure.

A mail server answers in English and in codes ("550 5.1.1 <x@example.org>: Recipient address
rejected"); a researcher reading Welsh needs to know what it means for them: the address does
not exist, the mailbox is full, try again later. The code says that, whatever the words: the
basic reply code (RFC 5321) says whether the refusal is for now (4xx) or for good (5xx), and the
enhanced status code (RFC 3463), when the server gives one, says why. The raw reply is never
thrown away: it is what a mail administrator asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from surveyapp.invitations.models import MESSAGE_TITLES, REASON_PREFIX, REASON_TITLES, Message, MessageStatus, Reason

ACCEPTED = _l("Accepted by the mail server.")
TEMPORARY = _l("Refused for now by the mail server (a temporary problem): it may be tried again.")
NO_SUCH_ADDRESS = _l("Refused by the mail server: the address does not exist or is not accepted.")
MAILBOX_FULL = _l("Refused by the mail server: the mailbox is full.")
NOT_ALLOWED = _l("Refused by the mail server as unwanted or not allowed.")
REFUSED = _l("Refused by the mail server.")
UNREACHABLE = _l("The mail server could not be reached; it will be sent when the batch runs again.")
UNKNOWN_REPLY = _l("The mail server gave a reply that could not be understood.")
DETAILS = _l("Details")  # the disclosure that holds the raw reply (<details><summary>)

# What groups.py writes in smtp_reply when the mail server could not be reached (the message
# goes back to pending, to be sent when the batch runs again).
UNAVAILABLE_PREFIX = "Mail server unavailable"

_REPLY = re.compile(r"\s*(?P<code>[245]\d\d)(?:[ -]+(?P<enhanced>[245])\.(?P<subject>\d{1,3})\.(?P<detail>\d{1,3}))?")


@dataclass(frozen=True)
class Outcome:
    status: str  # the message status value (MessageStatus)
    title: str | Markup  # what happened, translated, in the reader's language
    details: str | None  # the mail server's raw reply (or the app's detail), for a "details" disclosure


def reply_title(reply: str | None) -> str | None:
    """A mail server's reply as a translated status, by its codes; None when it carries no
    reply code at all."""
    match = _REPLY.match(reply or "")
    if match is None:
        return None
    code = int(match["code"])
    if code < 400:
        return str(ACCEPTED)
    if code < 500:
        return str(TEMPORARY)
    if match["enhanced"] == "5":  # the enhanced code says why (RFC 3463 subjects)
        subject, detail = match["subject"], match["detail"]
        if subject == "1":
            return str(NO_SUCH_ADDRESS)
        if (subject, detail) == ("2", "2"):
            return str(MAILBOX_FULL)
        if subject == "7":
            return str(NOT_ALLOWED)
        return str(REFUSED)
    if code in (550, 551, 553):
        return str(NO_SUCH_ADDRESS)
    if code == 552:
        return str(MAILBOX_FULL)
    if code == 554:
        return str(NOT_ALLOWED)
    return str(REFUSED)


def reason_title(reason: Reason, name: str, email: str) -> Markup:
    """The app's own reason, naming the nominee (isolated, so that a right-to-left name cannot
    turn the sentence around)."""
    template = Markup.escape(str(REASON_TITLES[reason]))  # translated, placeholders kept
    return template % {"name": Markup("<bdi>%s</bdi>") % name, "email": Markup("<bdi>%s</bdi>") % email}


def _app_detail(reply: str) -> str | None:
    """The detail after ``app:<reason>: ``, if any (an exception's name, a lost connection's words)."""
    return reply[len(REASON_PREFIX):].partition(":")[2].strip() or None


def describe(message: Message) -> Outcome:
    """What happened to ``message``, for the batch page and the nominee's history."""
    status, reply = message.status, message.smtp_reply
    reason = message.reason
    if reason is not None:
        nominee = message.nominee
        return Outcome(status, reason_title(reason, nominee.name, nominee.email), _app_detail(reply))
    if status == MessageStatus.UNCERTAIN:
        nominee = message.nominee
        return Outcome(status, reason_title(Reason.INTERRUPTED, nominee.name, nominee.email), reply)
    if status == MessageStatus.PENDING:
        if reply and reply.startswith(UNAVAILABLE_PREFIX):
            return Outcome(status, str(UNREACHABLE), reply)
        return Outcome(status, str(MESSAGE_TITLES[MessageStatus.PENDING]), reply)
    title = reply_title(reply)
    if title is None:
        if reply:
            title = str(UNKNOWN_REPLY)
        else:
            title = str(MESSAGE_TITLES.get(status, status))
    return Outcome(status, title, reply)


def outcome(message: Message) -> Markup | None:
    """The app's own reason for a message's outcome, naming the nominee; None when
    ``smtp_reply`` holds the mail server's words instead (kept for older callers: use
    ``describe``)."""
    reason = message.reason
    if reason is None:
        return None
    return reason_title(reason, message.nominee.name, message.nominee.email)
