"""`surveyapp serve` under gunicorn: health check, a redacted access log, and no start on a
database behind the migrations."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG

SURVEYAPP = str(Path(sys.executable).with_name("surveyapp"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _migrated_sqlite(tmp_path, revision="head") -> str:
    from flask_migrate import upgrade

    from surveyapp import create_app
    from surveyapp.extensions import db

    url = "sqlite:///" + str(tmp_path / "served.sqlite3")
    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade(revision=revision)
        db.engine.dispose()
    return url


def _env(url: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYAPP_")}
    env.update(SURVEYAPP_ENV="production", SURVEYAPP_SECRET_KEY="s" * 40, SURVEYAPP_LINK_KEY="l" * 40,
               SURVEYAPP_AUDIT_KEY="a" * 40,
               SURVEYAPP_DATABASE_URL=url, SURVEYAPP_PUBLIC_URL=f"http://127.0.0.1:{port}",
               SURVEYAPP_WORKERS="1", SURVEYAPP_THREADS="2")
    return env


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served(tmp_path):
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([SURVEYAPP, "serve", "--bind", f"127.0.0.1:{port}"],
                                env=_env(_migrated_sqlite(tmp_path), port), stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    _get(base + "/healthz")
                    break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.1)
            yield base, log
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_healthz_answers_from_gunicorn(served):
    base, log = served
    status, body = _get(base + "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok"}


def test_the_access_log_never_holds_a_personal_token(served):
    base, log = served
    token = "tok" + "x" * 40
    status, _ = _get(f"{base}/p/{token}/consent")
    assert status == 404
    time.sleep(0.3)  # the access log line is written after the response
    text = log.read_text("utf-8", "replace")
    assert '"GET /p/<token>/consent HTTP/1.1" 404' in text
    assert token not in text
    assert "gthread" in text  # really gunicorn, not the development server


def test_serve_refuses_a_database_behind_the_migrations(tmp_path):
    from alembic.script import ScriptDirectory

    from surveyapp.config import PROJECT_ROOT

    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    url = _migrated_sqlite(tmp_path, revision=previous)
    port = _free_port()
    result = subprocess.run([SURVEYAPP, "serve", "--bind", f"127.0.0.1:{port}"], env=_env(url, port),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"missing migration(s) {head}" in result.stderr
    assert "surveyapp db upgrade" in result.stderr


def test_healthz_says_which_revision_is_missing(tmp_path):
    from alembic.script import ScriptDirectory

    from surveyapp import create_app
    from surveyapp.config import PROJECT_ROOT

    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    head = script.get_current_head()
    url = _migrated_sqlite(tmp_path, revision=script.get_revision(head).down_revision)
    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "behind", "missing": [head]}
