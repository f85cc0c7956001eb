"""A real SMTP server on loopback (aiosmtpd) and helpers for the invitation tests.

The server records every message it accepts (envelope recipients and the raw bytes). It can
refuse chosen recipients at RCPT, block inside DATA on the Nth message until released (to kill
a sender while a message is in flight), and be stopped and restarted on the same port.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from surveyapp.db import db
from tests.conftest import EXAMPLE_NOMINEES, Browser

LINK_KEY = "fixed-test-link-key"
PASSWORD = "a-long-password-123"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language\n"
EXAMPLE_CSV = EXAMPLE_NOMINEES
CLI = str(Path(sys.executable).parent / "surveyapp")
URL_RE = re.compile(r"https?://\S+")


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


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10)


def load_nominees(app, study, csv_bytes: bytes) -> list[int]:
    """Import through the real importer and service; return the nominee ids in order.
    ``study``: the StudyInfo from the ``study`` fixture, or a study id."""
    from surveyapp.nominees.importer import parse_nominees
    from surveyapp.nominees.services import import_nominees
    from surveyapp.studies.models import Study

    with app.app_context():
        result = parse_nominees("nominees.csv", csv_bytes)
        assert result.ok, [p.message for p in result.problems]
        study_row = db.session.get(Study, getattr(study, "id", study))
        nominees = import_nominees(study_row, result.rows, app.config["LINK_KEY"])
        db.session.commit()
        return [n.id for n in nominees]


def csv_of(*rows: tuple[str, str, str]) -> bytes:
    """(name, email, preferred_language) rows -> a nominee CSV."""
    las = ("CAY", "RCT", "CGN", "GWN", "POW", "CRF", "SWA", "NTL")
    lines = [
        f"{name},{address},{las[i % len(las)]},children,local_authority,Safeguarding lead,{lang}"
        for i, (name, address, lang) in enumerate(rows)
    ]
    return (HEADER + "\n".join(lines) + "\n").encode("utf-8")


def messages_by_email(app) -> dict[str, object]:
    """Every invitation/reminder message row as {email: [(kind, status, smtp_reply, language)]}."""
    from surveyapp.invitations.models import Message
    from surveyapp.nominees.models import Nominee

    with app.app_context():
        rows = db.session.execute(
            sa.select(
                Nominee.email, Message.kind, Message.status, Message.smtp_reply, Message.language
            )
            .join(Message, Message.nominee_id == Nominee.id)
            .order_by(Message.id)
        ).all()
    result: dict[str, list] = {}
    for address, *rest in rows:
        result.setdefault(address, []).append(tuple(rest))
    return result


def sign_in_researcher(app, email_address="researcher@example.org") -> Browser:
    from surveyapp.access import Role
    from surveyapp.accounts.services import create_user

    with app.app_context():
        create_user(email_address, "Ymchwilydd Prawf", PASSWORD, {Role.RESEARCHER}, "en")
        db.session.commit()
    browser = Browser(app)
    response = browser.post("/login", {"email": email_address, "password": PASSWORD})
    assert response.status_code == 302, browser.page
    return browser


def cli_env(app, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYAPP_")}
    env.update(
        {
            "SURVEYAPP_ENV": "testing",
            "SURVEYAPP_DATABASE_URL": app.config["DATABASE_URL"],
            "SURVEYAPP_LINK_KEY": app.config["LINK_KEY"],
            "SURVEYAPP_SECRET_KEY": app.config["SECRET_KEY"],
            "SURVEYAPP_SMTP_HOST": "127.0.0.1",
            "SURVEYAPP_SMTP_PORT": str(smtp_port),
            "SURVEYAPP_SMTP_TIMEOUT": "10",
            "SURVEYAPP_PUBLIC_URL": app.config["PUBLIC_URL"],
            "SURVEYAPP_TASK_QUEUE_URL": app.config["TASK_QUEUE_URL"],
            "SURVEYAPP_TRANSLATIONS_DIR": app.config["TRANSLATIONS_DIR"],
        }
    )
    return env


def run_cli(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)
