"""Batches started from the web only queue a task; a worker sends. And the CLI's progress."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from surveyapp.cli import main
from surveyapp.db import db
from surveyapp.invitations.models import Batch, Message
from surveyapp.tasks import get_huey

from .conftest import LINK_KEY, confirm_send, csv_of, load_nominees, open_preview, sign_in_researcher

PEOPLE = (
    ("Aled Wyn", "aled@example.org", "en"),
    ("Siân Ŵyn", "sian@example.org", "cy"),
    ("Gwenllïan Dŵr", "gwenllian@example.org", "unknown"),
)


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_web_send_only_queues_and_the_worker_sends(make_app, smtp, study, tmp_path, queue):
    url = (
        f"sqlite:///{tmp_path / 'queue.sqlite3'}"
        if queue == "sqlite"
        else "redis://127.0.0.1:6379/15"
    )
    app = make_app(
        SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, LINK_KEY=LINK_KEY, TASK_QUEUE_URL=url
    )
    huey = get_huey(app)
    assert type(huey).__name__ == ("SqliteHuey" if queue == "sqlite" else "RedisHuey")
    huey.flush()
    try:
        load_nominees(app, study, csv_of(*PEOPLE))
        browser = sign_in_researcher(app)
        assert browser.get("/researcher/invitations/").status_code == 200
        assert "Check and send the invitation to 3 nominees" in browser.page
        response = confirm_send(browser)
        assert response.status_code == 302
        with app.app_context():
            batch = db.session.scalars(sa.select(Batch)).one()
            batch_id = batch.id
            assert batch.status == "queued"
            assert Counter(db.session.scalars(sa.select(Message.status))) == Counter({"pending": 3})
        assert response.location.endswith(f"/researcher/invitations/batches/{batch_id}")
        assert smtp.handler.received == [], "the request must not send"
        assert huey.pending_count() == 1

        browser.get(response.location)
        assert "3 messages queued." in browser.page
        progress = browser.client.get(
            f"/researcher/invitations/batches/{batch_id}/progress"
        ).get_json()
        assert (progress["status"], progress["done"], progress["total"]) == ("queued", 0, 3)

        # The worker's part: take the task off the queue and run it.
        task = huey.dequeue()
        assert task is not None and task.name == "send_batch" and task.args == (batch_id,)
        assert huey.dequeue() is None
        huey.execute(task)

        assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})
        with app.app_context():
            assert db.session.get(Batch, batch_id).status == "done"
            assert Counter(db.session.scalars(sa.select(Message.status))) == Counter({"sent": 3})
        progress = browser.client.get(
            f"/researcher/invitations/batches/{batch_id}/progress"
        ).get_json()
        assert (progress["status"], progress["done"], progress["total"]) == ("done", 3, 3)
        assert progress["counts"]["sent"] == 3

        # Asking again: nobody left to invite, no Send button, nothing queued.
        assert ("confirm", "new") not in open_preview(browser)
        assert "data-nobody" in browser.page
        assert huey.pending_count() == 0
    finally:
        huey.flush()
        if queue == "redis":
            huey.storage.conn.connection_pool.disconnect()


def test_cli_send_shows_progress_and_a_summary(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    runner = CliRunner()
    result = runner.invoke(
        main, ["invitations", "send", "--yes"], obj=ScriptInfo(create_app=lambda: mail_app)
    )
    assert result.exit_code == 0, result.output
    assert "(invitation): 3 to send, 0 already handled" in result.output
    assert "sending" in result.output  # the progress bar's label
    assert "done: 3 sent, 0 failed, 0 uncertain, 0 still to send" in result.output
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})

    again = runner.invoke(
        main, ["invitations", "send", "--yes"], obj=ScriptInfo(create_app=lambda: mail_app)
    )
    assert again.exit_code == 0, again.output
    assert "nobody to send to" in again.output
    assert len(smtp.handler.received) == 3


def test_cli_send_with_the_mail_server_down_fails_and_resumes(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    smtp.stop()
    runner = CliRunner()
    result = runner.invoke(
        main, ["invitations", "send", "--yes"], obj=ScriptInfo(create_app=lambda: mail_app)
    )
    assert result.exit_code == 1, result.output
    assert "interrupted: 0 sent, 0 failed, 0 uncertain, 3 still to send" in result.output
    assert "stopped: Mail server unavailable" in result.stderr

    smtp.start()
    result = runner.invoke(
        main, ["invitations", "send", "--yes"], obj=ScriptInfo(create_app=lambda: mail_app)
    )
    assert result.exit_code == 0, result.output
    assert "3 to send, 0 already handled" in result.output
    assert "done: 3 sent, 0 failed, 0 uncertain, 0 still to send" in result.output
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 1


def test_a_web_batch_interrupted_by_the_mail_server_can_be_resumed_from_the_web(
    make_app, smtp, study, tmp_path
):
    app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        LINK_KEY=LINK_KEY,
        TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
    )
    huey = get_huey(app)
    load_nominees(app, study, csv_of(*PEOPLE))
    browser = sign_in_researcher(app)

    assert confirm_send(browser).status_code == 302
    smtp.stop()
    huey.execute(huey.dequeue())
    with app.app_context():
        assert db.session.scalars(sa.select(Batch.status)).all() == ["interrupted"]
    smtp.start()

    # The preview offers the rest of the stopped batch, with its own confirmation.
    assert confirm_send(browser, which="resume").status_code == 302
    task = huey.dequeue()
    assert task is not None, "pressing Send again queued nothing: the pending nominees are stuck"
    huey.execute(task)
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})
