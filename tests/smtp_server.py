"""A real SMTP server on loopback (aiosmtpd), for every test that sends email.

The server records every message it accepts (envelope recipients and the raw bytes). It can
refuse chosen recipients at RCPT, block inside DATA on the Nth message until released (to kill
a sender while a message is in flight), drop the connection inside DATA on the Nth message
(after the whole message arrived, before any reply: the sender cannot know whether it went),
offer SMTPUTF8 or not (``SmtpServer(enable_SMTPUTF8=True)``), and be stopped and restarted on
the same port.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        head = self.raw.split(b"\r\n\r\n", 1)[0]
        if not head.isascii():  # SMTPUTF8: headers in UTF-8, which the bytes parser would not decode
            return email.message_from_string(self.raw.decode("utf-8"), policy=email.policy.default)
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def body(self) -> str:
        return self.message.get_content()


class Recorder:
    """The aiosmtpd handler: thread-safe record of what arrived, plus knobs for failures."""

    def __init__(self):
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.refuse: dict[str, str] = {}  # address -> the exact reply to RCPT TO
        self.block_on: int | None = None  # block inside DATA on this (1-based) message
        self.drop_on: int | None = None  # hang up inside DATA on this (1-based) message
        self.dropped: list[Received] = []  # what arrived on a connection dropped before the reply
        self.mail_options: list[list[str]] = []  # the MAIL FROM parameters of every transaction
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self._lock:
            self.mail_options.append(list(mail_options))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        arrived = Received(tuple(envelope.rcpt_tos), envelope.original_content)
        with self._lock:
            number = len(self._received) + len(self.dropped) + 1
            if number == self.drop_on:
                self.dropped.append(arrived)
            else:
                self._received.append(arrived)
        if number == self.drop_on:
            server.transport.abort()  # no reply: the sender is left not knowing
            return "421 (never sent: the connection is gone)"
        if number == self.block_on:
            self.blocked.set()
            # wait in a worker thread so that the event loop (other sessions) keeps running
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "250 2.0.0 Message accepted for delivery"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def addresses(self) -> Counter:
        return Counter(addr.lower() for r in self.received for addr in r.rcpt_tos)

    def for_address(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, **options):
        self.handler = Recorder()
        self.port = free_port()
        # aiosmtpd SMTP options: tls_context, authenticator, ... SMTPUTF8 is offered only when
        # asked for (aiosmtpd's Controller would offer it by default).
        self.options = {"enable_SMTPUTF8": False, **options}
        self.controller: Controller | None = None

    def start(self) -> None:
        assert self.controller is None
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.handler.release.set()
            self.controller.stop()
            self.controller = None
