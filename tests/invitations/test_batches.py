"""Batches against a real SMTP server: refusals recorded with the server's words, a send killed
half-way and run again, a mail server that goes away, and two runners on one batch."""

from __future__ import annotations

import html
import re
import subprocess
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.invitations import services
from surveyapp.invitations.models import Batch, Message, MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.studies.models import Study

from .conftest import (
    CLI,
    EXAMPLE_CSV,
    cli_env,
    csv_of,
    load_nominees,
    messages_by_email,
    run_cli,
    sign_in_researcher,
)

ROW_RE = re.compile(r'<tr data-message="(\d+)" data-status="(\w+)">(.*?)</tr>', re.S)


def _example_emails() -> list[str]:
    lines = EXAMPLE_CSV.read_text("utf-8").splitlines()[1:]
    return [line.split(",")[1].strip().lower() for line in lines if line.strip()]


def _statuses(app) -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(sa.select(Message.status)))


def test_refused_recipients_are_failed_with_the_servers_reply_never_sent(mail_app, smtp, study):
    people = [
        ("Aled Wyn", "aled@example.org", "en"),
        ("Bethan Ŵyn", "bethan@example.org", "cy"),
        ("Carys Môn", "carys@example.org", "unknown"),
        ("Dafydd Llŷr", "dafydd@example.org", "cy"),
        ("Elin Tŷ", "elin@example.org", "en"),
    ]
    load_nominees(mail_app, study, csv_of(*people))
    refused = {
        "bethan@example.org": (
            "550 5.1.1 <bethan@example.org>: Recipient address rejected: mailbox unavailable"
        ),
        "dafydd@example.org": "553 5.7.1 <dafydd@example.org>: Relay access denied for this domain",
    }
    smtp.handler.refuse.update(refused)
    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch = services.run_batch(batch.id)
        batch_id = batch.id
        assert batch.status == "done" and batch.finished_at is not None

    # The server got only the three it accepted.
    assert smtp.handler.addresses() == Counter(
        {"aled@example.org": 1, "carys@example.org": 1, "elin@example.org": 1}
    )
    with mail_app.app_context():
        rows = {
            email: (status, reply, sent_at)
            for email, status, reply, sent_at in db.session.execute(
                sa.select(Nominee.email, Message.status, Message.smtp_reply, Message.sent_at)
                .join(Message, Message.nominee_id == Nominee.id)
                .where(Message.batch_id == batch_id)
            )
        }
    for address, reply in refused.items():
        assert rows[address] == ("failed", reply, None)
    for address in ("aled@example.org", "carys@example.org", "elin@example.org"):
        status, reply, sent_at = rows[address]
        assert status == "sent" and sent_at is not None
        assert reply == "250 2.0.0 Message accepted for delivery"

    browser = sign_in_researcher(mail_app)
    response = browser.get(f"/researcher/invitations/batches/{batch_id}")
    assert response.status_code == 200
    page = browser.page
    rows_html = ROW_RE.findall(page)
    assert len(rows_html) == 5
    for _id, status, cells in rows_html:
        text = html.unescape(re.sub(r"<[^>]+>", " ", cells))
        address = next(a for _n, a, _l in people if a in text)
        if address in refused:
            assert status == "failed"
            assert refused[address] in text, text  # the server's exact words, shown
            assert "Failed" in text and "Sent" not in text
            assert "Send again" in text  # a researcher can act on it
        else:
            assert status == "sent" and "Sent" in text and "Failed" not in text
    assert "5 of 5 handled: 3 sent, 2 failed." in page
    progress = browser.client.get(f"/researcher/invitations/batches/{batch_id}/progress").get_json()
    assert progress["status"] == "done"
    assert (progress["done"], progress["total"]) == (5, 5)
    assert (progress["counts"]["sent"], progress["counts"]["failed"]) == (3, 2)


