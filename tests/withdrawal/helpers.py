"""Helpers for the withdrawal tests: a participant's journey through the real app, and a look
at every text column of every table."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.participant.services import hash_token
from surveyapp.responses.models import Answer, Response
from surveyapp.withdrawal.models import Withdrawal

WITHDRAWN_JSON_STATUS = "withdrawn"


def marker(label: str) -> str:
    """An answer text found nowhere else in the database."""
    return f"{label}-{uuid.uuid4().hex[:12]}-Zyxwq"


def participant_of(token: str) -> Participant:
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))


def answers_of(token: str) -> dict:
    participant = participant_of(token)
    rows = db.session.scalars(sa.select(Answer).join(Response).where(Response.participant_id == participant.id))
    return {a.question_key: a.value for a in rows}


def withdrawal_of(token: str) -> Withdrawal | None:
    return participant_of(token).withdrawal


def consented(browser, study, language="en") -> str:
    token = browser.start(study, language)
    assert browser.consent(token, study).status_code == 302
    return token


def answer_sections(browser, role: str, other: str) -> None:
    """Section 1 (with ``role`` typed) and section 3 (with an "other" text), as a person would."""
    response = browser.post("/survey/section/1", {"role": role, "la_code": "GWN", "service_area": "children",
                                                  "action": "next"})
    assert response.status_code == 302, browser.page
    response = browser.post("/survey/section/3", {"front_door_model": ["IAA", "_other"],
                                                  "front_door_model__other": other, "action": "next"})
    assert response.status_code == 302, browser.page


def submitted(browser, study, role: str, other: str, language="en") -> str:
    token = consented(browser, study, language)
    answer_sections(browser, role, other)
    response = browser.post("/survey/review", {})
    assert response.status_code == 302 and response.location.endswith("/done")
    return token


def withdraw_from_link(browser, scope: str, *, confirm=True):
    data = {"scope": scope}
    if confirm:
        data["confirm"] = "y"
    return browser.post("/survey/withdraw", data)


def submitted_days_ago(token: str, days: int) -> None:
    """Move the participant's submission back in time (as if they had submitted then)."""
    participant = participant_of(token)
    participant.submitted_at = participant.submitted_at - timedelta(days=days)
    db.session.commit()


def text_columns(engine) -> list[tuple[str, str]]:
    """Every (table, column) whose type can hold text: CHAR/VARCHAR/TEXT, JSON. Read from the
    database itself, not the models, so that a table the models forget is scanned too."""
    inspector = sa.inspect(engine)
    found = []
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            type_name = str(column["type"]).upper()
            if re.search(r"CHAR|TEXT|JSON|CLOB|STRING", type_name):
                found.append((table, column["name"]))
    return found


def tables_holding(engine, needle: str) -> list[tuple[str, str]]:
    """The (table, column) pairs in which ``needle`` appears in any row (JSON read as text)."""
    hits = []
    with engine.connect() as conn:
        for table, column in text_columns(engine):
            target = sa.table(table, sa.column(column))
            text = sa.cast(target.c[column], sa.Text)
            count = conn.execute(sa.select(sa.func.count()).select_from(target)
                                 .where(text.contains(needle, autoescape=True))).scalar_one()
            if count:
                hits.append((table, column))
    return hits
