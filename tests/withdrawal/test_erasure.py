"""Withdrawing from the participant's own link, through the real app and database: "withdraw my
answers" leaves no answer text anywhere in the database, keeping the minimal record; "keep what
I gave" keeps the answers; the audit trail says what happened without any answer text."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.audit import kinds
from surveyapp.audit.chain import verify
from surveyapp.audit.models import AuditEvent
from surveyapp.consent.models import ConsentRecord
from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.responses.models import Response
from surveyapp.studies.models import Study
from surveyapp.withdrawal.services import usable_participants

from .helpers import (
    answers_of,
    consented,
    marker,
    participant_of,
    submitted,
    tables_holding,
    text_columns,
    withdraw_from_link,
)


def _events(participant_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.participant_id == participant_id)
                                   .order_by(AuditEvent.seq)))


def test_the_scan_reads_every_text_column_it_should(app, study):
    with app.app_context():
        columns = set(text_columns(db.engine))
    assert {("answer", "value"), ("nominee", "name"), ("audit_event", "details"), ("withdrawal", "scope"),
            ("consent_record", "content_hash")} <= columns


def test_withdraw_my_answers_leaves_no_answer_text_anywhere(browser, study, app):
    role, other = marker("RoleText"), marker("OtherText")
    token = submitted(browser, study, role, other)
    with app.app_context():
        # The scan finds them before (so its silence afterwards means something).
        assert ("answer", "value") in tables_holding(db.engine, role)
        assert ("answer", "value") in tables_holding(db.engine, other)
        pid = participant_of(token).pid

    assert browser.get("/survey/withdraw").status_code == 200
    response = withdraw_from_link(browser, "answers")
    assert response.status_code == 302 and response.location == "/survey/withdrawn"
    page = browser.get("/survey/withdrawn").get_data(as_text=True)
    assert 'data-scope="answers"' in page

    with app.app_context():
        assert tables_holding(db.engine, role) == []
        assert tables_holding(db.engine, other) == []
        participant = participant_of(token)
        assert answers_of(token) == {}
        # The minimal record: P-ID, consent record, withdrawal time and scope.
        assert participant.pid == pid and participant.status == "withdrawn"
        record = db.session.scalar(sa.select(ConsentRecord).where(ConsentRecord.participant_id == participant.id))
        assert record is not None and record.given
        withdrawal = participant.withdrawal
        assert (withdrawal.scope, withdrawal.channel, withdrawal.outcome) == ("answers", "link", "applied")
        assert withdrawal.requested_at is not None and withdrawal.erased_at is not None
        assert withdrawal.recorded_by_id is None
        # The response row (no text) is kept: which survey, when submitted.
        assert db.session.scalar(sa.select(Response.submitted_at).where(Response.participant_id == participant.id))
        # The trail: withdrawn, then erased (a count, never the text); the chain still verifies.
        events = _events(participant.id)
        withdrawn, erased = events[-2], events[-1]
        assert withdrawn.kind == kinds.CONSENT_WITHDRAWN
        assert withdrawn.details == {"pid": pid, "scope": "answers", "channel": "link", "outcome": "applied",
                                          "widened": False, "requested_on": withdrawal.requested_at.date().isoformat()}
        assert erased.kind == kinds.ANSWERS_ERASED and erased.details == {"pid": pid, "answers": 4}
        assert verify().ok
        # From now on, in no export, summary or pack.
        study_row = db.session.get(Study, study.id)
        assert participant.id not in {p.id for p in db.session.scalars(usable_participants(study_row))}


def test_keep_what_i_gave_keeps_the_answers_and_stops_everything_else(browser, study, app):
    role, other = marker("KeptRole"), marker("KeptOther")
    token = submitted(browser, study, role, other)
    response = withdraw_from_link(browser, "participation")
    assert response.status_code == 302 and response.location == "/survey/withdrawn"
    page = browser.get("/survey/withdrawn").get_data(as_text=True)
    assert 'data-scope="participation"' in page and 'href="/survey/withdraw"' in page  # can widen later
    with app.app_context():
        assert answers_of(token)["role"] == role
        assert ("answer", "value") in tables_holding(db.engine, other)
        participant = participant_of(token)
        assert participant.status == "withdrawn"
        assert (participant.withdrawal.scope, participant.withdrawal.outcome) == ("participation", "applied")
        assert participant.withdrawal.erased_at is None
        study_row = db.session.get(Study, study.id)
        assert participant.id in {p.id for p in db.session.scalars(usable_participants(study_row))}
        assert [e.kind for e in _events(participant.id)][-1] == kinds.CONSENT_WITHDRAWN

    # Widening later: participation, then answers. One row, now erased.
    response = withdraw_from_link(browser, "answers")
    assert response.status_code == 302
    with app.app_context():
        assert tables_holding(db.engine, role) == [] and tables_holding(db.engine, other) == []
        participant = participant_of(token)
        assert (participant.withdrawal.scope, participant.withdrawal.outcome) == ("answers", "applied")
        assert _events(participant.id)[-2].details["widened"] is True
    # And once the answers are withdrawn, the page has nothing more to offer.
    assert browser.get("/survey/withdraw").location == "/survey/withdrawn"


def test_withdrawing_before_submitting_erases_what_was_saved(browser, study, app):
    token = consented(browser, study)
    role = marker("Unsubmitted")
    browser.post("/survey/section/1", {"role": role, "la_code": "GWN", "service_area": "children"})
    with app.app_context():
        assert answers_of(token)["role"] == role
    assert withdraw_from_link(browser, "answers").status_code == 302
    with app.app_context():
        assert tables_holding(db.engine, role) == []
        participant = participant_of(token)
        assert participant.withdrawal.outcome == "applied" and participant.withdrawal.cutoff_at is None


def test_the_confirmation_is_needed_and_the_form_carries_csrf(browser, study, app):
    token = consented(browser, study)
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="confirm"' in page and 'name="scope"' in page
    response = withdraw_from_link(browser, "answers", confirm=False)
    assert response.status_code == 400 and 'class="error-summary"' in browser.page
    assert "Tick the box to confirm that you want to withdraw." in browser.page
    response = browser.post("/survey/withdraw", {"confirm": "y"})  # no scope chosen
    assert response.status_code == 400 and "Choose what you would like to withdraw." in browser.page
    browser.get("/survey/withdraw")
    response = browser.client.post("/survey/withdraw", data={"scope": "answers", "confirm": "y",
                                                             "_participant": browser.bound()})  # no CSRF token
    assert response.status_code == 400
    with app.app_context():
        participant = participant_of(token)
        assert participant.status == "consented" and participant.withdrawal is None


def test_someone_who_has_not_consented_is_sent_to_decline(browser, study, app):
    browser.start(study)
    response = browser.client.get("/survey/withdraw")
    assert response.status_code == 302 and response.location == "/survey/decline"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)
                                 .where(Participant.status == "withdrawn")) == 0


def test_on_sqlite_the_erased_text_is_not_left_in_the_file(browser, study, app):
    """``PRAGMA secure_delete``: the deleted rows' bytes are overwritten, not left in free space
    (on PostgreSQL VACUUM reclaims them; see surveyapp/withdrawal/erasure.py). Debian's SQLite
    has it on by default; erasure turns it on for builds that do not."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            import pytest

            pytest.skip("a file-level check for SQLite")
        path = db.engine.url.database
    role, other = marker("FileRole"), marker("FileOther")
    submitted(browser, study, role, other)

    def in_file() -> bool:
        with app.app_context(), db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(path, "rb") as fh:
            return role.encode() in fh.read()

    assert in_file()
    assert withdraw_from_link(browser, "answers").status_code == 302
    assert not in_file()
