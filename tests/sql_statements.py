"""Counting the SQL statements an app's engine runs, for ceilings on hot paths."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.db import db


class Statements:
    """Counts the statements the app's engine runs while the ``with`` block is active."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        self.count = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)
