"""Every URL rule of the app against one access table, for five kinds of visitor.

A new route fails this test until it is added to ACCESS: nobody can add a page without
saying who may open it. Denials must be a login redirect, a 403 or (for a secret link that
is not theirs) a 404: never a 500, never the page itself.
"""

from __future__ import annotations

import re

import pytest
from flask import url_for

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.db import db
from surveyapp.invitations.models import Batch, Message, MessageStatus
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.services import import_nominees
from surveyapp.participant.services import derive_token
from surveyapp.studies.models import Study

IDENTITIES = ("anonymous", "participant", "researcher", "reviewer", "admin")
PASSWORD = "a-long-password-for-tests"
NOMINEE_EMAIL = "leak.check@example.org"

ALLOW, LOGIN, FORBID, MISSING = "allow", "login", "forbid", "missing"
PUBLIC = dict.fromkeys(IDENTITIES, ALLOW)
LINK = {**dict.fromkeys(IDENTITIES, MISSING), "participant": ALLOW}  # others hold a wrong link
SIGNED_IN = {"anonymous": LOGIN, "participant": LOGIN, "researcher": ALLOW, "reviewer": ALLOW, "admin": ALLOW}
RESEARCHER = {"anonymous": LOGIN, "participant": LOGIN, "researcher": ALLOW, "reviewer": FORBID, "admin": FORBID}
ADMIN = {"anonymous": LOGIN, "participant": LOGIN, "researcher": FORBID, "reviewer": FORBID, "admin": ALLOW}

ACCESS = {
    "static": PUBLIC,
    "participant.home": PUBLIC,
    "participant.open_link": PUBLIC,
    "participant.resume": LINK,
    "participant.information": LINK,
    "participant.consent": LINK,
    "participant.decline": LINK,
    "participant.declined": LINK,
    "participant.section": LINK,
    "participant.autosave": LINK,
    "participant.saved": LINK,
    "participant.email_link": LINK,
    "participant.review": LINK,
    "participant.done": LINK,
    "accounts.login": PUBLIC,
    "accounts.logout": SIGNED_IN,
    "accounts.account": SIGNED_IN,
    "accounts.users": ADMIN,
    "accounts.new_user": ADMIN,
    "accounts.edit_user": ADMIN,
    "dashboard.index": RESEARCHER,
    "nominees.index": RESEARCHER,
    "nominees.upload": RESEARCHER,
    "nominees.import_valid_rows": RESEARCHER,
    "nominees.new": RESEARCHER,
    "nominees.edit": RESEARCHER,
    "invitations.index": RESEARCHER,
    "invitations.send": RESEARCHER,
    "invitations.batch": RESEARCHER,
    "invitations.progress": RESEARCHER,
    "invitations.resend": RESEARCHER,
}
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def world(make_app, study):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        study_row = db.session.get(Study, study.id)
        users = {role: create_user(f"{role}@example.org", role.title(), PASSWORD, {Role(role)}, "en")
                 for role in ("researcher", "reviewer", "admin")}
        csv = ("name,email,la_code,service_area,agency,role,preferred_language\n"
               f"Leak Check,{NOMINEE_EMAIL},GWN,children,local_authority,Lead,cy\n").encode()
        [nominee] = import_nominees(study_row, parse_nominees("n.csv", csv).rows, app.config["LINK_KEY"])
        batch = Batch(study_id=study_row.id, kind="invitation", status="done",
                      messages=[Message(nominee_id=nominee.id, kind="invitation",
                                        status=MessageStatus.FAILED.value, smtp_reply="550 no")])
        db.session.add(batch)
        db.session.commit()
        values = {
            "slug": study_row.slug, "number": 1, "user_id": users["admin"].id, "nominee_id": nominee.id,
            "batch_id": batch.id, "message_id": batch.messages[0].id, "kind": "invitation",
            "filename": "css/app.css",
        }
        token = derive_token(app.config["LINK_KEY"], nominee.link_nonce)
    return app, values, token


def _client(app, identity):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = CSRF.search(page).group(1)
    if identity in ("researcher", "reviewer", "admin"):
        response = client.post("/login", data={"csrf_token": csrf, "email": f"{identity}@example.org",
                                               "password": PASSWORD})
        assert response.status_code == 302, identity
        page = client.get("/account").get_data(as_text=True)
        csrf = CSRF.search(page).group(1)
    return client, csrf


def _outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/login?next="):
        return LOGIN
    if response.status_code == 403:
        return FORBID
    if response.status_code == 404:
        return MISSING
    assert response.status_code < 500, response.status_code
    assert response.status_code != 401
    return ALLOW


def test_every_route_is_in_the_access_table(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(ACCESS)


def test_every_route_declares_its_audience_in_code(app):
    for endpoint, view in app.view_functions.items():
        assert hasattr(view, "access"), endpoint


@pytest.mark.parametrize("identity", IDENTITIES)
def test_access_table(world, identity):
    app, values, token = world
    checked = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        args = {name: values[name] for name in rule.arguments if name != "token"}
        if "token" in rule.arguments:
            args["token"] = token if identity == "participant" else "not-the-right-link-" + "x" * 30
        with app.test_request_context():
            path = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client, csrf = _client(app, identity)
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={"csrf_token": csrf})
            response.close()
            outcome = _outcome(response)
            expected = ACCESS[rule.endpoint][identity]
            assert outcome == expected, f"{identity} {method} {path}: {outcome}, expected {expected}"
            if outcome != ALLOW:
                assert NOMINEE_EMAIL not in response.get_data(as_text=True)
            checked += 1
    assert checked >= len(ACCESS)
