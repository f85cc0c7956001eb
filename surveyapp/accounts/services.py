"""Account rules: argon2 hashes, sessions that end server-side, failed sign-ins slowed down
(never a lock on the account), sign-out everywhere."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context, session

from surveyapp import security
from surveyapp.access import Role
from surveyapp.accounts.models import LoginThrottle, User, UserRole
from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError

MIN_PASSWORD_LENGTH = 12

# argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes).
# Only the test suite (ENV=testing) uses argon2-cffi's cheapest profile, which the library
# provides for tests, so that its thousands of sign-ins do not each take 64 MiB and a tenth of
# a second; a hash made there is re-made with the standard profile at the next real sign-in.
_STANDARD = PasswordHasher()
_TESTING = PasswordHasher.from_parameters(profiles.CHEAPEST)


def password_hasher() -> PasswordHasher:
    testing = has_app_context() and current_app.config.get("ENV") == "testing"
    return _TESTING if testing else _STANDARD


_hasher = password_hasher
# Every sign-in attempt verifies exactly one argon2 hash: this one when the email is unknown,
# the account is turned off or attempts are being slowed, so all of them take the same time.
# Made on first use, not at import: argon2 takes 64 MiB and a noticeable time, which the CLI,
# the task worker and the import of every module should not pay.
_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash() -> str:
    hasher = password_hasher()
    if id(hasher) not in _DUMMY_HASHES:
        _DUMMY_HASHES[id(hasher)] = hasher.hash("not a real password, only for timing")
    return _DUMMY_HASHES[id(hasher)]


@dataclass(frozen=True)
class Backoff:
    """``after`` failures are free; then each attempt waits ``first``, doubling, up to ``longest``."""

    after: int
    first: timedelta
    longest: timedelta

    def wait(self, failures: int) -> timedelta | None:
        if failures < self.after:
            return None
        doublings = min(failures - self.after, 30)
        return min(self.first * 2**doublings, self.longest)


# One account from one address: an attacker there is slowed quickly and for long.
PAIR = Backoff(after=5, first=timedelta(seconds=1), longest=timedelta(minutes=15))
# One account from anywhere: a generous ceiling for guessing from many addresses, kept short
# so that it cannot hold the owner out for long (and a browser the owner has signed in with
# before is not subject to it at all).
ACCOUNT = Backoff(after=30, first=timedelta(seconds=1), longest=timedelta(minutes=1))
# One address over any accounts: one machine trying many accounts.
ADDRESS = Backoff(after=30, first=timedelta(seconds=1), longest=timedelta(minutes=5))
# One account from a browser that signed in to it before.
DEVICE = PAIR
# Counts are forgotten after this long without a failure; the owner is told once per window.
WINDOW = timedelta(hours=1)


class LoginFailed(DomainError):
    """Wrong email or password. ``until`` is set when attempts are now being slowed;
    ``notify`` is the account whose owner should be told (once per window)."""

    def __init__(self, until: datetime | None = None, notify: User | None = None):
        super().__init__("login failed")
        self.until = until
        self.notify = notify


class LoginThrottled(DomainError):
    """Too many recent failures: this attempt was not checked. Try again at ``until``."""

    def __init__(self, until: datetime):
        super().__init__("login throttled")
        self.until = until


class WeakPassword(DomainError):
    pass


class DuplicateEmail(DomainError):
    pass


def normalise_email(email: str) -> str:
    """As addresses are kept and compared: NFC (so a decomposed "ŵ" is the same letter), no
    surrounding space, lower case. Never raises: sign-in looks up whatever was typed."""
    return unicodedata.normalize("NFC", email.strip()).lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"at least {MIN_PASSWORD_LENGTH} characters")


def create_user(email: str, name: str, password: str, roles: set[Role], language: str = "cy",
                by_id: int | None = None) -> User:
    """A new account (``by_id``: the administrator who made it; None from the command line)."""
    if find_by_email(email) is not None:
        raise DuplicateEmail(email)
    check_password_strength(password)
    user = User(email=normalise_email(email), name=name.strip(), password_hash=_hasher().hash(password),
                preferred_language=language, roles=[UserRole(role=r.value) for r in sorted(roles)])
    db.session.add(user)
    db.session.flush()
    audit(kinds.ACCOUNT_CREATED, actor_id=by_id, user_id=user.id, roles=sorted(r.value for r in roles),
          active=user.active)
    return user


def update_user(user: User, *, name: str, email: str, language: str, active: bool, roles: set[Role],
                password: str | None, by_id: int | None) -> list[str]:
    """An administrator's change to an account; returns the fields that changed (an audit
    event names them, with the roles now held, never the password). Turning the account off,
    taking a role away or setting a password ends the user's sessions."""
    other = find_by_email(email)
    if other is not None and other.id != user.id:
        raise DuplicateEmail(email)
    if password:
        check_password_strength(password)
    before = {"name": user.name, "email": user.email, "language": user.preferred_language,
              "active": user.active, "roles": sorted(r.value for r in user.role_set)}
    user.name = name.strip()
    user.email = normalise_email(email)
    user.preferred_language = language
    set_active(user, active)
    set_roles(user, roles)
    if password:
        set_password(user, password)
    after = {"name": user.name, "email": user.email, "language": user.preferred_language,
             "active": user.active, "roles": sorted(r.value for r in user.role_set)}
    changed = [field for field in before if before[field] != after[field]] + (["password"] if password else [])
    if changed:
        audit(kinds.ACCOUNT_CHANGED, actor_id=by_id, user_id=user.id, changed=changed,
              roles=after["roles"], active=user.active)
    return changed


