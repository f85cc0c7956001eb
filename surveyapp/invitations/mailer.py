"""One SMTP connection per batch, from the app's settings; errors sorted by what they mean."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr


class MailServerUnavailable(Exception):
    """Could not connect, greet or sign in: nothing was handed over; safe to try again later."""


class MessageRefused(Exception):
    """The server answered this message with a refusal; ``reply`` is what it said."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class DeliveryUncertain(Exception):
    """The connection broke during the hand-over: the message may or may not have gone."""


def _reply(code, text) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


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
        report the server unavailable); during DATA it may have gone (uncertain).
        """
        for attempt in range(2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._envelope(message)
                break
            except (smtplib.SMTPServerDisconnected, OSError) as exc:  # e.g. an idle connection dropped
                self.close()
                if attempt:
                    raise MailServerUnavailable(str(exc)) from exc
        return self._data(message)

    def _envelope(self, message: EmailMessage) -> None:
        sender = parseaddr(message["From"])[1]
        recipient = parseaddr(message["To"])[1]
        for step in (lambda: self._smtp.mail(sender), lambda: self._smtp.rcpt(recipient)):
            code, text = step()
            if code not in (250, 251):
                self._reset()
                raise MessageRefused(_reply(code, text))

    def _data(self, message: EmailMessage) -> str:
        try:
            code, text = self._smtp.data(message.as_bytes(policy=SMTP))
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing was handed over
            self._reset()
            raise MessageRefused(_reply(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryUncertain(str(exc)) from exc
        if code != 250:
            self._reset()
            raise MessageRefused(_reply(code, text))
        return _reply(code, text)

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
