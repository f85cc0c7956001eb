"""Welsh on the audit page. Passes only once .welsh/audit.po is merged into the catalogue
(the lead runs it after merging)."""

from __future__ import annotations

import html

import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.accounts import services as accounts
from surveyapp.db import db

from .helpers import EVENTS, PASSWORD, execute, login, record_events


def _welsh_reviewer(app):
    with app.app_context():
        accounts.create_user("adolygydd@example.org", "Eira", PASSWORD, {Role.REVIEWER}, "cy")
        db.session.commit()
    client = app.test_client()
    assert login(client, "adolygydd@example.org").status_code == 302
    return client


def test_a_whole_chain_in_welsh(app):
    record_events(app, 1)
    client = _welsh_reviewer(app)
    page = html.unescape(client.get("/review/audit/").get_data(as_text=True))
    assert "Trywydd archwilio" in page
    assert "Mae'r gadwyn yn gyfan: gwiriwyd 3 digwyddiad." in page  # the export, the account, the sign-in
    assert "Allforio wedi'i wneud" in page and "Wedi mewngofnodi" in page


def test_a_broken_chain_in_welsh(app):
    record_events(app, 3)
    client = _welsh_reviewer(app)
    execute(app, sa.update(EVENTS).where(EVENTS.c.seq == 2).values(details={"rows": 99}))
    page = html.unescape(client.get("/review/audit/").get_data(as_text=True))
    assert "Mae'r gadwyn wedi torri ar ddigwyddiad 2." in page
    assert ("Nid yw digwyddiad 2 yn cyfateb i'w stwnsh (cafodd ei olygu, neu cafodd y gadwyn ei hailadeiladu "
            "heb yr allwedd).") in page
