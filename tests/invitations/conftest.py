"""The loopback SMTP server (tests/smtp_server.py) and helpers for the invitation tests."""

from __future__ import annotations

import html
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from tests.conftest import EXAMPLE_NOMINEES, Browser
from tests.smtp_server import Received, Recorder, SmtpServer, free_port  # noqa: F401 (used by tests)

LINK_KEY = "fixed-test-link-key"
PASSWORD = "a-long-password-123"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language\n"
EXAMPLE_CSV = EXAMPLE_NOMINEES
CLI = str(Path(sys.executable).parent / "surveyapp")
URL_RE = re.compile(r"https?://\S+")


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


def sign_in_researcher(app, email_address="researcher@example.org", language="en") -> Browser:
    from surveyapp.access import Role
    from surveyapp.accounts.services import create_user

    with app.app_context():
        create_user(email_address, "Ymchwilydd Prawf", PASSWORD, {Role.RESEARCHER}, language)
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
            "SURVEYAPP_AUDIT_KEY": app.config["AUDIT_KEY"],
            "SURVEYAPP_AUDIT_ANCHOR_PATH": app.config["AUDIT_ANCHOR_PATH"],
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


@pytest.fixture
def smtp_utf8():
    """A loopback SMTP server that offers SMTPUTF8 (the plain ``smtp`` fixture does not)."""
    server = SmtpServer(enable_SMTPUTF8=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def legacy_nominee(app, study, name: str, address: str, language: str = "en") -> int:
    """A nominee row as old or hand-edited data could hold it: added through the service, then
    its name and email overwritten in the database, past any normalisation the importer does."""
    from surveyapp.nominees.models import Nominee
    from surveyapp.nominees.services import NomineeData, add_nominee
    from surveyapp.studies.models import Study

    with app.app_context():
        study_row = db.session.get(Study, getattr(study, "id", study))
        placeholder = f"legacy-{uuid.uuid4().hex}@example.org"
        nominee = add_nominee(study_row, NomineeData("Legacy", placeholder, "CAY", "children", "local_authority",
                                                     "Safeguarding lead", language), app.config["LINK_KEY"])
        db.session.execute(sa.update(Nominee).where(Nominee.id == nominee.id).values(name=name, email=address))
        db.session.commit()
        return nominee.id


class SessionThread:
    """A thread with its own app context, so its own database session and connection, that runs
    what the test gives it, one step at a time: two of these interleave two senders or two
    requests deterministically. ``submit`` starts a step without waiting (it may block in the
    database behind the other session); ``result`` waits for it."""

    def __init__(self, app):
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(app,), daemon=True)
        self._thread.start()

    def _run(self, app) -> None:
        with app.app_context():
            while (job := self._jobs.get()) is not None:
                try:
                    self._results.put((True, job()))
                except BaseException as exc:  # handed back to the test
                    db.session.rollback()
                    self._results.put((False, exc))
            db.session.remove()

    def submit(self, step) -> None:
        self._jobs.put(step)

    def result(self, timeout: float = 30):
        ok, value = self._results.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def __call__(self, step):
        self.submit(step)
        return self.result()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(30)


@pytest.fixture
def session_thread():
    threads: list[SessionThread] = []

    def factory(app) -> SessionThread:
        threads.append(SessionThread(app))
        return threads[-1]

    yield factory
    for thread in threads:
        thread.close()


FORM_RE = re.compile(r'<form method="post" action="([^"]+)"[^>]*data-(confirm|test)="(\w+)"[^>]*>(.*?)</form>', re.S)
INPUT_RE = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def preview_forms(page: str) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    """The preview page's forms: {("confirm", "new"|"resume") or ("test", language): (action, fields)}."""
    return {(role, which): (html.unescape(action), {k: html.unescape(v) for k, v in INPUT_RE.findall(body)})
            for action, role, which, body in FORM_RE.findall(page)}


def open_preview(browser, kind: str = "invitation"):
    response = browser.get(f"/researcher/invitations/send/{kind}")
    assert response.status_code == 200, response.status_code
    return preview_forms(browser.page)


def confirm_send(browser, kind: str = "invitation", which: str = "new"):
    """Open the preview and press its Send button (``which``: "new", or "resume" for the rest of
    an unfinished batch), as a researcher does."""
    forms = open_preview(browser, kind)
    assert ("confirm", which) in forms, f"no {which} confirmation on the preview"
    action, fields = forms["confirm", which]
    return browser.client.post(action, data=fields)
