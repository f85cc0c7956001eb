"""Shared steps for the audit-trail tests: a real journey, staff accounts, and tampering done
directly in the database (Core statements on the tables, past the ORM's refusal)."""

from __future__ import annotations

import hashlib
import hmac
import re

import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.accounts import services as accounts
from surveyapp.audit import chain
from surveyapp.audit.models import AuditEvent, AuditHead
from surveyapp.db import db

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DISTINCTIVE = "Quokka-zebra 7741 answer that must never reach the audit trail"
EVENTS = AuditEvent.__table__
HEAD = AuditHead.__table__


def add_user(app, email: str, roles: set[Role], name: str = "Staff Member") -> int:
    with app.app_context():
        user = accounts.create_user(email, name, PASSWORD, roles, "en")
        db.session.commit()
        return user.id


def login(client, email: str, password: str = PASSWORD):
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "email": email, "password": password})
    response.close()
    return response


def journey(browser, study, aims: str = DISTINCTIVE) -> str:
    """Consent, answer (with ``aims`` as free text) and submit, as a participant would."""
    token = browser.start(study, "en")
    assert browser.consent(token, study, optional=False).status_code == 302
    browser.post("/survey/section/1", {"role": "Head of Safeguarding", "la_code": "GWN",
                                       "service_area": "children", "action": "next"})
    browser.post("/survey/section/2", {"aims": aims, "action": "next"})
    browser.post("/survey/section/3", {"front_door_model": ["IAA"], "referrals_children_per_year": "42",
                                       "team_size_fte": "5", "action": "next"})
    browser.get("/survey/review")
    response = browser.post("/survey/review", {}, fetch=False)
    assert response.status_code == 302 and response.location.endswith("/done"), response.location
    return token


def events(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(sa.select(EVENTS).order_by(EVENTS.c.seq)).mappings().all()
        return [dict(r) for r in rows]


def record_events(app, n: int, kind: str = "export_made") -> None:
    with app.app_context():
        for i in range(n):
            chain.record(kind, rows=i, filters={"la": "GWN"})
        db.session.commit()


def execute(app, *statements) -> None:
    """Run Core statements in one transaction of their own, as someone with database access."""
    with app.app_context(), db.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def renumber_from(seq: int, by: int) -> list:
    """Statements that add ``by`` to every seq >= ``seq`` (through negatives: a unique column)."""
    return [sa.update(EVENTS).where(EVENTS.c.seq >= seq).values(seq=-EVENTS.c.seq),
            sa.update(EVENTS).where(EVENTS.c.seq < 0).values(seq=-EVENTS.c.seq + by)]


def rebuild(app, sign) -> None:
    """Recompute every hash and link consistently with ``sign(content) -> hex``, and the head:
    what someone with only database access would do to hide an edit."""
    rows = events(app)
    prev = chain.GENESIS
    statements = []
    for row in rows:
        content = chain.canonical(row["seq"], row["occurred_at"], row["kind"], row["actor_id"],
                                  row["participant_id"], row["details"], prev)
        new = sign(content)
        statements.append(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(prev_hash=prev, hash=new))
        prev = new
    statements.append(sa.update(HEAD).values(hash=prev))
    execute(app, *statements)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def hmac_with(key: str):
    return lambda content: hmac.new(key.encode(), content, hashlib.sha256).hexdigest()
