"""Submitting twice, in the service itself: the second submit changes nothing.

The view stops a second submit before it reaches the service, so these call ``submit``
directly: once more in the same session, later in a fresh one, and from two sessions that
both loaded the response before either submitted (two tabs), one after the other and at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses import services as responses
from surveyapp.responses.models import Answer, Response

from .two_sessions import at_once, in_two_sessions, load


def _prepare(app, participant_id):
    with app.app_context():
        responses.save_answers(load(participant_id), {"aims": "Protect people", "role": "Manager"})
        db.session.commit()


def _snapshot(app, participant_id):
    """Everything a submit writes, read back in a fresh session."""
    with app.app_context():
        participant = db.session.get(Participant, participant_id)
        responses_rows = db.session.execute(
            sa.select(Response.id, Response.submitted_at, Response.updated_at)
            .where(Response.participant_id == participant_id)).all()
        answers = db.session.execute(
            sa.select(Answer.question_key, Answer.value, Answer.revision).order_by(Answer.question_key)).all()
        return {"status": participant.status, "reference": participant.reference,
                "submitted_at": participant.submitted_at, "responses": responses_rows, "answers": answers}


def test_a_second_submit_in_the_same_and_a_later_session_changes_nothing(app, consented):
    _prepare(app, consented)
    with app.app_context():
        participant = load(consented)
        responses.submit(participant)
        db.session.commit()
        first = _snapshot(app, consented)
        responses.submit(participant)  # the same session, straight after
        db.session.commit()
    assert _snapshot(app, consented) == first
    with app.app_context():
        responses.submit(load(consented))  # a later request
        db.session.commit()
    after = _snapshot(app, consented)
    assert after == first
    assert after["status"] == ParticipantStatus.SUBMITTED and after["reference"]
    assert len(after["responses"]) == 1 and after["responses"][0].submitted_at == after["submitted_at"]


def test_two_sessions_submitting_one_response_make_one_submission(app, consented):
    _prepare(app, consented)
    held = {}

    def read(side):
        def step():
            held[side] = load(consented)
            return responses.find_response(held[side]).submitted_at
        return step

    def submit(side):
        def step():
            participant = responses.submit(held[side])
            db.session.commit()
            return participant.reference, participant.submitted_at
        return step

    results = in_two_sessions(app, [("a", read("a")), ("b", read("b")),  # both see it unsubmitted
                                    ("a", submit("a")), ("b", submit("b"))])

    assert results["a"][0] is None and results["b"][0] is None
    after = _snapshot(app, consented)
    # The second tab is told what the first did; nothing of the first is replaced.
    assert results["b"][1] == results["a"][1] == (after["reference"], after["submitted_at"])
    assert len(after["responses"]) == 1 and after["responses"][0].submitted_at == after["submitted_at"]
    assert [a.revision for a in after["answers"]] == [1, 1]


def test_two_sessions_submitting_at_the_same_moment_make_one_submission(app, consented):
    _prepare(app, consented)

    def work(name, barrier):
        participant = load(consented)
        assert responses.find_response(participant).submitted_at is None
        barrier.wait()
        responses.submit(participant)
        db.session.commit()
        return participant.reference, participant.submitted_at

    results = at_once(app, work)

    after = _snapshot(app, consented)
    assert results["a"] == results["b"] == (after["reference"], after["submitted_at"])
    assert len(after["responses"]) == 1
