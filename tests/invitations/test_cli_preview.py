"""The command line shows whom a batch would email, by language, and whom it skips and why, and
sends nothing unless the operator says yes (or passes --yes)."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from surveyapp.cli import main
from surveyapp.db import db
from surveyapp.invitations.models import Batch
from surveyapp.nominees.models import Nominee

from .conftest import csv_of, load_nominees

PEOPLE = [("Siân Llŷr", "sian@example.org", "cy"), ("Aled Wyn", "aled@example.org", "en"),
          ("Gwenllïan Dŵr", "gwen@example.org", "unknown"), ("Mair Pŵel", "mair@example.org", "en")]


def send(app, answer: str | None, *extra: str):
    return CliRunner().invoke(main, ["invitations", "send", *extra], input=answer,
                              obj=ScriptInfo(create_app=lambda: app))


def batches(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Batch))


def test_the_cli_previews_and_sends_nothing_when_told_no(mail_app, smtp, study):
    load_nominees(mail_app, study, csv_of(*PEOPLE))
    with mail_app.app_context():
        mair = db.session.scalar(sa.select(Nominee).where(Nominee.email == "mair@example.org"))
        mair.declined_at = mair.created_at
        db.session.commit()

    refused = send(mail_app, "n\n")
    assert refused.exit_code == 1, refused.output  # click's Abort
    assert "3 to send: 1 cy, 1 en, 1 bilingual" in refused.output
    assert "skipped, declined to take part, or withdrew: 1" in refused.output
    assert "Send 3 invitation(s)? [y/N]" in refused.output
    assert batches(mail_app) == 0 and not smtp.handler.addresses()

    agreed = send(mail_app, "y\n")
    assert agreed.exit_code == 0, agreed.output
    assert smtp.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE[:3]})

    nothing = send(mail_app, None)
    assert nothing.exit_code == 0 and "nobody to send to" in nothing.output
    assert batches(mail_app) == 1