def test_killed_half_way_then_run_again_sends_everyone_exactly_once(mail_app, smtp, study):
    """The acceptance test: SIGKILL the CLI while the 12th message is in the server's hands."""
    load_nominees(mail_app, study, EXAMPLE_CSV.read_bytes())
    everyone = _example_emails()
    assert len(everyone) == len(set(everyone)) == 33
    env = cli_env(mail_app, smtp.port)
    smtp.handler.block_on = 12

    proc = subprocess.Popen(
        [CLI, "invitations", "send", "--yes"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not smtp.handler.blocked.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=5) if proc.poll() is not None else ("", "")
                raise AssertionError(
                    f"the sender never reached message 12 (rc={proc.returncode}):\n{out}\n{err}"
                )
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        smtp.handler.release.set()

    # Messages are claimed ten at a time (SEND_GROUP) and recorded ten at a time: the kill came
    # in the second group, with message 11 handed over and 12 in the server's hands.
    assert services.SEND_GROUP == 10
    assert len(smtp.handler.received) == 12
    assert _statuses(mail_app) == Counter({"sent": 10, "sending": 10, "pending": 13})

    second = run_cli(env, "invitations", "send", "--yes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "13 to send" in second.stdout
    # The whole interrupted group is uncertain, never sent again by itself: two of them did go
    # (11 and 12), eight did not, and nothing tells them apart.
    assert "done: 23 sent, 0 failed, 10 uncertain, 0 still to send" in second.stdout

    counts = smtp.handler.addresses()
    assert set(counts.values()) == {1}, {a: n for a, n in counts.items() if n != 1}
    assert len(smtp.handler.received) == 25
    assert _statuses(mail_app) == Counter({"sent": 23, "uncertain": 10})
    by_email = messages_by_email(mail_app)
    uncertain = {address for address, [(_k, status, _r, _l)] in by_email.items() if status == "uncertain"}
    assert uncertain == set(everyone[10:20])  # the group in hand when it was killed, in file order
    assert all("interrupted" in by_email[a][0][2] for a in uncertain)
    assert set(counts) == set(everyone) - set(everyone[12:20]), "everyone else received exactly one"
    with mail_app.app_context():
        assert db.session.scalars(sa.select(Batch.status)).all() == ["done"]

    third = run_cli(env, "invitations", "send", "--yes")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "nobody to send to" in third.stdout
    assert len(smtp.handler.received) == 25
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 1


def test_mail_server_stopping_half_way_then_returning(mail_app, smtp, study):
    people = [
        (f"Enw {i} Ŵ", f"person{i}@example.org", ("cy", "en", "unknown")[i % 3]) for i in range(8)
    ]
    load_nominees(mail_app, study, csv_of(*people))
    handed = []

    def stop_after_four(message):  # called after each outcome is committed
        handed.append(message.id)
        if len(handed) == 4:
            smtp.stop()

    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch_id = batch.id
        batch = services.run_batch(batch_id, progress=stop_after_four)
        assert batch.status == "interrupted"
        assert batch.note  # the reason is kept for the batch page
    assert len(smtp.handler.received) == 4
    # Stopped between two messages: the next one never got past MAIL FROM, so it is not in
    # doubt (uncertain is only for a connection lost inside DATA, tested below).
    assert _statuses(mail_app) == Counter({"sent": 4, "pending": 4})

    smtp.start()  # the same port again
    with mail_app.app_context():
        batch = services.run_batch(batch_id)
        assert batch.status == "done"
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in people})
    assert _statuses(mail_app) == Counter({"sent": 8})


