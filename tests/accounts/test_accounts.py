"""Staff accounts: argon2, rate limit, sign-out everywhere, what the cookies hold, language.

Throttling, revocable sessions and security events: test_sign_in_security.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from surveyapp.access import Role
from surveyapp.accounts import services
from surveyapp.accounts.models import User
from surveyapp.cli import main
from surveyapp.db import db

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def user(app, study):
    with app.app_context():
        created = services.create_user("Lead@Example.org ", "Rhiannon Ŵyn", PASSWORD, {Role.RESEARCHER}, "cy")
        db.session.commit()
        return created.id


def _login(client, email="lead@example.org", password=PASSWORD):
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"csrf_token": csrf, "email": email, "password": password})


def _csrf(client, path="/account"):
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def test_passwords_are_stored_as_argon2_hashes(app, user):
    with app.app_context():
        stored = db.session.get(User, user)
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert stored.email == "lead@example.org"


def test_sign_in_and_out(app, user):
    client = app.test_client()
    response = _login(client)
    assert response.status_code == 302 and response.location == "/researcher/"
    page = client.get("/researcher/").get_data(as_text=True)
    assert '<html lang="cy">' in page  # the user's own language
    response = client.post("/logout", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302
    assert client.get("/researcher/").status_code == 302


def test_wrong_password_is_refused_with_the_same_message_as_an_unknown_email(app, user):
    client = app.test_client()
    wrong = _login(client, password="not the password at all")
    unknown = _login(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 400
    assert "Nid yw'r cyfeiriad e-bost na'r cyfrinair yn gywir" in wrong.get_data(as_text=True) or \
        "The email address or password is not right." in wrong.get_data(as_text=True)
    message = re.search(r'<li><a href="#email">([^<]+)</a>', wrong.get_data(as_text=True)).group(1)
    assert message in unknown.get_data(as_text=True)


def test_login_is_rate_limited_per_address(make_app, user):
    app = make_app()
    client = app.test_client()
    # Different addresses each time, so that the backoff (test_sign_in_security.py) stays out of it.
    responses = [_login(client, email=f"guess{n}@example.org", password="guess") for n in range(21)]
    assert [r.status_code for r in responses[:20]] == [400] * 20
    assert responses[20].status_code == 429
    assert 'name="password"' not in responses[20].get_data(as_text=True)  # the limiter's page, not the form


def test_changing_the_password_signs_out_every_other_session(app, user):
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop)
    _login(phone)
    new = "a brand new passphrase 2026"
    response = laptop.post("/account", data={"csrf_token": _csrf(laptop), "current": PASSWORD,
                                            "new": new, "confirm": new})
    assert response.status_code == 302
    assert laptop.get("/researcher/").status_code == 200  # this session carries on
    assert phone.get("/researcher/").status_code == 302   # the other is signed out
    assert _login(app.test_client(), password=PASSWORD).status_code == 400
    assert _login(app.test_client(), password=new).status_code == 302


def test_session_cookie_flags_outside_development(make_app, study):
    app = make_app(ENV="production", SECRET_KEY="x" * 64, LINK_KEY="y" * 64)
    response = app.test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime == timedelta(hours=8)


def _session(app, client) -> dict:
    """What the signed session cookie holds, read as the server reads it."""
    value = client.get_cookie("session", domain="survey.test").value
    return app.session_interface.get_signing_serializer(app).loads(value)


def test_the_staff_session_cookie_holds_the_session_version_and_nothing_secret(app, user):
    client = app.test_client()
    _login(client)
    held = _session(app, client)
    with app.app_context():
        stored = db.session.get(User, user)
        expected_id, password_hash = f"{stored.id}.{stored.session_version}", stored.password_hash
    assert held["_user_id"] == expected_id  # the id carries the version that logout bumps
    assert held["locale"] == "cy"
    text = repr(held)
    for secret in (PASSWORD, password_hash, "lead@example.org", "Rhiannon"):
        assert secret not in text
    # The cookie is signed: a changed version is not accepted as the session.
    serializer = app.session_interface.get_signing_serializer(app)
    forged = serializer.dumps({**held, "_user_id": f"{stored.id}.99"})
    thief = app.test_client()
    thief.set_cookie("session", forged, domain="survey.test")
    assert thief.get("/researcher/").status_code == 302
    tampered = client.get_cookie("session", domain="survey.test").value[:-2] + "xx"
    thief.set_cookie("session", tampered, domain="survey.test")
    assert thief.get("/researcher/").status_code == 302


def test_the_participant_session_cookie_holds_no_answer(app, study, browser):
    token = browser.start(study, "cy")
    browser.consent(token, study)
    browser.get(f"/p/{token}/section/2")
    typed = "Cyfrinachol – ni ddylai fod yn y cwci"
    response = browser.client.post(f"/p/{token}/section/2/autosave", data={
        "csrf_token": browser.csrf(), "_question": "aims", "aims": typed, "_rev_aims": "0"})
    assert response.status_code == 200 and response.get_json()["status"] == "saved"
    held = _session(app, browser.client)
    assert held.get("locale") == "cy" and held.get("csrf_token")  # it is the real session, decoded
    text = repr(held)
    assert typed not in text and "Cyfrinachol" not in text


def test_language_choice_is_remembered_on_the_account(app, user):
    client = app.test_client()
    _login(client)
    response = client.get("/researcher/nominees/?lang=en")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, user).preferred_language == "en"
    other = app.test_client()
    _login(other)
    assert '<html lang="en">' in other.get("/researcher/").get_data(as_text=True)


def test_cli_creates_an_account(make_app):
    app = make_app()
    result = CliRunner().invoke(
        main, ["users", "create", "--email", "admin@example.org", "--name", "Gweinyddwr",
               "--role", "admin", "--role", "researcher", "--password-stdin"],
        input="a-long-enough-password\n", obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    with app.app_context():
        created = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
        assert created.role_set == {Role.ADMIN, Role.RESEARCHER}
    weak = CliRunner().invoke(main, ["users", "create", "--email", "b@example.org", "--name", "B",
                                     "--role", "reviewer", "--password-stdin"],
                              input="short\n", obj=ScriptInfo(create_app=lambda: app))
    assert weak.exit_code == 1 and "12 characters" in weak.output


def test_admin_manages_accounts(app, user):
    with app.app_context():
        services.create_user("admin@example.org", "Admin", PASSWORD, {Role.ADMIN}, "en")
        db.session.commit()
    client = app.test_client()
    _login(client, email="admin@example.org")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Rhiannon Ŵyn" in page
    csrf = _csrf(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": csrf, "name": "Adolygydd", "email": "reviewer@example.org", "roles": ["reviewer"],
        "language": "cy", "active": "y", "password": "another-long-password"})
    assert response.status_code == 302
    # Deactivating an account signs it out at once.
    reviewer = app.test_client()
    assert _login(reviewer, email="reviewer@example.org", password="another-long-password").status_code == 302
    with app.app_context():
        reviewer_id = db.session.scalar(sa.select(User.id).where(User.email == "reviewer@example.org"))
    response = client.post(f"/admin/users/{reviewer_id}", data={
        "csrf_token": csrf, "name": "Adolygydd", "email": "reviewer@example.org", "roles": ["reviewer"],
        "language": "cy"})
    assert response.status_code == 302
    assert reviewer.get("/account").status_code == 302
    # An admin cannot remove their own admin role.
    with app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.email == "admin@example.org"))
    response = client.post(f"/admin/users/{admin_id}", data={
        "csrf_token": csrf, "name": "Admin", "email": "admin@example.org", "roles": ["researcher"],
        "language": "en", "active": "y"})
    assert response.status_code == 400
    with app.app_context():
        assert Role.ADMIN in db.session.get(User, admin_id).role_set
