"""Sending a group at a time: a group of messages is claimed (``sending``) in one conditional
UPDATE and one commit before anything is handed over, and its outcomes are recorded in one
commit. Never twice: a fault part-way gives back what was never handed over; a kill leaves
the rest of the group ``sending`` (then ``uncertain``), never sent again by itself (the SIGKILL
acceptance test is in test_batches.py)."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.invitations import services
from surveyapp.invitations.models import Message, MessageKind
from surveyapp.studies.models import Study

from .conftest import csv_of, load_nominees

PEOPLE = [(f"Enw {i} Ŵyn", f"person{i}@example.org", ("cy", "en", "unknown")[i % 3]) for i in range(25)]


def _new_batch(app, study) -> int:
    with app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        return batch.id


def _statuses(app) -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(sa.select(Message.status)))


def test_a_group_is_claimed_in_one_commit_and_recorded_in_one(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    batch_id = _new_batch(mail_app, study)
    commits, seen_at_hand_over = [], []

    with mail_app.app_context():
        engine = db.engine

        def count(_connection):
            commits.append(1)

        def on_hand_over(message):  # the group's claim is committed before any of it is sent
            with engine.connect() as other:
                seen_at_hand_over.append(Counter(other.scalars(sa.select(Message.status))))

        sa.event.listen(engine, "commit", count)
        try:
            assert services.run_batch(batch_id, progress=on_hand_over).status == "done"
        finally:
            sa.event.remove(engine, "commit", count)
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})
    # 25 messages in groups of 10: claim + record per group (6), plus taking the batch, turning
    # any "sending" into "uncertain" and letting the batch go (3). Per message it was three.
    assert len(commits) <= 2 * 3 + 3, len(commits)
    # While the first group was being sent, all ten of it were "sending", the rest pending.
    assert seen_at_hand_over[0] == Counter({"sending": 10, "pending": 15})
    assert seen_at_hand_over[10] == Counter({"sent": 10, "sending": 10, "pending": 5})


def test_a_fault_part_way_through_a_group_gives_back_what_was_never_handed_over(mail_app, smtp, study):
    """The sender falls over after the third message of a group: the three are recorded as
    sent, the seven never handed over go back to pending, and a second run sends each of them
    exactly once."""
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    batch_id = _new_batch(mail_app, study)
    handed = []

    def fall_over(message):
        handed.append(message)
        if len(handed) == 13:
            raise RuntimeError("the sender fell over")

    with mail_app.app_context(), pytest.raises(RuntimeError):
        services.run_batch(batch_id, progress=fall_over)
    assert _statuses(mail_app) == Counter({"sent": 13, "pending": 12})
    assert len(smtp.handler.received) == 13
    with mail_app.app_context():
        assert services.run_batch(batch_id).status == "done"
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})
    assert _statuses(mail_app) == Counter({"sent": 25})


def test_a_group_size_of_one_is_the_old_message_at_a_time(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE[:4]))
    batch_id = _new_batch(mail_app, study)
    seen = []
    with mail_app.app_context():
        engine = db.engine

        def look(message):
            with engine.connect() as other:
                seen.append(Counter(other.scalars(sa.select(Message.status))))

        assert services.run_batch(batch_id, progress=look, group_size=1).status == "done"
    assert seen[0] == Counter({"sending": 1, "pending": 3})
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE[:4]})
