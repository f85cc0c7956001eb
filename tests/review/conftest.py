"""Helpers for the reviewer's pages: staff who sign in, participants who consent through the
real consent service (online or verbally recorded), and reading the register's rows."""

from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.consent.models import ConsentMethod
from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.services import import_nominees
from surveyapp.participant.models import Participant
from surveyapp.studies.models import Study
from tests.conftest import Browser

PASSWORD = "a-long-password-for-tests"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language\n"
NUMBERS = itertools.count()
ROW = re.compile(r'<tr data-participant="(\d+)" data-status="(\w+)">')


def sign_in(app, role: str = "reviewer", language: str = "en") -> Browser:
    email = f"{role}-{language}@example.org"
    with app.app_context():
        if db.session.scalar(sa.text("select count(*) from user_account where email = :e"), {"e": email}) == 0:
            create_user(email, f"{role.title()} Prawf", PASSWORD, {Role(role)}, language)
            db.session.commit()
    browser = Browser(app)
    response = browser.post("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, browser.page
    return browser


def nominees(app, study, rows: list[tuple[str, str]]) -> list[int]:
    """Nominees (la_code, service_area) imported through the real importer; their participant ids."""
    csv = HEADER + "".join(f"Person {i},person{i}@example.org,{la},{service},local_authority,Lead,en\n"
                           for i, (la, service) in zip(NUMBERS, rows, strict=False))
    with app.app_context():
        study_row = db.session.get(Study, study.id)
        result = parse_nominees("n.csv", csv.encode())
        assert result.ok, [p.message for p in result.problems]
        added = import_nominees(study_row, result.rows, app.config["LINK_KEY"])
        db.session.commit()
        return [n.participant_id for n in added]


def consent(app, participant_id: int, *, language: str = "en", given: bool = True, optional: bool = True,
            recorded_by: str | None = None) -> None:
    """Record consent with the real service: every required item agreed (or none when not ``given``)."""
    with app.app_context():
        participant = db.session.get(Participant, participant_id)
        form = participant.study.consent_form.as_consent_form()
        agreed = {i.id: (given if i.required else optional) for i in form.items}
        by = None
        if recorded_by:
            by = db.session.scalar(sa.text("select id from user_account where email = :e"), {"e": recorded_by})
        record_consent(participant, agreed, language=language,
                       method=ConsentMethod.VERBAL if by else ConsentMethod.ONLINE, recorded_by_id=by)
        db.session.commit()


def rows(browser, query: str = "") -> dict[int, str]:
    response = browser.get(f"/review/{query}")
    assert response.status_code == 200, (query, response.status_code)
    return {int(pk): status for pk, status in ROW.findall(browser.page)}


@pytest.fixture
def reviewer(app, study):
    return sign_in(app, "reviewer")