def test_a_connection_dropped_inside_data_is_uncertain_and_never_sent_again(mail_app, smtp, study):
    """The server has the whole message and hangs up before answering: it may have gone. The
    message ends uncertain and neither running the batch again nor the CLI sends it again."""
    people = [(f"Enw {i} Ŵ", f"person{i}@example.org", ("cy", "en")[i % 2]) for i in range(4)]
    load_nominees(mail_app, study, csv_of(*people))
    smtp.handler.drop_on = 2
    with mail_app.app_context():
        batch_id = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION).id
        db.session.commit()
        batch = services.run_batch(batch_id)
        assert batch.status == "interrupted" and "Connection lost" in batch.note
    (dropped,) = smtp.handler.dropped
    in_doubt = dropped.rcpt_tos[0]
    assert in_doubt == people[1][1]
    assert _statuses(mail_app) == Counter({"sent": 1, "uncertain": 1, "pending": 2})
    ((_kind, status, reply, _lang),) = messages_by_email(mail_app)[in_doubt]
    assert status == "uncertain" and reply.startswith("app:connection_lost")

    with mail_app.app_context():
        assert services.run_batch(batch_id).status == "done"
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in people if p[1] != in_doubt})
    second = run_cli(cli_env(mail_app, smtp.port), "invitations", "send", "--yes")
    assert second.returncode == 0 and "nobody to send to" in second.stdout, second.stdout + second.stderr
    assert smtp.handler.for_address(in_doubt) == [] and len(smtp.handler.dropped) == 1
    assert _statuses(mail_app) == Counter({"sent": 3, "uncertain": 1})
    browser = sign_in_researcher(mail_app)
    browser.get(f"/researcher/invitations/batches/{batch_id}")
    assert 'data-reason="connection_lost"' in browser.page and "it may have been delivered" in browser.page


def test_a_message_the_server_never_got_is_sent_when_it_returns(mail_app, smtp, study):
    people = [(f"Enw {i} Ŵ", f"person{i}@example.org", "cy") for i in range(4)]
    load_nominees(mail_app, study, csv_of(*people))

    def stop_after_two(message):
        if len(smtp.handler.received) == 2 and smtp.controller is not None:
            smtp.stop()  # between two messages: nothing is in the server's hands

    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch_id = batch.id
        assert services.run_batch(batch_id, progress=stop_after_two).status == "interrupted"
    smtp.start()
    with mail_app.app_context():
        assert services.run_batch(batch_id).status == "done"
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in people}), messages_by_email(
        mail_app
    )


def test_mail_server_down_from_the_start_leaves_everything_pending(mail_app, smtp, study):
    load_nominees(
        mail_app,
        study,
        csv_of(("Aled Wyn", "aled@example.org", "en"), ("Siân Ŵyn", "sian@example.org", "cy")),
    )
    smtp.stop()
    with mail_app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch_id = batch.id
        batch = services.run_batch(batch_id)
        assert batch.status == "interrupted"
        assert "unavailable" in batch.note.lower()
    assert _statuses(mail_app) == Counter({"pending": 2})
    smtp.start()
    with mail_app.app_context():
        assert services.run_batch(batch_id).status == "done"
    assert smtp.handler.addresses() == Counter({"aled@example.org": 1, "sian@example.org": 1})
    assert _statuses(mail_app) == Counter({"sent": 2})


def test_a_second_runner_on_the_same_batch_sends_nobody_a_second_copy(mail_app, smtp, study):
    """A batch queued from the web and picked up by the worker while someone also runs
    `surveyapp invitations send` (which resumes any unfinished batch): two runners at once."""
    people = [
        ("Aled Wyn", "aled@example.org", "en"),
        ("Bethan Ŵyn", "bethan@example.org", "cy"),
        ("Carys Môn", "carys@example.org", "unknown"),
    ]
    load_nominees(mail_app, study, csv_of(*people))
    with mail_app.app_context():
        batch_id = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION).id
        db.session.commit()
    smtp.handler.block_on = 1  # the first runner's first message stays in the server's hands
    errors = []

    def first_runner():
        try:
            with mail_app.app_context():
                services.run_batch(batch_id)
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=first_runner)
    thread.start()
    try:
        assert smtp.handler.blocked.wait(30)
        with mail_app.app_context(), pytest.raises(services.BatchBusy):
            services.run_batch(batch_id)  # a second sender, while the first is mid-send: refused
    finally:
        smtp.handler.release.set()
        thread.join(30)
    assert not thread.is_alive() and not errors, errors
    counts = smtp.handler.addresses()
    assert sorted(counts) == sorted(p[1] for p in people)
    assert set(counts.values()) == {1}, f"second copies sent: {dict(counts)}"
