"""When the database fails: a clear 503 that says nothing was lost, and a schema check that
stops a server from starting on a database behind the code's migrations."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc

from surveyapp.extensions import db

logger = logging.getLogger("surveyapp.faults")

RETRY_AFTER_SECONDS = 30

# Errors that mean "the database cannot answer now" (locked, down, out of connections),
# as opposed to a mistake in what we asked of it.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class SchemaBehind(RuntimeError):
    """The database lacks migrations this code needs."""


def init_app(app: Flask) -> None:
    for error in UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)


def _database_unavailable(exc):
    logger.error("database unavailable: %s %s: %s", request.method, request.endpoint,
                 exc.__class__.__name__, exc_info=exc)
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool replaces it (pool_pre_ping)
        db.session.remove()
    title = _("The service is busy for a moment")
    help_text = _("Nothing you saved has been lost. Please try again in a minute.")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.accept_mimetypes.best == "application/json":
        return jsonify(status="unavailable", message=help_text), 503, headers
    # For a refused submit or save, the same address shows the page again with every answer
    # that was stored before this request.
    back_url = request.path if request.blueprint == "participant" and request.path.startswith("/survey/") else None
    body = render_template("error.html", code=503, title=title, help=help_text, back_url=back_url)
    return body, 503, headers


def missing_revisions(engine: sa.Engine, migrations_dir) -> list[str]:
    """The migration heads the code has and the database does not (empty when current)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrations_dir))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    wanted = set(script.get_heads())
    if current == wanted:
        return []
    applied = set()
    for rev in current:
        if rev in {s.revision for s in script.walk_revisions()}:
            applied.update(s.revision for s in script.iterate_revisions(rev, "base"))
    return [s.revision for s in script.walk_revisions() if s.revision not in applied][::-1]


def check_schema(app: Flask) -> None:
    """Raise SchemaBehind naming the missing revisions, before any request is served."""
    from surveyapp import _migrations_dir

    with app.app_context():
        missing = missing_revisions(db.engine, _migrations_dir())
    if missing:
        raise SchemaBehind(
            "the database is missing migration(s) " + ", ".join(missing)
            + "; run 'surveyapp db upgrade' first"
        )
