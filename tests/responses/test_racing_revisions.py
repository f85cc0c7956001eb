"""Two sessions that both read revision N and both save: exactly one wins.

The autosave writes with ``UPDATE answer ... WHERE revision = N``. These tests keep two
sessions (two connections, as two requests or two tabs) open side by side on the same answer,
on SQLite and on PostgreSQL (SURVEYAPP_TEST_DATABASE_URL), so dropping the revision condition
lets the second writer through and fails them.
"""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.responses import services as responses
from surveyapp.responses.models import Answer

from .two_sessions import at_once, in_two_sessions, load


def _stored(app, key="aims"):
    with app.app_context():
        return db.session.execute(sa.select(Answer.value, Answer.revision)
                                  .where(Answer.question_key == key)).one()


class Tab:
    """One side's view: the participant and their answers as its session loaded them, kept
    in memory from the read to the save, as within one request."""

    def __init__(self, participant_id):
        self.participant_id, self.participant = participant_id, None

    def read(self, key="aims"):
        self.participant = load(self.participant_id)
        answer = responses.saved_state(self.participant).get(key)
        return None if answer is None else answer.revision

    def save(self, text, base):
        result = responses.save_answers(self.participant, {"aims": text}, {"aims": base})
        db.session.commit()
        return result


def test_two_sessions_on_one_revision_cannot_both_win(app, consented):
    with app.app_context():
        responses.save_answers(load(consented), {"aims": "First draft"})
        db.session.commit()

    a, b = Tab(consented), Tab(consented)
    results = in_two_sessions(app, [
        ("a", a.read),
        ("b", b.read),  # both have revision 1 loaded in their session
        ("a", lambda: a.save("Tab A's text", 1)),
        ("b", lambda: b.save("Tab B's text", 1)),
    ])

    assert results["a"][0] == results["b"][0] == 1
    won, lost = results["a"][1], results["b"][1]
    assert won.revisions == {"aims": 2} and not won.conflicts
    assert lost.revisions == {} and set(lost.conflicts) == {"aims"}
    conflict = lost.conflicts["aims"]
    assert (conflict.value, conflict.revision) == ("Tab A's text", 2)  # what B is shown to choose from
    assert _stored(app) == ("Tab A's text", 2)


def test_two_sessions_saving_at_the_same_moment_leave_one_winner(app, consented):
    with app.app_context():
        responses.save_answers(load(consented), {"aims": "First draft"})
        db.session.commit()

    def work(name, barrier):
        participant = load(consented)
        revision = responses.saved_state(participant)["aims"].revision
        barrier.wait()  # both have read revision 1; now both write
        result = responses.save_answers(participant, {"aims": f"Tab {name}"}, {"aims": revision})
        db.session.commit()
        return result

    results = at_once(app, work)

    winners = [name for name, result in results.items() if result.revisions == {"aims": 2}]
    losers = [name for name, result in results.items() if set(result.conflicts) == {"aims"}]
    assert len(winners) == 1 and len(losers) == 1, results
    assert _stored(app) == (f"Tab {winners[0]}", 2)
    assert results[losers[0]].conflicts["aims"].value == f"Tab {winners[0]}"


def test_two_sessions_writing_the_first_answer_cannot_both_win(app, consented):
    """Revision 0 (no answer yet): the row's unique key plays the revision's part."""
    with app.app_context():
        responses.save_answers(load(consented), {"role": "Manager"})  # the response exists
        db.session.commit()

    a, b = Tab(consented), Tab(consented)
    results = in_two_sessions(app, [
        ("a", a.read),
        ("b", b.read),  # neither session has an answer row
        ("a", lambda: a.save("Tab A's text", 0)),
        ("b", lambda: b.save("Tab B's text", 0)),
    ])

    assert results["a"][0] is None and results["b"][0] is None
    assert results["a"][1].revisions == {"aims": 1}
    assert set(results["b"][1].conflicts) == {"aims"}
    assert _stored(app) == ("Tab A's text", 1)
