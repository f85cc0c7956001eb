"""Fixtures built on the app factory. The schema is created only by the migrations.

Set SURVEYAPP_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run
the same suite on PostgreSQL; the default is a fresh SQLite file per test session.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveyapp import create_app
from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.db import db
from surveyapp.instruments.model import ConsentForm, Survey

# The project's shared folder sits beside the checkout (as in CI and development).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXAMPLE_NOMINEES = SHARED_DATA / "nominees_example.csv"

BASE_CONFIG = {"ENV": "testing", "SECRET_KEY": "test-secret", "AUDIT_KEY": "test-audit-key-of-at-least-32-bytes",
               "SERVER_NAME": "survey.test", "PUBLIC_URL": "http://survey.test"}
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HIDDEN_RE = re.compile(r'<input type="hidden" name="(_rev_\w+|_participant)" value="(\w+)">')
PERSONAL_LINK_RE = re.compile(r'class="personal-link__url"[^>]*>https?://[^/<]+/p/([^/<"]+)</a>')


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("SURVEYAPP_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    from flask_migrate import upgrade

    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build apps on the migrated database; rows are removed after each test."""
    apps = []

    queue = tmp_path / "tasks.sqlite3"

    def factory(**overrides):
        app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url,
                          "TASK_QUEUE_URL": f"sqlite:///{queue}",
                          "AUDIT_ANCHOR_PATH": str(tmp_path / "audit-anchor.log"), **overrides})
        apps.append(app)
        return app

    yield factory
    if apps:
        with apps[0].app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """An app with no context pushed: each request gets its own session, as in production.
    Tests open ``with app.app_context():`` to look in the database."""
    return make_app()


@dataclass(frozen=True)
class StudyInfo:
    id: int
    slug: str
    consent_form: ConsentForm
    survey: Survey


@pytest.fixture
def study(app) -> StudyInfo:
    """The shipped Phase 1 study, loaded from instruments/ as the demo does."""
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue
    from surveyapp.studies.models import Study

    with app.app_context():
        load_catalogue(read_catalogue(INSTRUMENTS_DIR))
        db.session.commit()
        row = db.session.scalar(sa.select(Study).where(Study.slug == "front-door-phase1"))
        return StudyInfo(row.id, row.slug, row.consent_form.as_consent_form(), row.survey.as_survey())


class Browser:
    """A test client that behaves like a person with a browser: it reads the CSRF token
    from the page it is on and sends it back with the form. Like a browser, it follows the
    redirect that exchanges a personal link for a session (``/p/<token>/x`` to ``/survey/x``)
    and posts a form to the page it came from."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.page = ""
        self.url = ""

    def get(self, url, **kw):
        response = self.client.get(url, **kw)
        self.url = url
        if response.status_code == 302 and url.startswith("/p/") and response.location.startswith("/survey"):
            self.url = response.location
            response = self.client.get(response.location, **kw)
        if response.status_code == 200:
            self.page = response.get_data(as_text=True)
        return response

    def csrf(self) -> str:
        match = CSRF_RE.search(self.page)
        assert match, "no CSRF token on the current page"
        return match.group(1)

    def bound(self) -> str:
        """The participant the current page was shown to (its ``_participant`` field), which a
        participant page's form or autosave sends back."""
        match = re.search(r'name="_participant" value="(\w+)"', self.page)
        assert match, "no participant field on the current page"
        return match.group(1)

    def post(self, url, data=None, *, fetch=True, **kw):
        """POST as a form on ``url``; GET it first so the CSRF token is fresh (and post to
        the address the page ended up on, as its form would)."""
        if fetch:
            self.get(url)
            url = self.url
        data = {**dict(HIDDEN_RE.findall(self.page)), **dict(data or {})}  # as a browser would
        data.setdefault("csrf_token", self.csrf())
        response = self.client.post(url, data=data, **kw)
        self.page = response.get_data(as_text=True)
        return response

    def start(self, study, language="en") -> str:
        """Open the study's link, choose a language; return the personal token (read from
        the personal link the information page shows: it is in no address)."""
        response = self.post(f"/s/{study.slug}", {"language": language})
        assert response.status_code == 302, response.status_code
        assert response.location == "/survey/information", response.location
        self.get(response.location)
        match = PERSONAL_LINK_RE.search(self.page)
        assert match, "no personal link on the information page"
        return match.group(1)

    def consent(self, token, study, *, required=True, optional=True):
        items = study.consent_form.items
        data = {f"item_{i.id}": "y" for i in items if (i.required and required) or (not i.required and optional)}
        return self.post(f"/p/{token}/consent", data)


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def new_browser(app):
    """Another, empty browser (no cookies): a new device."""
    return lambda: Browser(app)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that keeps what it is sent (tests/smtp_server.py)."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def instruments_copy(tmp_path) -> Path:
    import shutil

    target = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS_DIR, target)
    return target