def end_sessions(user: User, reason: str) -> None:
    """End every session of ``user``: each presents the old version on its next request."""
    user.session_version += 1
    security.log_event(security.SESSION_REVOKED, user_id=user.id, reason=reason)


def set_roles(user: User, roles: set[Role]) -> None:
    """Give ``user`` exactly ``roles``. Taking a role away ends their sessions, so pages of
    that role refuse at once rather than when the session would have expired."""
    current = {r.role: r for r in user.roles}
    removed = set(current) - {r.value for r in roles}
    for role in removed:
        user.roles.remove(current[role])
    for role in {r.value for r in roles} - set(current):
        user.roles.append(UserRole(role=role))
    if removed and user.id is not None:
        end_sessions(user, "role_removed")
    db.session.flush()


def set_active(user: User, active: bool) -> None:
    if user.active and not active:
        end_sessions(user, "deactivated")
    user.active = active
    db.session.flush()


# -- signing in -------------------------------------------------------------------------------

def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _keys(account: str, address: str, browser: str | None) -> dict[str, Backoff]:
    """What an attempt is counted under, and checked against. A browser that signed in to this
    account before answers only for itself, so guessing from elsewhere cannot hold it out."""
    if browser:
        return {f"d:{account}:{browser}": DEVICE}
    return {f"p:{account}:{address}": PAIR, f"a:{account}": ACCOUNT, f"r:{address}": ADDRESS}


def _blocked_until(keys, now: datetime) -> datetime | None:
    return db.session.scalar(sa.select(sa.func.max(LoginThrottle.blocked_until)).where(
        LoginThrottle.key.in_(list(keys)), LoginThrottle.blocked_until > now))


def _count_failure(key: str, backoff: Backoff | None, now: datetime) -> datetime | None:
    """Count one failure under ``key`` in one statement (two requests at once both count);
    return until when the key now waits, if it does."""
    count = (sa.update(LoginThrottle).where(LoginThrottle.key == key)
             .values(failures=sa.case((LoginThrottle.last_failure_at < now - WINDOW, 1),
                                      else_=LoginThrottle.failures + 1),
                     last_failure_at=now)
             .returning(LoginThrottle.failures)
             .execution_options(synchronize_session=False))
    failures = db.session.scalar(count)
    if failures is None:
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(key=key, failures=1, last_failure_at=now))
            failures = 1
        except sa.exc.IntegrityError:  # another attempt created it first
            failures = db.session.scalar(count)
    wait = backoff.wait(failures) if backoff else None
    if wait is None:
        return None
    until = now + wait
    db.session.execute(sa.update(LoginThrottle).where(LoginThrottle.key == key)
                       .values(blocked_until=until).execution_options(synchronize_session=False))
    return until


