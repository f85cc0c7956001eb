"""Every payload into every text field of every staff form, in English and Welsh: sign-in,
one's own account, the admin's accounts, the researcher's nominees. Each case is refused with a
message or stored cleaned, never a 500; nothing is reflected live; the database is read back."""

from __future__ import annotations

import pytest

from .kit import ATTACKER, FEW, LANGUAGES, PASSWORD, PAYLOADS, email_with, one_line, row

pytestmark = pytest.mark.parametrize("language", LANGUAGES)
payloads = pytest.mark.parametrize("payload", PAYLOADS, ids=[p.id for p in PAYLOADS])
few = pytest.mark.parametrize("payload", FEW, ids=[p.id for p in FEW])

NOMINEE = {"la_code": "GWN", "service_area": "children", "agency": "local_authority", "role": "Lead",
           "preferred_language": "en"}


def _value(payload, field: str, uid: int) -> str:
    return email_with(payload, uid) if field == "email" else payload.value


def _expected(payload, field: str, uid: int) -> str:
    value = one_line(_value(payload, field, uid))
    return value.lower() if field == "email" else value


@pytest.mark.parametrize(("field", "payload"), [("email", p) for p in PAYLOADS] + [("password", p) for p in FEW],
                         ids=[f"email-{p.id}" for p in PAYLOADS] + [f"password-{p.id}" for p in FEW])
def test_sign_in(world, language, payload, field):
    visitor = world.visitor(language, address=ATTACKER)
    data = {"email": f"victim.{language}@example.org", "password": "not-the-password"}
    data[field] = payload.value
    before = world.audit.counts()
    response = visitor.submit("/login", data)
    world.check(visitor.client, response, language, allowed={400, 429})
    # A failed sign-in that reached the password check is an audit event (its address hashed).
    world.settle(before, free=("login_throttle", "audit_event"))


@few
@pytest.mark.parametrize("form", ["language", "password"])
def test_own_account(world, language, payload, form):
    staff = world.staff["researcher", language]
    data = {"language": payload.value} if form == "language" else \
        {"current": "not-the-password", "new": payload.value, "confirm": payload.value}
    before, user = world.audit.counts(), row(world.app, "SELECT * FROM user_account WHERE email = :e", e=staff.email)
    response = staff.client.post("/account", data={"csrf_token": staff.csrf, **data})
    world.check(staff.client, response, language, allowed={400})
    world.settle(before)
    assert row(world.app, "SELECT * FROM user_account WHERE email = :e", e=staff.email) == user


@payloads
@pytest.mark.parametrize("field", ["name", "email"])
def test_new_account(world, language, payload, field):
    staff, uid = world.staff["admin", language], world.next_uid()
    data = {"name": f"User {uid}", "email": f"user.{uid}@example.org", "roles": "researcher", "language": language,
            "active": "y", "password": PASSWORD, field: _value(payload, field, uid)}
    before = world.audit.counts()
    response = staff.client.post("/admin/users/new", data={"csrf_token": staff.csrf, **data})
    answer = world.check(staff.client, response, language, allowed={302, 400})
    accepted = answer.status == 302
    world.settle(before, {"user_account": 1, "user_role": 1, "audit_event": 1} if accepted else {})
    assert not (accepted and payload.refuse_line), "stored a value that must be refused"
    if accepted:
        stored = row(world.app, "SELECT name, email FROM user_account ORDER BY id DESC LIMIT 1")
        assert stored[field] == _expected(payload, field, uid)


