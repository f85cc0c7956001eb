"""Item 12: the database locked at the final Submit. The participant gets a 503 that says
nothing was lost, the way back shows every answer again, and Submit works once the lock goes."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant


class Lock:
    """Another writer holding the database (SQLite) or the journey's tables (PostgreSQL):
    reading goes on, writing waits."""

    def __init__(self, url: str):
        self.url = url
        self.held = None

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.held = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.held.execute("BEGIN IMMEDIATE")  # readers go on; writers wait
        else:
            engine = sa.create_engine(self.url)
            self.held = engine.connect()
            self.held.begin()
            self.held.execute(sa.text("LOCK TABLE participant, response IN EXCLUSIVE MODE"))
            self._engine = engine
        return self

    def __exit__(self, *exc):
        if isinstance(self.held, sqlite3.Connection):
            self.held.execute("ROLLBACK")
            self.held.close()
        else:
            self.held.rollback()
            self.held.close()
            self._engine.dispose()


@pytest.mark.parametrize("language,words", [("en", "Nothing you saved has been lost"),
                                            ("cy", "Nid oes dim a gadwyd gennych")])
def test_submit_while_the_database_is_locked_loses_nothing(make_app, database_url, study, language, words):
    from tests.conftest import Browser

    app = make_app(DATABASE_LOCK_TIMEOUT=0.5)
    browser = Browser(app)
    token = browser.start(study, language)
    browser.consent(token, study, optional=False)
    browser.post("/survey/section/1", {"role": "Pennaeth Diogelu", "la_code": "GWN",
                                       "service_area": "children", "action": "next"})
    browser.post("/survey/section/2", {"aims": "Cadw pobl yn ddiogel – ŵ ŷ â ô", "action": "next"})
    browser.get("/survey/review")

    with Lock(database_url):
        refused = browser.post("/survey/review", {}, fetch=False)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        page = refused.get_data(as_text=True)
        assert words in page and f'lang="{language}"' in page
        assert 'href="/survey/review"' in page  # the way back to the answers

    review = browser.get("/survey/review")
    assert review.status_code == 200
    assert "Pennaeth Diogelu" in browser.page and "Cadw pobl yn ddiogel – ŵ ŷ â ô" in browser.page
    done = browser.post("/survey/review", {}, fetch=False)
    assert done.status_code == 302 and done.location.endswith("/done")
    with app.app_context():
        assert db.session.scalar(sa.select(Participant.status)) == "submitted"
