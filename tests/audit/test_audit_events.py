"""The events the accounts and invitations write: sign-ins that work and fail, accounts made
and changed, batches queued; never a password, never the address typed at sign-in."""

from __future__ import annotations

import json

from surveyapp import security
from surveyapp.access import Role
from surveyapp.audit import chain, kinds
from surveyapp.db import db

from .helpers import CSRF, PASSWORD, add_user, events, login

ADMIN, RESEARCHER = "admin@example.org", "researcher@example.org"


def of_kind(app, kind):
    return [e for e in events(app) if e["kind"] == kind]


def test_a_successful_sign_in_leaves_an_event(app):
    user_id = add_user(app, RESEARCHER, {Role.RESEARCHER})
    assert login(app.test_client(), RESEARCHER).status_code == 302
    [event] = of_kind(app, kinds.LOGIN_SUCCEEDED)
    assert event["actor_id"] == user_id and event["details"] == {"known_browser": False}


def test_a_failed_sign_in_is_committed_with_the_user_it_named(app):
    user_id = add_user(app, RESEARCHER, {Role.RESEARCHER})
    assert login(app.test_client(), RESEARCHER, "not the password at all").status_code == 400
    [event] = of_kind(app, kinds.LOGIN_FAILED)  # committed: read from a new session
    assert event["actor_id"] is None
    assert event["details"] == {"user_id": user_id, "known_browser": False, "slowed": False}
    assert of_kind(app, kinds.LOGIN_SUCCEEDED) == []
    with app.app_context():
        assert chain.verify().ok


def test_a_failed_sign_in_for_an_unknown_address_holds_only_its_hash(app):
    typed = "Nobody.Here@Example.org"
    assert login(app.test_client(), typed, "some guess or other").status_code == 400
    [event] = of_kind(app, kinds.LOGIN_FAILED)
    with app.app_context():
        expected = security.hash_identifier(typed)
    assert event["details"] == {"email_hash": expected, "known_browser": False, "slowed": False}
    assert "nobody" not in json.dumps(event, default=str).lower()


def _admin_client(app):
    add_user(app, ADMIN, {Role.ADMIN}, name="Admin Person")
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


def _post_user(client, path, **fields):
    csrf = CSRF.search(client.get(path).get_data(as_text=True)).group(1)
    data = {"csrf_token": csrf, "name": "Rhys Reviewer", "email": "rhys@example.org", "language": "en",
            "active": "y", "roles": ["reviewer"], "password": "", **fields}
    return client.post(path, data=data)


def test_an_admin_creating_and_changing_an_account_leaves_events_without_the_password(app):
    client = _admin_client(app)
    new_password = "a brand new password 42"
    assert _post_user(client, "/admin/users/new", password=new_password).status_code == 302
    with app.app_context():
        from surveyapp.accounts.services import find_by_email
        admin_id, rhys_id = find_by_email(ADMIN).id, find_by_email("rhys@example.org").id
    created = of_kind(app, kinds.ACCOUNT_CREATED)[-1]
    assert created["actor_id"] == admin_id
    assert created["details"] == {"user_id": rhys_id, "roles": ["reviewer"], "active": True}

    response = _post_user(client, f"/admin/users/{rhys_id}", roles=["reviewer", "researcher"])
    assert response.status_code == 302
    [changed] = of_kind(app, kinds.ACCOUNT_CHANGED)
    assert changed["actor_id"] == admin_id
    assert changed["details"] == {"user_id": rhys_id, "changed": ["roles"], "roles": ["researcher", "reviewer"],
                                  "active": True}

    other_password = "another new password 43"
    response = _post_user(client, f"/admin/users/{rhys_id}", roles=["researcher"], name="Rhys R",
                          password=other_password)
    assert response.status_code == 302
    latest = of_kind(app, kinds.ACCOUNT_CHANGED)[-1]
    assert latest["details"]["changed"] == ["name", "roles", "password"]
    assert latest["details"]["roles"] == ["researcher"]

    assert _post_user(client, f"/admin/users/{rhys_id}", roles=["researcher"], name="Rhys R",
                      active="").status_code == 302
    assert of_kind(app, kinds.ACCOUNT_CHANGED)[-1]["details"]["changed"] == ["active"]

    dump = json.dumps(events(app), default=str)
    assert new_password not in dump and other_password not in dump and PASSWORD not in dump
    with app.app_context():
        assert chain.verify().ok


def test_saving_an_account_unchanged_leaves_no_event(app):
    client = _admin_client(app)
    assert _post_user(client, "/admin/users/new", password="a brand new password 42").status_code == 302
    with app.app_context():
        from surveyapp.accounts.services import find_by_email
        rhys_id = find_by_email("rhys@example.org").id
    assert _post_user(client, f"/admin/users/{rhys_id}").status_code == 302
    assert of_kind(app, kinds.ACCOUNT_CHANGED) == []


def test_a_batch_queued_leaves_an_event_with_its_size_and_who(app, study):
    from surveyapp.invitations import services as invitations
    from surveyapp.invitations.models import MessageKind
    from surveyapp.studies.models import Study
    from tests.invitations.conftest import EXAMPLE_CSV, load_nominees

    user_id = add_user(app, RESEARCHER, {Role.RESEARCHER})
    load_nominees(app, study, EXAMPLE_CSV.read_bytes())
    with app.app_context():
        batch = invitations.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION,
                                         created_by_id=user_id)
        db.session.commit()
        batch_id, size = batch.id, len(batch.messages)
    [event] = of_kind(app, kinds.BATCH_SENT)
    assert size > 0
    assert event["actor_id"] == user_id
    assert event["details"] == {"batch_id": batch_id, "batch_kind": "invitation", "messages": size}


def test_changing_ones_own_password_leaves_an_event_without_it(app):
    user_id = add_user(app, RESEARCHER, {Role.RESEARCHER})
    client = app.test_client()
    assert login(client, RESEARCHER).status_code == 302
    csrf = CSRF.search(client.get("/account").get_data(as_text=True)).group(1)
    new = "a brand new passphrase 2026"
    response = client.post("/account", data={"csrf_token": csrf, "current": PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 302
    [event] = of_kind(app, kinds.ACCOUNT_CHANGED)
    assert event["actor_id"] == user_id
    assert event["details"] == {"user_id": user_id, "changed": ["password"], "roles": ["researcher"]}
    assert new not in json.dumps(event, default=str) and PASSWORD not in json.dumps(event, default=str)
    with app.app_context():
        assert chain.verify().ok
