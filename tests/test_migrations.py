"""Each Alembic revision upgrades and downgrades, and head matches the models."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from surveyapp.db import db
from tests.conftest import BASE_CONFIG


@pytest.fixture
def migration_app(tmp_path, database_url):
    from surveyapp import create_app

    url = os.environ.get("SURVEYAPP_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        yield app
        upgrade()  # leave a shared database as the rest of the suite expects it
        db.session.remove()
        db.engine.dispose()


def _revisions(app):
    config = app.extensions["migrate"].migrate.get_config()
    return list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))


def test_each_revision_upgrades_and_downgrades(migration_app):
    downgrade(revision="base")
    for script in _revisions(migration_app):
        upgrade(revision=script.revision)
        downgrade(revision=script.down_revision or "base")
        upgrade(revision=script.revision)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables


def test_head_matches_the_models(migration_app):
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
