from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.access import Role
from surveyapp.db import UTCDateTime, db, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    preferred_language: Mapped[str] = mapped_column(sa.String(5), default="cy")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the session id: bumping it ends every session of this user on its next request
    # (sign-out, a new password, a role taken away, the account turned off).
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                 order_by="UserRole.role")

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)

    def has_role(self, role: Role) -> bool:
        return role in self.role_set

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}.{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id} {sorted(self.role_set)}>"


class UserRole(db.Model):
    __tablename__ = "user_role"
    __table_args__ = (sa.UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(sa.String(20))

    user: Mapped[User] = relationship(back_populates="roles")


class LoginThrottle(db.Model):
    """Failed sign-ins counted under one key, for backoff. A key names what is counted, by
    keyed hashes only (no email address or client address is stored): ``p:<account>:<address>``
    one account from one address, ``a:<account>`` one account from anywhere, ``r:<address>``
    one address over all accounts, ``d:<account>:<browser>`` one account from a browser that has
    signed in to it before. The account hash is of the email address typed, so an address that
    belongs to nobody is counted exactly like a real one."""

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # On an ``a:`` row: when the account's owner was last told that sign-ins were slowed.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
