"""Sign-in that cannot be abused (issue 8, item 9).

Sessions end on the server: a cookie copied before sign-out, a password change or a role
taken away is refused when replayed. A real account and an unknown address get the same answer
after the same work in every phase. Failures slow down the guesser (per account and address,
per account, per address) instead of locking the account, a browser the owner signed in with
before is not held up by guessing from elsewhere, and the owner is told once by email.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles

from surveyapp import security
from surveyapp.access import Role
from surveyapp.accounts import services
from surveyapp.accounts.models import LoginThrottle, User
from surveyapp.db import db, utcnow
from surveyapp.i18n import in_locale

PASSWORD = "correct horse battery staple"
OWNER = "lead@example.org"
NOBODY = "nobody.here@example.org"
ATTACKER = "203.0.113.9"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ERROR = re.compile(r'<li><a href="#email">([^<]+)</a>')
TOO_MANY = "Too many wrong attempts. You can try again after %(time)s."
SUBJECT = "Wrong passwords have been typed for your account"


def add_user(app, email=OWNER, roles=frozenset({Role.RESEARCHER}), language="cy", name="Rhiannon Ŵyn") -> int:
    with app.app_context():
        user = services.create_user(email, name, PASSWORD, set(roles), language)
        db.session.commit()
        return user.id


def client_from(app, address="127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def login(client, email=OWNER, password=PASSWORD, **kw):
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "email": email, "password": password}, **kw)
    response.close()  # as a server does once the response has gone (runs call_on_close)
    return response


def csrf_of(client, path="/account"):
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def session_cookie(client) -> str:
    return client.get_cookie("session", domain="survey.test").value


def replay(app, cookie: str):
    """A new browser that holds only a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie, domain="survey.test")
    return thief


def message_of(response) -> str:
    """The error shown, with any clock time taken out (two attempts a second apart differ)."""
    return re.sub(r"\d\d:\d\d:\d\d", "<time>", ERROR.search(response.get_data(as_text=True)).group(1))


def too_many_in(app, locale: str) -> str:
    with app.test_request_context():
        return in_locale(TOO_MANY, locale) % {"time": "<time>"}


def keys_for(app, email: str, address: str) -> dict[str, str]:
    with app.test_request_context():
        account, addr = security.hash_identifier(email), security.hash_identifier(address)
    return {"pair": f"p:{account}:{addr}", "account": f"a:{account}", "address": f"r:{addr}"}


def throttle_row(app, key: str) -> LoginThrottle | None:
    with app.app_context():
        row = db.session.scalar(sa.select(LoginThrottle).where(LoginThrottle.key == key))
        if row is not None:
            db.session.expunge(row)
        return row


