"""When the database fails: a clear 503 that says nothing was lost, and a schema check that
stops a server from starting on a database behind the code's migrations."""

from __future__ import annotations

import functools
import logging

import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc

from surveyapp.extensions import db
from surveyapp.web import way_back_url

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
    body = render_template("error.html", code=503, title=title, help=help_text, back_url=way_back_url())
    return body, 503, headers


@functools.cache
def _code_revisions(migrations_dir: str) -> tuple[frozenset[str], dict[str, frozenset[str]], tuple[str, ...]]:
    """The code's migration heads, each revision's ancestors (itself included) and every
    revision oldest first: read from the migration files once per process."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(migrations_dir)
    ordered = tuple(s.revision for s in reversed(list(script.walk_revisions())))
    ancestors = {rev: frozenset(s.revision for s in script.iterate_revisions(rev, "base")) for rev in ordered}
    return frozenset(script.get_heads()), ancestors, ordered


def missing_revisions(engine: sa.Engine, migrations_dir) -> list[str]:
    """The migrations the code has and the database does not, oldest first (empty when current)."""
    heads, ancestors, ordered = _code_revisions(str(migrations_dir))
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            current = set()
        else:
            current = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    if current == heads:
        return []
    applied = set().union(*(ancestors.get(rev, ()) for rev in current))
    return [rev for rev in ordered if rev not in applied]


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
