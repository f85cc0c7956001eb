"""Two database sessions that really run side by side, as two requests (or two tabs) do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant


def load(participant_id: int) -> Participant:
    return db.session.scalar(sa.select(Participant).where(Participant.id == participant_id))


def in_two_sessions(app, steps: list[tuple[str, Callable[[], Any]]], *, timeout: float = 30) -> dict[str, list]:
    """Run ``steps`` in order, each in the session of its side ("a" or "b"). Each side is a
    thread with its own app context, so its own SQLAlchemy session and database connection,
    kept open (and its loaded rows kept in memory) for the whole run, as two requests are.
    Returns each side's results in order; an exception in a step is raised here."""
    results: dict[str, list] = {"a": [], "b": []}
    turn = [0]
    done = threading.Condition()
    failure: list[BaseException] = []

    def side(name: str):
        with app.app_context():
            try:
                for index, (who, step) in enumerate(steps):
                    with done:
                        if not done.wait_for(lambda i=index: turn[0] >= i or failure, timeout):
                            raise TimeoutError(f"step {index} never came")
                    if failure:
                        return
                    if who == name:
                        try:
                            results[name].append(step())
                        finally:
                            with done:
                                turn[0] += 1
                                done.notify_all()
            except BaseException as exc:  # report it in the test, never as a thread warning
                with done:
                    failure.append(exc)
                    done.notify_all()
            finally:
                db.session.rollback()

    threads = [threading.Thread(target=side, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if failure:
        raise failure[0]
    assert turn[0] == len(steps), "the two sessions did not finish"
    return results


def at_once(app, work: Callable[[str], Any], *, timeout: float = 30) -> dict[str, Any]:
    """Run ``work("a", barrier)`` and ``work("b", barrier)`` in two threads, each with its own
    session; each calls ``barrier.wait()`` just before the write, so both go at once: a real
    race, whichever wins."""
    barrier = threading.Barrier(2, timeout=timeout)
    results: dict[str, Any] = {}
    failure: list[BaseException] = []

    def side(name: str):
        with app.app_context():
            try:
                results[name] = work(name, barrier)
            except BaseException as exc:
                failure.append(exc)
                barrier.abort()
            finally:
                db.session.rollback()

    threads = [threading.Thread(target=side, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if failure:
        raise failure[0]
    return results
