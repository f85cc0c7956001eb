"""Issue 9: the database set up for a web app, on every connection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyapp.db import db


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite settings")


def _pragma(name: str):
    return db.session.execute(sa.text(f"PRAGMA {name}")).scalar()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_secure_delete_on_every_connection(app, sqlite_only):
    with app.app_context():
        connections = [db.engine.connect() for _ in range(3)]  # several pooled connections
        try:
            for connection in connections:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # erasure
        finally:
            for connection in connections:
                connection.close()


def test_sqlite_busy_timeout_comes_from_configuration(make_app, sqlite_only):
    app = make_app(DATABASE_LOCK_TIMEOUT=2.5)
    with app.app_context():
        assert _pragma("busy_timeout") == 2500


def test_sqlite_refuses_a_row_pointing_at_nothing(app, sqlite_only):
    with app.app_context(), pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        db.session.execute(sa.text(
            "INSERT INTO consent_record (participant_id, consent_form_id, given, method, language, "
            "content_hash, recorded_at) VALUES (999999, 999999, 1, 'online', 'en', 'x', '2026-01-01')"))
        db.session.flush()


def test_no_ping_on_every_checkout(app):
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
    with app.app_context():
        assert db.engine.pool._pre_ping is False
