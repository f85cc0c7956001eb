"""One SMTP connection per batch, from the app's settings; errors sorted by what they mean.

Addresses go to the server as it can take them: a domain with accented letters as IDNA
("xn--..."), which every server accepts; a mailbox name (before the @) with accented letters only
with SMTPUTF8, when the server offers it, and otherwise not at all (the message fails alone, with
its reason, before anything is handed over).
"""

from __future__ import annotations

import copy
import smtplib
import ssl
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from email_validator import EmailNotValidError, validate_email

SMTP_UTF8 = SMTP.clone(utf8=True)
ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To")


class MailServerUnavailable(Exception):
    """Could not connect, greet or sign in: nothing was handed over; safe to try again later."""


class MessageRefused(Exception):
    """The server answered this message with a refusal; ``reply`` is what it said."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class MessageUnsendable(MessageRefused):
    """This message cannot be sent as it is; nothing was handed over. ``reason`` is a stable code
    (``surveyapp.invitations.models.Reason``) that the pages explain in the reader's language."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class DeliveryUncertain(Exception):
    """The connection broke during the hand-over: the message may or may not have gone."""


# Reason codes raised here (their titles live with the other message titles in models.py).
BAD_ADDRESS = "bad_address"
NEEDS_SMTPUTF8 = "needs_smtputf8"
UNSENDABLE = "unsendable"
NAME_LINES = "name_lines"


def _reply(code, text) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


def smtp_address(address: str) -> tuple[str, bool]:
    """The address as it goes to an SMTP server, and whether that needs SMTPUTF8.

    The domain is turned into IDNA by email-validator (the library that accepted it); the
    mailbox name is kept as it is. Raises MessageUnsendable for anything that is not one
    plain address (no display name, no line breaks, no spaces, one @).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or not c.isprintable() or c in "<>,;\"\\"
                                                for c in address):
        raise MessageUnsendable(BAD_ADDRESS)
    if not domain.isascii():
        try:
            domain = validate_email(address, check_deliverability=False, test_environment=True).ascii_domain
        except EmailNotValidError as exc:
            raise MessageUnsendable(BAD_ADDRESS) from exc
    return f"{local}@{domain}", not local.isascii()


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    utf8: bool  # the message needs SMTPUTF8
    data: bytes


def _addresses(message: EmailMessage, name: str) -> list[Address]:
    return [address for header in message.get_all(name, []) for address in header.addresses]


def _with_ascii_domains(message: EmailMessage) -> EmailMessage:
    """The message, or a copy whose address headers give accented domains in IDNA, as the
    envelope does (without SMTPUTF8 a header may only carry ASCII addresses)."""
    changed = {name: _addresses(message, name) for name in ADDRESS_HEADERS
               if any(not a.domain.isascii() for a in _addresses(message, name))}
    if not changed:
        return message
    message = copy.deepcopy(message)
    for name, addresses in changed.items():
        del message[name]
        message[name] = [Address(a.display_name, addr_spec=smtp_address(a.addr_spec)[0]) for a in addresses]
    return message


def envelope(message: EmailMessage) -> Envelope:
    """What goes on the wire for ``message``, prepared before the server is touched. Raises
    MessageUnsendable when the message cannot be written out."""
    try:
        senders, recipients = _addresses(message, "From"), _addresses(message, "To")
        if len(senders) != 1 or not recipients:
            raise MessageUnsendable(BAD_ADDRESS)
        sender, sender_utf8 = smtp_address(senders[0].addr_spec)
        converted = [smtp_address(a.addr_spec) for a in recipients]
        utf8 = sender_utf8 or any(u for _a, u in converted)
        data = message.as_bytes(policy=SMTP_UTF8) if utf8 else _with_ascii_domains(message).as_bytes(policy=SMTP)
    except MessageUnsendable:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, MessageError) as exc:  # the email package refusing
        raise MessageUnsendable(UNSENDABLE, type(exc).__name__) from exc
    return Envelope(sender, tuple(a for a, _u in converted), utf8, data)


class Mailer:
    def __init__(self, config: dict):
        self.host, self.port = config["SMTP_HOST"], config["SMTP_PORT"]
        self.starttls, self.timeout = config["SMTP_STARTTLS"], config["SMTP_TIMEOUT"]
        self.username, self.password = config.get("SMTP_USERNAME"), config.get("SMTP_PASSWORD")
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())  # checks the certificate
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                smtp.close()
            raise MailServerUnavailable(str(exc)) from exc
        return smtp

    def send(self, message: EmailMessage) -> str:
        """Send one message; return the server's reply to it ("250 ...").

        The SMTP steps are taken one by one so that the server's own words are kept, for a
        refusal as much as for an acceptance, and so that a broken connection is judged by
        how far the message got: before DATA nothing was handed over (reconnect once, then
        report the server unavailable); during DATA it may have gone (uncertain). Anything
        else that goes wrong before DATA fails this message alone (MessageUnsendable).
        """
        prepared = envelope(message)
        for attempt in range(2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._envelope(prepared)
                break
            except (smtplib.SMTPServerDisconnected, OSError) as exc:  # e.g. an idle connection dropped
                self.close()
                if attempt:
                    raise MailServerUnavailable(str(exc)) from exc
            except (ValueError, smtplib.SMTPException) as exc:  # a command smtplib would not send
                self.close()  # the session's state is not known: start afresh for the next one
                raise MessageUnsendable(UNSENDABLE, type(exc).__name__) from exc
        return self._data(prepared)

    def _envelope(self, prepared: Envelope) -> None:
        options: list[str] = []
        if prepared.utf8:
            if not self._smtp.has_extn("smtputf8"):
                raise MessageUnsendable(NEEDS_SMTPUTF8)
            options = ["SMTPUTF8", "BODY=8BITMIME"] if self._smtp.has_extn("8bitmime") else ["SMTPUTF8"]
        steps = [lambda: self._smtp.mail(prepared.sender, options)]
        steps += [lambda r=r: self._smtp.rcpt(r) for r in prepared.recipients]
        for step in steps:
            code, text = step()
            if code not in (250, 251):
                self._reset()
                raise MessageRefused(_reply(code, text))

    def _data(self, prepared: Envelope) -> str:
        try:
            code, text = self._smtp.data(prepared.data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing was handed over
            self._reset()
            raise MessageRefused(_reply(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryUncertain(str(exc)) from exc
        if code != 250:
            self._reset()
            raise MessageRefused(_reply(code, text))
        self._smtp.command_encoding = "ascii"  # SMTPUTF8 was for that message only
        return _reply(code, text)

    def _reset(self) -> None:
        try:
            self._smtp.rset()  # also puts smtplib back to ASCII commands
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
