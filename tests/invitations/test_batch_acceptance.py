"""Acceptance: a batch over the shared nominee list (33 rows) plus a name on two lines and an
accented mailbox name (``ŵales@``), both as legacy rows straight in the database (the importer
and the form put new names on one line). The 33 arrive exactly once each; the two-line name
fails alone with its reason; the accented address is delivered when the server offers SMTPUTF8
and otherwise fails alone with its reason; running the batch and the CLI again sends nobody
anything twice, and the two that failed are not tried again until they are edited."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.invitations import services
from surveyapp.invitations.models import Batch, Message, Reason

from .conftest import (
    EXAMPLE_CSV,
    LINK_KEY,
    cli_env,
    legacy_nominee,
    load_nominees,
    run_cli,
    sign_in_researcher,
)
from .test_bad_rows import page_rows, reason_text

TWO_LINES = ("Rhiannon Prys\n(Pennaeth Diogelu)", "rhiannon.prys@example.org")
ACCENTED = ("Gwenllïan Ŵales", "ŵales@example.org")


def _example_emails() -> list[str]:
    lines = EXAMPLE_CSV.read_text("utf-8").splitlines()[1:]
    return [line.split(",")[1].strip().lower() for line in lines if line.strip()]


@pytest.mark.parametrize("smtputf8", [False, True], ids=["server-without-smtputf8", "server-with-smtputf8"])
def test_the_shared_list_plus_two_awkward_rows(make_app, smtp, smtp_utf8, study, smtputf8):
    server = smtp_utf8 if smtputf8 else smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, LINK_KEY=LINK_KEY, SMTP_TIMEOUT=10)
    load_nominees(app, study, EXAMPLE_CSV.read_bytes())
    everyone = _example_emails()
    assert len(everyone) == len(set(everyone)) == 33
    two_lines = legacy_nominee(app, study, *TWO_LINES, language="cy")
    accented = legacy_nominee(app, study, *ACCENTED, language="unknown")
    env = cli_env(app, server.port)

    first = run_cli(env, "invitations", "send", "--yes")
    delivered = everyone + ([ACCENTED[1]] if smtputf8 else [])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(invitation): 35 to send, 0 already handled" in first.stdout
    sent, failed = (34, 1) if smtputf8 else (33, 2)
    assert f"done: {sent} sent, {failed} failed, 0 uncertain, 0 still to send" in first.stdout
    assert server.handler.addresses() == Counter(dict.fromkeys(delivered, 1))

    with app.app_context():
        batch_id = db.session.scalars(sa.select(Batch.id)).one()
        statuses = dict(db.session.execute(sa.select(Message.nominee_id, Message.status)).all())
        assert statuses[two_lines] == "failed"
        assert statuses[accented] == ("sent" if smtputf8 else "failed")
        assert services.run_batch(batch_id).status == "done"  # running the batch again: a no-op

    browser = sign_in_researcher(app)
    rows = page_rows(browser, batch_id)
    assert len(rows) == 35
    failed = {text for status, text in rows.values() if status == "failed"}
    (two_line_row,) = [text for _s, text in rows.values() if TWO_LINES[1] in text]
    assert two_line_row in failed
    assert "is on more than one line in the list of nominees" in two_line_row
    if smtputf8:
        assert len(failed) == 1
        assert "35 of 35 handled: 34 sent, 1 failed." in browser.page
    else:
        (accented_row,) = [text for _s, text in rows.values() if ACCENTED[1] in text]
        assert failed == {two_line_row, accented_row}
        assert reason_text(app, Reason.NEEDS_SMTPUTF8, "en", name=ACCENTED[0], email=ACCENTED[1]) in accented_row
        assert "35 of 35 handled: 33 sent, 2 failed." in browser.page

    again = run_cli(env, "invitations", "send", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    # the failed ones are not tried again until their details are edited (the preview lists them
    # as bounced: tests/invitations/test_preview.py)
    assert "nobody to send to" in again.stdout
    assert server.handler.addresses() == Counter(dict.fromkeys(delivered, 1)), "nobody gets anything twice"
    assert len(server.handler.received) == len(delivered)