@payloads
@pytest.mark.parametrize("field", ["name", "email"])
def test_edit_account(world, language, payload, field):
    staff, uid, victim = world.staff["admin", language], world.next_uid(), world.victims[language]["user"]
    data = {"name": f"Victim {language}", "email": f"victim.{language}.{uid}@example.org", "roles": "reviewer",
            "language": language, "active": "y", "password": "", field: _value(payload, field, uid)}
    read = "SELECT name, email, preferred_language, active, session_version FROM user_account WHERE id = :i"
    before, old = world.audit.counts(), row(world.app, read, i=victim)
    response = staff.client.post(f"/admin/users/{victim}", data={"csrf_token": staff.csrf, **data})
    answer = world.check(staff.client, response, language, allowed={302, 400})
    world.settle(before, {"audit_event": 1} if answer.status == 302 else {})  # the change, audited
    if answer.status == 302:
        assert not payload.refuse_line, "stored a value that must be refused"
        assert row(world.app, read, i=victim)[field] == _expected(payload, field, uid)
    else:
        assert row(world.app, read, i=victim) == old


@payloads
@pytest.mark.parametrize("field", ["name", "email", "role"])
def test_new_nominee(world, language, payload, field):
    staff, uid = world.staff["researcher", language], world.next_uid()
    data = {**NOMINEE, "name": f"Nominee {uid}", "email": f"nominee.{uid}@example.org",
            field: _value(payload, field, uid)}
    before = world.audit.counts()
    response = staff.client.post("/researcher/nominees/new", data={"csrf_token": staff.csrf, **data})
    answer = world.check(staff.client, response, language, allowed={302, 400})
    accepted = answer.status == 302
    world.settle(before, {"nominee": 1, "participant": 1} if accepted else {})
    assert not (accepted and payload.refuse_line), "stored a value that must be refused"
    if accepted:
        stored = row(world.app, "SELECT name, email, role FROM nominee ORDER BY id DESC LIMIT 1")
        assert stored[field] == _expected(payload, field, uid)


@payloads
@pytest.mark.parametrize("field", ["name", "email"])
def test_edit_nominee(world, language, payload, field):
    staff, uid, victim = world.staff["researcher", language], world.next_uid(), world.victims[language]["nominee"]
    data = {**NOMINEE, "preferred_language": "unknown", "name": f"Nominee {language}",
            "email": f"victim.{language}.{uid}@example.org", field: _value(payload, field, uid)}
    read = "SELECT name, email, role, la_code, agency FROM nominee WHERE id = :i"
    before, old = world.audit.counts(), row(world.app, read, i=victim)
    response = staff.client.post(f"/researcher/nominees/{victim}/edit", data={"csrf_token": staff.csrf, **data})
    answer = world.check(staff.client, response, language, allowed={302, 400})
    world.settle(before)
    if answer.status == 302:
        assert not payload.refuse_line, "stored a value that must be refused"
        assert row(world.app, read, i=victim)[field] == _expected(payload, field, uid)
    else:
        assert row(world.app, read, i=victim) == old


@pytest.mark.parametrize("order", ["good-first", "hostile-first"])
def test_duplicate_keys_in_a_nominee(world, language, order):
    """email=a@x.test&email=b@y.test: one row at most, holding one of the values sent."""
    staff, uid = world.staff["researcher", language], world.next_uid()
    emails = [f"a.{uid}@x.test", f"b.{uid}@y.test\r\nBcc: x@evil.test"]
    names = [f"Good {uid}", "bad\u202e\x00"]
    if order == "hostile-first":
        emails.reverse()
        names.reverse()
    pairs = [("csrf_token", staff.csrf), *NOMINEE.items(), *[("email", e) for e in emails],
             *[("name", n) for n in names]]
    before = world.audit.counts()
    from werkzeug.datastructures import MultiDict

    response = staff.client.post("/researcher/nominees/new", data=MultiDict(pairs))
    answer = world.check(staff.client, response, language, allowed={302, 400})
    world.settle(before, {"nominee": 1, "participant": 1} if answer.status == 302 else {})
    if answer.status == 302:
        stored = row(world.app, "SELECT name, email FROM nominee ORDER BY id DESC LIMIT 1")
        assert (stored["name"], stored["email"]) == (f"Good {uid}", f"a.{uid}@x.test")
