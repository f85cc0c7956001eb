"""The chain itself: a real journey leaves a chain that verifies, events never hold answer
text, the ORM refuses to change an event, and concurrent appends never fork the chain."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.audit import chain, kinds
from surveyapp.audit.models import AuditEvent, AuditHead
from surveyapp.db import db

from .helpers import DISTINCTIVE, add_user, events, journey, login


def test_a_real_journey_and_a_sign_in_leave_a_chain_that_verifies(app, study, browser):
    journey(browser, study)
    add_user(app, "researcher@example.org", {Role.RESEARCHER})
    assert login(app.test_client(), "researcher@example.org").status_code == 302
    rows = events(app)
    assert [r["kind"] for r in rows] == [kinds.CONSENT_GIVEN, kinds.SUBMITTED, kinds.ACCOUNT_CREATED,
                                         kinds.LOGIN_SUCCEEDED]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    with app.app_context():
        result = chain.verify()
    assert result.ok and result.checked == 4 and result.head_seq == 4 and result.anchored_seq == 4
    assert result.head_hash == rows[-1]["hash"]


def test_no_event_holds_answer_text(app, study, browser):
    token = journey(browser, study, aims=DISTINCTIVE)
    with app.app_context():
        # every column of every event, as stored
        dump = json.dumps([list(r) for r in db.session.execute(sa.text("SELECT * FROM audit_event"))],
                          default=str, ensure_ascii=False)
    assert len(events(app)) >= 2
    for fragment in (DISTINCTIVE, "Quokka", "7741", "Head of Safeguarding", token):
        assert fragment not in dump


def test_the_orm_refuses_to_change_or_delete_an_event(app):
    with app.app_context():
        chain.record(kinds.EXPORT_MADE, rows=3)
        db.session.commit()
        event = db.session.scalar(sa.select(AuditEvent))
        event.details = {"rows": 4}
        with pytest.raises(RuntimeError, match="never changed or deleted"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(sa.select(AuditEvent)))
        with pytest.raises(RuntimeError, match="never changed or deleted"):
            db.session.flush()
        db.session.rollback()
        assert chain.verify().ok


def test_an_event_rolled_back_with_its_action_leaves_no_trace(app):
    with app.app_context():
        chain.record(kinds.EXPORT_MADE, rows=1)
        db.session.commit()
        chain.record(kinds.EXPORT_MADE, rows=2)
        db.session.rollback()
        chain.record(kinds.EXPORT_MADE, rows=3)
        db.session.commit()
        result = chain.verify()
    assert result.ok and result.head_seq == 2 and [r["details"]["rows"] for r in events(app)] == [1, 3]


def test_details_that_are_not_plain_values_are_refused(app):
    with app.app_context():
        with pytest.raises(TypeError):
            chain.record(kinds.EXPORT_MADE, ratio=0.5)
        with pytest.raises(TypeError):
            chain.record(kinds.EXPORT_MADE, nested={"a": {"b": 1}})
        with pytest.raises(ValueError):
            chain.record("made_up_kind")


THREADS, EACH = 4, 5


def test_concurrent_appends_never_fork_the_chain(app):
    """Each thread has its own app context (its own session and connection) and commits each
    event on its own, starting from an empty trail, so the very first head row is raced for too."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(EACH):
                    chain.record(kinds.EXPORT_MADE, thread=n, rows=i)
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    rows = events(app)
    assert [r["seq"] for r in rows] == list(range(1, THREADS * EACH + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert sorted((r["details"]["thread"], r["details"]["rows"]) for r in rows) == sorted(
        (n, i) for n in range(THREADS) for i in range(EACH))
    with app.app_context():
        assert chain.verify().ok
        assert db.session.get(AuditHead, chain.HEAD_ID).seq == THREADS * EACH