def let_wait_pass(app) -> None:
    """Stand in for waiting: every wait that is running ends now (the counts stay)."""
    with app.app_context():
        db.session.execute(sa.update(LoginThrottle).where(LoginThrottle.blocked_until.is_not(None))
                           .values(blocked_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()


@pytest.fixture
def quiet_app(make_app, study):
    """Flask-Limiter's per-minute cap off, so that the backoff itself is what is seen."""
    return make_app(RATELIMIT_ENABLED=False)


@pytest.fixture
def long_first_wait(monkeypatch):
    """Each first wait a minute instead of a second, so that a slow machine does not outlast it
    between two requests. The numbers of free attempts stay as shipped."""
    for name in ("PAIR", "ACCOUNT", "ADDRESS"):
        policy = getattr(services, name)
        monkeypatch.setattr(services, name, services.Backoff(policy.after, timedelta(minutes=1), timedelta(days=1)))


def test_the_shipped_waits():
    assert [services.PAIR.wait(n) for n in range(4, 8)] == [None] + [timedelta(seconds=s) for s in (1, 2, 4)]
    assert services.PAIR.wait(5 + 40) == timedelta(minutes=15)  # the waits stop growing
    assert services.ACCOUNT.after > services.PAIR.after and services.ACCOUNT.longest <= timedelta(minutes=1)


# -- sessions that end on the server ------------------------------------------------------------

def test_a_session_cookie_copied_before_signing_out_is_refused_after(app, study):
    add_user(app)
    client = client_from(app)
    assert login(client).status_code == 302
    copied = session_cookie(client)
    assert replay(app, copied).get("/researcher/").status_code == 200  # the copy works while signed in

    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 302
    response = replay(app, copied).get("/researcher/")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    # Signing in again works, with a new session.
    assert login(client_from(app)).status_code == 302


def test_a_session_cookie_copied_before_a_password_change_is_refused_after(app, study):
    add_user(app)
    laptop = client_from(app)
    login(laptop)
    copied = session_cookie(laptop)
    new = "a brand new passphrase 2026"
    response = laptop.post("/account", data={"csrf_token": csrf_of(laptop), "current": PASSWORD,
                                             "new": new, "confirm": new})
    assert response.status_code == 302
    assert laptop.get("/researcher/").status_code == 200  # the session that changed it carries on
    response = replay(app, copied).get("/researcher/")
    assert response.status_code == 302 and urlsplit(response.location).path == "/login"


def test_taking_a_role_away_ends_that_users_sessions_at_once(app, study):
    user_id = add_user(app, roles={Role.RESEARCHER, Role.REVIEWER})
    add_user(app, "admin@example.org", {Role.ADMIN}, "en", "Admin")
    member = client_from(app)
    login(member)
    copied = session_cookie(member)
    assert member.get("/researcher/").status_code == 200

    admin = client_from(app)
    login(admin, "admin@example.org")
    response = admin.post(f"/admin/users/{user_id}", data={
        "csrf_token": csrf_of(admin, f"/admin/users/{user_id}"), "name": "Rhiannon Ŵyn", "email": OWNER,
        "roles": ["reviewer"], "language": "cy", "active": "y"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).role_set == {Role.REVIEWER}

    for browser in (member, replay(app, copied)):
        response = browser.get("/researcher/")
        assert response.status_code == 302 and urlsplit(response.location).path == "/login"
    # Signed in again, the remaining role's pages open and the removed one's refuse.
    again = client_from(app)
    login(again)
    assert again.get("/account").status_code == 200
    assert again.get("/researcher/").status_code == 403


def test_an_admin_who_changes_their_own_roles_stays_signed_in(app, study):
    admin_id = add_user(app, "admin@example.org", {Role.ADMIN, Role.RESEARCHER}, "en", "Admin")
    admin = client_from(app)
    login(admin, "admin@example.org")
    response = admin.post(f"/admin/users/{admin_id}", data={
        "csrf_token": csrf_of(admin, f"/admin/users/{admin_id}"), "name": "Admin",
        "email": "admin@example.org", "roles": ["admin"], "language": "en", "active": "y"})
    assert response.status_code == 302
    assert admin.get("/admin/users").status_code == 200
    assert admin.get("/researcher/").status_code == 200  # administrators see progress too
    assert admin.get("/researcher/nominees/").status_code == 403  # but a researcher's pages no longer


def test_a_replayed_session_is_logged_without_the_cookie(app, study, caplog):
    user_id = add_user(app)
    client = client_from(app)
    login(client)
    copied = session_cookie(client)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    with caplog.at_level(logging.WARNING, logger="surveyapp.security"):
        replay(app, copied).get("/researcher/", headers={"X-Request-ID": "replay-1"})
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "surveyapp.security"]
    assert {"event": "session_revoked", "user_id": user_id, "reason": "ended_session_presented",
            "request_id": "replay-1"}.items() <= events[-1].items()
    assert copied not in caplog.text


# -- the same answer for a real account and an unknown address -----------------------------------

class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting how many hashes it verifies; called, it is itself (it
    stands in for ``services._hasher``, which gives the hasher for the app's settings)."""

    verified = 0

    def verify(self, hash, password):  # noqa: A002 (argon2's own parameter name)
        type(self).verified += 1
        return super().verify(hash, password)

    def __call__(self):
        return self


COUNTING = CountingHasher.from_parameters(profiles.CHEAPEST)


def test_real_and_unknown_addresses_get_the_same_answer_after_the_same_work(quiet_app, monkeypatch,
                                                                            long_first_wait):
    app = quiet_app
    add_user(app)
    monkeypatch.setattr(services, "_hasher", COUNTING.__call__)
    real, unknown = client_from(app), client_from(app)
    answers = []
    for attempt in range(1, 9):
        before = CountingHasher.verified
        a = login(real, OWNER, f"wrong guess number {attempt}")
        between = CountingHasher.verified
        b = login(unknown, NOBODY, f"wrong guess number {attempt}")
        # One argon2 verification each, whether the account exists, is slowed or not.
        assert (between - before, CountingHasher.verified - between) == (1, 1), attempt
        assert (a.status_code, message_of(a)) == (b.status_code, message_of(b)), attempt
        answers.append((a.status_code, message_of(a)))
    wrong = (400, answers[0][1])
    assert answers[:4] == [wrong] * 4
    assert answers[4] == (400, too_many_in(app, "en"))  # the fifth failure starts the wait
    assert answers[5:] == [(429, too_many_in(app, "en"))] * 3  # then attempts are not checked
    assert answers[0][1] != answers[4][1]


def test_a_turned_off_account_answers_like_an_unknown_address(quiet_app, monkeypatch):
    app = quiet_app
    user_id = add_user(app)
    with app.app_context():
        services.set_active(db.session.get(User, user_id), False)
        db.session.commit()
    monkeypatch.setattr(services, "_hasher", COUNTING.__call__)
    before = CountingHasher.verified
    off = login(client_from(app), OWNER, PASSWORD)  # even with the right password
    unknown = login(client_from(app), NOBODY, PASSWORD)
    assert CountingHasher.verified - before == 2
    assert (off.status_code, message_of(off)) == (unknown.status_code, message_of(unknown))


# -- slowed down, never locked out --------------------------------------------------------------

def test_failures_from_one_address_wait_longer_each_time(quiet_app, long_first_wait):
    app = quiet_app
    add_user(app)
    attacker = client_from(app, ATTACKER)
    keys = keys_for(app, OWNER, ATTACKER)
    for _ in range(4):
        assert login(attacker, password="guess").status_code == 400
    assert throttle_row(app, keys["pair"]).blocked_until is None
    for doubling in range(4):
        assert login(attacker, password="guess").status_code == 400
        row = throttle_row(app, keys["pair"])
        assert row.blocked_until - row.last_failure_at == timedelta(minutes=2**doubling)
        # While it waits, even the right password from that address is not checked.
        assert login(attacker).status_code == 429
        let_wait_pass(app)
    # Neither the email address nor the client address is stored, only keyed hashes.
    with app.app_context():
        stored = " ".join(db.session.scalars(sa.select(LoginThrottle.key)))
    assert OWNER not in stored and ATTACKER not in stored


def test_the_owner_signs_in_from_another_address_while_a_guesser_is_slowed(quiet_app, long_first_wait):
    app = quiet_app
    add_user(app)
    attacker = client_from(app, ATTACKER)
    for _ in range(6):
        login(attacker, password="guess")
    assert login(attacker).status_code == 429
    assert login(client_from(app, "198.51.100.7")).status_code == 302  # the owner, elsewhere


def test_guessing_from_many_addresses_meets_the_account_ceiling_but_not_the_owners_browser(quiet_app,
                                                                                         long_first_wait):
    app = quiet_app
    add_user(app)
    owners_browser = client_from(app, "198.51.100.7")
    assert login(owners_browser).status_code == 302  # signed in before: this browser is known
    owners_browser.post("/logout", data={"csrf_token": csrf_of(owners_browser)})

    for n in range(services.ACCOUNT.after):
        address = f"203.0.113.{n // 4 + 1}"  # four guesses each, under the per-address wait
        assert login(client_from(app, address), password=f"guess {n}").status_code == 400
    # The account now waits, for everyone who has not signed in to it before ...
    assert login(client_from(app, "192.0.2.200")).status_code == 429
    # ... but the owner's own browser is not held up (it answers for its own failures only).
    assert login(owners_browser).status_code == 302


def test_one_address_trying_many_accounts_is_slowed(quiet_app, long_first_wait):
    app = quiet_app
    add_user(app)
    sprayer = client_from(app, ATTACKER)
    for n in range(services.ADDRESS.after):
        assert login(sprayer, f"person{n}@example.org", "Password123!").status_code == 400
    assert login(sprayer).status_code == 429  # even a real account, with its password
    assert login(client_from(app, "198.51.100.7")).status_code == 302


def test_signing_in_clears_the_count_for_that_account_and_address(quiet_app):
    app = quiet_app
    add_user(app)
    client = client_from(app, ATTACKER)
    for _ in range(4):
        login(client, password="typo")
    assert login(client).status_code == 302
    keys = keys_for(app, OWNER, ATTACKER)
    assert throttle_row(app, keys["pair"]) is None and throttle_row(app, keys["account"]) is None


# -- the owner is told, once, in their language ---------------------------------------------------

@pytest.fixture
def mail_app(make_app, study, smtp):
    return make_app(RATELIMIT_ENABLED=False, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)


@pytest.mark.parametrize("language", ["cy", "en"])
def test_the_owner_is_emailed_once_when_attempts_start_to_wait(mail_app, smtp, language, long_first_wait):
    app = mail_app
    add_user(app, language=language)
    attacker = client_from(app, ATTACKER)
    for _ in range(4):
        login(attacker, password="guess")
    assert smtp.handler.received == []
    login(attacker, password="Tr0ub4dor&3")  # the fifth: waiting starts
    [received] = smtp.handler.for_address(OWNER)
    message = received.message
    assert message["Content-Language"] == language
    with app.test_request_context():
        assert message["Subject"] == in_locale(SUBJECT, language)
    assert "Rhiannon Ŵyn" in received.body and OWNER in received.body
    assert "Tr0ub4dor" not in received.body

    # More failures in the same window (from here and elsewhere) send nothing more.
    for address in (ATTACKER, "198.51.100.20"):
        let_wait_pass(app)
        for _ in range(6):
            login(client_from(app, address), password="guess")
    assert len(smtp.handler.received) == 1


def test_nobody_is_emailed_about_an_unknown_address(mail_app, smtp):
    app = mail_app
    add_user(app)
    attacker = client_from(app, ATTACKER)
    for _ in range(6):
        login(attacker, NOBODY, "guess")
    assert smtp.handler.received == []


# -- security events -----------------------------------------------------------------------------

def events(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "surveyapp.security"]


def test_failures_and_waits_are_logged_with_the_request_id_and_never_the_password(quiet_app, caplog,
                                                                                   long_first_wait):
    app = quiet_app
    user_id = add_user(app)
    client = client_from(app, ATTACKER)
    secret = "my-secret-guess-Ŵ"
    with caplog.at_level(logging.WARNING, logger="surveyapp.security"):
        for n in range(5):
            login(client, password=secret, headers={"X-Request-ID": f"req-{n}"})
        login(client, NOBODY, secret, headers={"X-Request-ID": "req-unknown"})
        login(client, password=secret, headers={"X-Request-ID": "req-wait"})
    logged = events(caplog)
    failures = [e for e in logged if e["event"] == "login_failure"]
    assert [e["request_id"] for e in failures] == ["req-0", "req-1", "req-2", "req-3", "req-4", "req-unknown"]
    assert all(e["user_id"] == user_id for e in failures[:5])
    with app.test_request_context():
        assert failures[5]["email_hash"] == security.hash_identifier(NOBODY)
    throttled = [e for e in logged if e["event"] == "login_throttled"]
    assert [e["request_id"] for e in throttled] == ["req-4", "req-wait"]
    assert all(e["remote_addr"] == ATTACKER and e["path"] == "/login" for e in logged)
    assert secret not in caplog.text and NOBODY not in caplog.text and PASSWORD not in caplog.text


def test_a_refused_role_is_logged(app, study, caplog):
    user_id = add_user(app, "reviewer@example.org", {Role.REVIEWER}, "en", "Reviewer")
    client = client_from(app)
    login(client, "reviewer@example.org")
    with caplog.at_level(logging.WARNING, logger="surveyapp.security"):
        assert client.get("/researcher/", headers={"X-Request-ID": "deny-1"}).status_code == 403
    [event] = [e for e in events(caplog) if e["event"] == "authorisation_failure"]
    assert {"user_id": user_id, "endpoint": "dashboard.index", "required": ["admin", "researcher"],
            "request_id": "deny-1", "path": "/researcher/"}.items() <= event.items()


def test_only_the_test_suite_hashes_cheaply(app):
    """Passwords are hashed with argon2's standard parameters (64 MiB, 3 passes) everywhere but
    under ENV=testing, where argon2-cffi's profile for tests keeps thousands of sign-ins quick; a
    cheap hash is made again with the standard parameters at the next sign-in elsewhere."""
    from argon2 import PasswordHasher

    with app.app_context():
        assert services.password_hasher().memory_cost == profiles.CHEAPEST.memory_cost
        cheap = services.password_hasher().hash(PASSWORD)
    app.config["ENV"] = "production"
    with app.app_context():
        standard = services.password_hasher()
        assert (standard.memory_cost, standard.time_cost) == (PasswordHasher().memory_cost, PasswordHasher().time_cost)
        assert standard.memory_cost == 65536 and standard.check_needs_rehash(cheap)
    assert services.password_hasher() is standard  # outside any app: the standard parameters
