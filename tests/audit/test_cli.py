"""``surveyapp audit verify`` and ``head``: whole chains pass; every kind of change made
directly in the database fails, naming the event."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyapp.audit import cli as audit_cli
from surveyapp.cli import main

from .helpers import EVENTS, HEAD, events, execute, hmac_with, rebuild, record_events, renumber_from, sha256


def verify(app, *args):
    return app.test_cli_runner().invoke(main, ["audit", "verify", *args])


@pytest.fixture
def ten(app):
    """Ten committed events (each commit appends its head to the anchor file)."""
    for _ in range(10):
        record_events(app, 1)
    return app


def test_a_whole_chain_verifies_and_prints_its_head(ten):
    result = verify(ten)
    assert result.exit_code == 0, result.output + result.stderr
    last = events(ten)[-1]
    assert "events checked: 10" in result.output
    assert f"head: event 10 {last['hash']}" in result.output
    assert "records heads up to event 10" in result.output
    assert "OK: the chain is whole." in result.output
    head = ten.test_cli_runner().invoke(main, ["audit", "head"])
    assert head.exit_code == 0 and head.output.strip() == f"10 {last['hash']}"


def test_an_empty_trail_verifies(app):
    assert verify(app).exit_code == 0
    assert app.test_cli_runner().invoke(main, ["audit", "head"]).output.strip() == "no events yet"


def _broken(app, seq: int, *args) -> str:
    result = verify(app, *args)
    assert result.exit_code == 1, result.output + result.stderr
    assert f"BROKEN at event {seq} " in result.stderr or f"BROKEN at event {seq}:" in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("change", [
    {"details": {"rows": 999, "filters": {"la": "GWN"}}},
    {"kind": "pack_generated"},
    {"actor_id": 12},
    {"participant_id": 3},
])
def test_editing_a_field_of_a_past_event_is_named(ten, change):
    execute(ten, sa.update(EVENTS).where(EVENTS.c.seq == 4).values(**change))
    assert "Event 4 does not match its hash" in _broken(ten, 4)


def test_editing_an_events_time_is_named(ten):
    when = events(ten)[3]["occurred_at"] + timedelta(seconds=1)
    execute(ten, sa.update(EVENTS).where(EVENTS.c.seq == 4).values(occurred_at=when))
    stderr = _broken(ten, 4)
    assert "export_made" in stderr and "does not match its hash" in stderr


def test_deleting_a_middle_event_is_named(ten):
    execute(ten, sa.delete(EVENTS).where(EVENTS.c.seq == 5))
    assert "Event 5 is missing (deleted)" in _broken(ten, 6)


def test_deleting_events_and_closing_the_gap_is_named(ten):
    execute(ten, sa.delete(EVENTS).where(EVENTS.c.seq.in_([5, 6])), *renumber_from(7, -2),
            sa.update(HEAD).values(seq=8))
    assert "Event 5 does not follow the event before it" in _broken(ten, 5)


def test_inserting_a_forged_event_is_named(ten):
    rows = events(ten)
    forged = {**{k: v for k, v in rows[5].items() if k != "id"}, "details": {"rows": 0}, "prev_hash": rows[4]["hash"],
              "hash": sha256(b"forged")}
    execute(ten, *renumber_from(6, 1), sa.insert(EVENTS).values(**forged), sa.update(HEAD).values(seq=11))
    assert "Event 6 does not match its hash" in _broken(ten, 6)


def test_swapping_two_events_is_named(ten):
    execute(ten, sa.update(EVENTS).where(EVENTS.c.seq == 3).values(seq=-3),
            sa.update(EVENTS).where(EVENTS.c.seq == 7).values(seq=3),
            sa.update(EVENTS).where(EVENTS.c.seq == -3).values(seq=7))
    assert "Event 3 does not follow the event before it" in _broken(ten, 3)


def test_cutting_events_off_the_end_is_caught_by_the_anchor(ten):
    kept = events(ten)[7]
    execute(ten, sa.delete(EVENTS).where(EVENTS.c.seq > 8), sa.update(HEAD).values(seq=8, hash=kept["hash"]))
    stderr = _broken(ten, 10)
    assert "The anchor file records event 10 but the chain ends at event 8" in stderr
    # Without the file nothing shows: that is what the anchor is for.
    assert verify(ten, "--no-anchor").exit_code == 0


def test_cutting_the_end_without_moving_the_head_is_named(ten):
    execute(ten, sa.delete(EVENTS).where(EVENTS.c.seq > 8))
    stderr = _broken(ten, 8, "--no-anchor")
    assert "its head records event 10" in stderr


def test_deleting_every_event_is_caught(ten):
    execute(ten, sa.delete(EVENTS))
    assert "The anchor file records event 10 but the chain ends at event 0" in _broken(ten, 10)
    assert "its head records event 10" in _broken(ten, 0, "--no-anchor")


@pytest.mark.parametrize("sign", [sha256, hmac_with("a-different-key-of-at-least-32-bytes!!")],
                         ids=["plain-sha256", "hmac-other-key"])
def test_a_chain_rebuilt_without_the_key_is_named_at_its_first_event(ten, sign):
    execute(ten, sa.update(EVENTS).where(EVENTS.c.seq == 2).values(details={"rows": 0}))
    rebuild(ten, sign)
    assert "Event 1 does not match its hash" in _broken(ten, 1, "--no-anchor")


def test_a_chain_rebuilt_with_the_key_is_still_caught_by_the_anchor(ten):
    """Even the key's holder cannot quietly rewrite what the anchor file has seen."""
    execute(ten, sa.update(EVENTS).where(EVENTS.c.seq == 2).values(details={"rows": 0}))
    rebuild(ten, hmac_with(ten.config["AUDIT_KEY"]))
    assert verify(ten, "--no-anchor").exit_code == 0
    assert "Event 2 is not the event the anchor file recorded" in _broken(ten, 2)


def test_another_anchor_file_can_be_named(ten, tmp_path):
    other = tmp_path / "copy.log"
    other.write_text("10 " + "f" * 64 + " 2026-12-01T00:00:00+00:00\n")
    assert "Event 10 is not the event the anchor file recorded" in _broken(ten, 10, "--anchor", str(other))
    result = verify(ten, "--anchor", str(tmp_path / "absent.log"))
    assert result.exit_code == 1 and "no anchor file at" in result.stderr


def test_a_long_chain_shows_a_progress_bar(ten, monkeypatch):
    monkeypatch.setattr(audit_cli, "PROGRESS_OVER", 5)
    result = verify(ten)
    assert result.exit_code == 0 and "checking events" in result.stderr