def _first_notice(account: str, now: datetime) -> bool:
    """Whether the owner of ``account`` is yet to be told in this window (and note that they
    now are). The ``a:`` row exists: every failure is counted under it."""
    told = (sa.update(LoginThrottle)
            .where(LoginThrottle.key == f"a:{account}",
                   sa.or_(LoginThrottle.notified_at.is_(None), LoginThrottle.notified_at < now - WINDOW))
            .values(notified_at=now).execution_options(synchronize_session=False))
    return db.session.execute(told).rowcount == 1


def _forget(keys) -> None:
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key.in_(list(keys)))
                       .execution_options(synchronize_session=False))


def authenticate(email: str, password: str, address: str | None, browser: str | None = None) -> User:
    """The user, LoginFailed or LoginThrottled.

    An email address that belongs to nobody (or to an account that is turned off) goes through
    the same steps as a real one: the same counts, the same waits, one argon2 verification,
    so neither the answer nor its timing says whether the account exists. ``browser`` is the
    id of a browser that has signed in to this account before (see views.trusted_browser).
    """
    now = utcnow()
    account = security.hash_identifier(email)
    keys = _keys(account, security.hash_identifier(address or "-"), browser)
    user = find_by_email(email)
    if user is not None and not user.active:
        user = None
    who = {"user_id": user.id} if user is not None else {"email_hash": account}

    blocked = _blocked_until(keys, now)
    if blocked is not None:
        _verify(_dummy_hash(), password)
        security.log_event(security.LOGIN_THROTTLED, **who, until=blocked.isoformat(), known_browser=bool(browser))
        raise LoginThrottled(blocked)

    if _verify(user.password_hash if user is not None else _dummy_hash(), password) and user is not None:
        _forget([*keys, f"a:{account}"] if browser else [k for k in keys if not k.startswith("r:")])
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hasher().hash(password)
        user.last_login_at = now
        db.session.flush()
        audit(kinds.LOGIN_SUCCEEDED, actor_id=user.id, known_browser=bool(browser))
        return user

    waits = [_count_failure(key, backoff, now) for key, backoff in keys.items()]
    if browser:  # the account's count goes on, so its owner hears of it, but does not hold this browser
        _count_failure(f"a:{account}", None, now)
    until = max((w for w in waits if w is not None), default=None)
    security.log_event(security.LOGIN_FAILURE, **who, known_browser=bool(browser))
    # In the caller's transaction, which it commits to keep the counts. An unknown (or turned
    # off) address is only its keyed hash, as in the security log: never the address typed.
    audit(kinds.LOGIN_FAILED, **who, known_browser=bool(browser), slowed=until is not None)
    notify = None
    if until is not None:
        security.log_event(security.LOGIN_THROTTLED, **who, until=until.isoformat(), known_browser=bool(browser))
        if _first_notice(account, now):
            notify = user
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - WINDOW,
                                                      LoginThrottle.blocked_until.is_(None) |
                                                      (LoginThrottle.blocked_until < now))
                       .execution_options(synchronize_session=False))
    db.session.flush()
    raise LoginFailed(until, notify)


def set_password(user: User, password: str) -> None:
    """Set a new password and end every session of the user (the view may start a new one)."""
    check_password_strength(password)
    user.password_hash = _hasher().hash(password)
    end_sessions(user, "password_changed")
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    """A member of staff changes their own password (an account change, in the audit trail)."""
    if not _verify(user.password_hash, current):
        raise LoginFailed()
    set_password(user, new)
    audit(kinds.ACCOUNT_CHANGED, actor_id=user.id, user_id=user.id, changed=["password"],
          roles=sorted(role.value for role in user.role_set))


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the id must carry the current session version. A session that was
    ended (signed out, new password, role taken away, account turned off) is refused and
    forgotten, and the attempt logged: it may be a copied cookie."""
    user_id, _, version = session_id.partition(".")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    if len(user_id) > 10 or len(version) > 10:
        return None
    user = db.session.get(User, int(user_id))
    if user is not None and user.active and user.session_version == int(version):
        return user
    session.pop("_user_id", None)
    session.pop("_fresh", None)
    security.log_event(security.SESSION_REVOKED, user_id=int(user_id), reason="ended_session_presented")
    return None
