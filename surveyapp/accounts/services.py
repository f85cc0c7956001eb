"""Account rules: argon2 hashes, lockout after repeated failures, sign-out everywhere."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from surveyapp.access import Role
from surveyapp.accounts.models import User, UserRole
from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class LoginFailed(DomainError):
    def __init__(self, locked_until=None):
        super().__init__("login failed")
        self.locked_until = locked_until


class WeakPassword(DomainError):
    pass


class DuplicateEmail(DomainError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"at least {MIN_PASSWORD_LENGTH} characters")


def create_user(email: str, name: str, password: str, roles: set[Role], language: str = "cy") -> User:
    if find_by_email(email) is not None:
        raise DuplicateEmail(email)
    check_password_strength(password)
    user = User(email=normalise_email(email), name=name.strip(), password_hash=_hasher.hash(password),
                preferred_language=language, roles=[UserRole(role=r.value) for r in sorted(roles)])
    db.session.add(user)
    db.session.flush()
    return user


def set_roles(user: User, roles: set[Role]) -> None:
    current = {r.role: r for r in user.roles}
    for role in set(current) - {r.value for r in roles}:
        user.roles.remove(current[role])
    for role in {r.value for r in roles} - set(current):
        user.roles.append(UserRole(role=role))
    db.session.flush()


def authenticate(email: str, password: str) -> User:
    """The user, or LoginFailed. Failures count towards a temporary lock."""
    user = find_by_email(email)
    now = utcnow()
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise LoginFailed()
    if user.locked_until is not None and user.locked_until > now:
        raise LoginFailed(user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_FOR
            user.failed_logins = 0
        db.session.flush()
        raise LoginFailed(user.locked_until if user.locked_until and user.locked_until > now else None) from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password and sign the user out of every session."""
    check_password_strength(password)
    user.password_hash = _hasher.hash(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise LoginFailed() from None
    set_password(user, new)


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the id must carry the current session version."""
    user_id, _, version = session_id.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
