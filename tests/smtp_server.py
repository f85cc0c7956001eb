"""A real SMTP server on loopback (aiosmtpd), for every test that sends email.

The server records every message it accepts (envelope recipients and the raw bytes). It can
refuse chosen recipients at RCPT, block inside DATA on the Nth message until released (to kill
a sender while a message is in flight), and be stopped and restarted on the same port.
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
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self._received.append(Received(tuple(envelope.rcpt_tos), envelope.original_content))
            number = len(self._received)
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
        self.options = options  # aiosmtpd SMTP options: tls_context, authenticator, ...
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
