"""Withdrawing answers after the cut-off (submission + the study's window): recorded and
flagged, nothing erased, left out of use until a researcher decides; the researcher sees it
first on the list and applies it or keeps the answers with a reason."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.audit import kinds
from surveyapp.audit.models import AuditEvent
from surveyapp.db import db
from surveyapp.studies.models import Study
from surveyapp.withdrawal.services import usable_participants
from tests.conftest import Browser
from tests.invitations.conftest import sign_in_researcher

from .helpers import (
    answers_of,
    marker,
    participant_of,
    submitted,
    submitted_days_ago,
    tables_holding,
    withdraw_from_link,
)


def _usable_ids(study) -> set[int]:
    return {p.id for p in db.session.scalars(usable_participants(db.session.get(Study, study.id)))}


def _late(app, study, days=15) -> tuple[Browser, str, str]:
    browser = Browser(app)
    role = marker("LateRole")
    token = submitted(browser, study, role, marker("LateOther"))
    with app.app_context():
        submitted_days_ago(token, days)
    return browser, token, role


def test_within_the_window_it_is_applied(app, study):
    browser, token, role = _late(app, study, days=13)
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    assert 'data-cutoff="open"' in page
    assert withdraw_from_link(browser, "answers").status_code == 302
    with app.app_context():
        assert participant_of(token).withdrawal.outcome == "applied"
        assert tables_holding(db.engine, role) == []


def test_after_the_cut_off_it_is_flagged_and_nothing_is_erased(app, study):
    browser, token, role = _late(app, study)
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    assert 'data-cutoff="past"' in page  # the page says so before they confirm
    assert withdraw_from_link(browser, "answers").status_code == 302
    page = browser.get("/survey/withdrawn").get_data(as_text=True)
    assert 'data-scope="flagged"' in page
    with app.app_context():
        participant = participant_of(token)
        withdrawal = participant.withdrawal
        assert (withdrawal.scope, withdrawal.outcome, withdrawal.erased_at) == ("answers", "flagged", None)
        assert withdrawal.cutoff_at < withdrawal.requested_at
        assert participant.status == "withdrawn"
        assert answers_of(token)["role"] == role  # nothing erased...
        assert participant.id not in _usable_ids(study)  # ...but not used until decided
        kinds_seen = list(db.session.scalars(sa.select(AuditEvent.kind).where(
            AuditEvent.participant_id == participant.id).order_by(AuditEvent.seq)))
        assert kinds_seen[-1] == kinds.CONSENT_WITHDRAWN and kinds.ANSWERS_ERASED not in kinds_seen


def test_keep_what_i_gave_after_the_cut_off_is_simply_applied(app, study):
    browser, token, role = _late(app, study)
    assert withdraw_from_link(browser, "participation").status_code == 302
    with app.app_context():
        assert participant_of(token).withdrawal.outcome == "applied"
        assert answers_of(token)["role"] == role


def test_the_researcher_sees_it_flagged_first_and_keeps_the_answers_with_a_reason(app, study):
    early = Browser(app)
    early_token = submitted(early, study, marker("Early"), marker("EarlyOther"))
    withdraw_from_link(early, "participation")
    browser, token, role = _late(app, study)
    withdraw_from_link(browser, "answers")
    with app.app_context():
        withdrawal_id = participant_of(token).withdrawal.id
        pid = participant_of(token).pid_label
        early_id = participant_of(early_token).withdrawal.id

    researcher = sign_in_researcher(app)
    page = researcher.get("/researcher/withdrawals/").get_data(as_text=True)
    assert page.index(f'data-withdrawal="{withdrawal_id}"') < page.index(f'data-withdrawal="{early_id}"')
    assert f'data-withdrawal="{withdrawal_id}" data-outcome="flagged"' in page and 'data-flagged="1"' in page
    assert role not in page  # never an answer
    decide_url = f"/researcher/withdrawals/{withdrawal_id}/decide"
    assert f'href="{decide_url}"' in page

    page = researcher.get(decide_url).get_data(as_text=True)
    assert pid in page and 'name="csrf_token"' in page and role not in page
    response = researcher.post(decide_url, {"decision": "keep", "reason": "   "})
    assert response.status_code == 400 and "Enter why the answers are kept." in researcher.page
    assert researcher.client.post(decide_url, data={"decision": "keep", "reason": "Analysis done"}).status_code == 400
    with app.app_context():
        assert participant_of(token).withdrawal.outcome == "flagged"

    response = researcher.post(decide_url, {"decision": "keep", "reason": "Analysis had been published."})
    assert response.status_code == 302
    with app.app_context():
        participant = participant_of(token)
        withdrawal = participant.withdrawal
        assert withdrawal.outcome == "declined" and withdrawal.decision_reason == "Analysis had been published."
        assert withdrawal.decided_by_id is not None and withdrawal.decided_at is not None
        assert answers_of(token)["role"] == role and participant.id in _usable_ids(study)
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.participant_id == participant.id)
                                  .order_by(AuditEvent.seq.desc()).limit(1))
        assert event.kind == kinds.WITHDRAWAL_DECIDED and event.actor_id == withdrawal.decided_by_id
        assert event.details == {"pid": participant.pid, "scope": "answers", "outcome": "declined"}
    # Decided: a second decision changes nothing.
    response = researcher.client.get(decide_url)
    assert response.status_code == 302
    with app.app_context():
        assert participant_of(token).withdrawal.outcome == "declined"
    page = browser.get("/survey/withdrawn").get_data(as_text=True)
    assert 'data-scope="declined"' in page


def test_the_researcher_applies_a_late_withdrawal_and_the_answers_are_erased(app, study):
    browser, token, role = _late(app, study)
    withdraw_from_link(browser, "answers")
    with app.app_context():
        withdrawal_id = participant_of(token).withdrawal.id
    researcher = sign_in_researcher(app)
    response = researcher.post(f"/researcher/withdrawals/{withdrawal_id}/decide", {"decision": "apply"})
    assert response.status_code == 302
    with app.app_context():
        participant = participant_of(token)
        assert participant.withdrawal.outcome == "applied" and participant.withdrawal.erased_at is not None
        assert tables_holding(db.engine, role) == [] and participant.id not in _usable_ids(study)
    assert 'data-scope="answers"' in browser.get("/survey/withdrawn").get_data(as_text=True)
