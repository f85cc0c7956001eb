"""Recording a withdrawal a researcher heard about by email or phone: by P-ID or reference,
with the date received; a bad participant, a future date or a missing token stores nothing.
Researchers only."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.accounts.models import User
from surveyapp.accounts.services import create_user
from surveyapp.db import db, utcnow
from surveyapp.withdrawal.models import Withdrawal
from tests.conftest import Browser
from tests.invitations.conftest import PASSWORD, sign_in_researcher

from .helpers import answers_of, consented, marker, participant_of, submitted, submitted_days_ago, tables_holding

NEW = "/researcher/withdrawals/new"


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Withdrawal))


def _record(researcher, participant, *, scope="answers", channel="email", received_on=None, confirm=True):
    data = {"participant": participant, "scope": scope, "channel": channel,
            "received_on": (received_on or utcnow().date()).isoformat()}
    if confirm:
        data["confirm"] = "y"
    return researcher.post(NEW, data)


@pytest.mark.parametrize("given", ["P999", "12", "Q1", "ABCD-EFG", "", "P1; DROP TABLE participant"])
def test_a_participant_that_cannot_be_found_stores_nothing(app, study, given):
    consented(Browser(app), study)  # P1 exists
    researcher = sign_in_researcher(app)
    response = _record(researcher, given)
    assert response.status_code == 400 and 'class="error-summary"' in researcher.page
    with app.app_context():
        assert _count() == 0


def test_recorded_by_pid_with_who_and_how(app, study):
    browser = Browser(app)
    role = marker("PhoneRole")
    token = submitted(browser, study, role, marker("PhoneOther"))
    researcher = sign_in_researcher(app)
    page = researcher.get(NEW + "?participant=P1").get_data(as_text=True)
    assert 'value="P1"' in page  # filled in from a link (the nominee page can link here)
    assert 'name="csrf_token"' in page and f'value="{utcnow().date().isoformat()}"' in page  # today by default
    with app.app_context():
        pid = participant_of(token).pid_label
        researcher_id = db.session.scalar(sa.select(User.id).where(User.email == "researcher@example.org"))
    response = _record(researcher, pid.lower(), channel="phone")
    assert response.status_code == 302 and response.location == "/researcher/withdrawals/"
    with app.app_context():
        withdrawal = participant_of(token).withdrawal
        assert (withdrawal.scope, withdrawal.channel, withdrawal.outcome) == ("answers", "phone", "applied")
        assert withdrawal.recorded_by_id == researcher_id
        assert tables_holding(db.engine, role) == []
    page = researcher.get("/researcher/withdrawals/").get_data(as_text=True)
    assert f"<td>{pid}</td>" in page and "Ymchwilydd Prawf" in page
    # The participant's own link now lands on the "you have withdrawn" page.
    assert browser.get("/survey/section/1").location == "/survey/withdrawn"

    # Recorded again (a second email): nothing changes.
    assert _record(researcher, pid, scope="participation").status_code == 302
    researcher.get("/researcher/withdrawals/")
    assert "had already withdrawn: nothing was changed." in researcher.page
    with app.app_context():
        assert participant_of(token).withdrawal.scope == "answers" and _count() == 1


def test_recorded_by_reference_on_the_day_received_judged_against_the_cut_off(app, study):
    """Heard on day 13 and typed in on day 16: within the window, so applied."""
    browser = Browser(app)
    role = marker("RefRole")
    token = submitted(browser, study, role, marker("RefOther"))
    with app.app_context():
        submitted_days_ago(token, 16)
        participant = participant_of(token)
        reference, submitted_on = participant.reference, participant.submitted_at.date()
    researcher = sign_in_researcher(app)
    response = _record(researcher, " " + reference.replace("-", "").lower() + " ", scope="participation",
                       received_on=submitted_on + timedelta(days=13))
    assert response.status_code == 302
    response = _record(researcher, reference, received_on=submitted_on + timedelta(days=13))
    assert response.status_code == 302
    with app.app_context():
        withdrawal = participant_of(token).withdrawal
        assert (withdrawal.channel, withdrawal.scope, withdrawal.outcome) == ("email", "answers", "applied")
        assert tables_holding(db.engine, role) == []


def test_heard_after_the_cut_off_it_waits_for_a_decision(app, study):
    browser = Browser(app)
    role = marker("LateEmail")
    token = submitted(browser, study, role, marker("LateEmailOther"))
    with app.app_context():
        submitted_days_ago(token, 20)
        pid = participant_of(token).pid_label
    researcher = sign_in_researcher(app)
    assert _record(researcher, pid).status_code == 302
    researcher.get("/researcher/withdrawals/")
    assert "it waits for a decision below." in researcher.page
    with app.app_context():
        assert participant_of(token).withdrawal.outcome == "flagged" and answers_of(token)["role"] == role


def test_a_future_date_no_confirmation_or_no_token_stores_nothing(app, study):
    token = consented(Browser(app), study)
    researcher = sign_in_researcher(app)
    with app.app_context():
        pid = participant_of(token).pid_label
    response = _record(researcher, pid, received_on=utcnow().date() + timedelta(days=2))
    assert response.status_code == 400 and "The date received cannot be in the future." in researcher.page
    response = _record(researcher, pid, confirm=False)
    assert response.status_code == 400 and "Tick the box to confirm." in researcher.page
    response = researcher.client.post(NEW, data={"participant": pid, "scope": "answers", "channel": "email",
                                                 "received_on": utcnow().date().isoformat(), "confirm": "y"})
    assert response.status_code == 400
    with app.app_context():
        assert _count() == 0 and participant_of(token).status == "consented"


def test_someone_who_refused_consent_has_nothing_to_withdraw(app, study):
    browser = Browser(app)
    token = browser.start(study)
    browser.consent(token, study, required=False)
    with app.app_context():
        assert participant_of(token).pid is None  # no P-ID: cannot be named here at all
    researcher = sign_in_researcher(app)
    assert _record(researcher, "P1").status_code == 400
    with app.app_context():
        assert _count() == 0


@pytest.mark.parametrize("role", [Role.ADMIN, Role.REVIEWER])
def test_only_researchers(app, study, role):
    with app.app_context():
        create_user(f"{role}@example.org", "Staff", PASSWORD, {role}, "en")
        db.session.commit()
    browser = Browser(app)
    assert browser.post("/login", {"email": f"{role}@example.org", "password": PASSWORD}).status_code == 302
    for url in ("/researcher/withdrawals/", NEW, "/researcher/withdrawals/1/decide"):
        assert browser.client.get(url).status_code == 403, url
    assert Browser(app).client.get("/researcher/withdrawals/").status_code == 302  # signed out: to login
