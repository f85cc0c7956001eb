"""Who may open which route. Every view declares its audience; start-up refuses any that
does not, and the access-table test walks every URL rule against one table."""

from __future__ import annotations

import enum
from functools import wraps

from flask import Flask, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from surveyapp import security


class Role(enum.StrEnum):
    ADMIN = "admin"
    RESEARCHER = "researcher"
    REVIEWER = "reviewer"


ROLE_TITLES = {
    Role.ADMIN: _l("Administrator"),
    Role.RESEARCHER: _l("Researcher"),
    Role.REVIEWER: _l("Ethics reviewer"),
}

PUBLIC = "public"            # anyone (login page, the open study link, static files)
PARTICIPANT = "participant"  # anyone holding a participant's secret link (checked by the view)
SIGNED_IN = "signed_in"      # any signed-in staff member


def home_endpoint(user) -> str:
    """The page a member of staff starts from, by what their roles let them open: progress for
    researchers and administrators, the review page for ethics reviewers, else their account.
    Here, with the roles, so that the error pages and sign-in need no feature's services."""
    roles = user.role_set
    if roles & {Role.RESEARCHER, Role.ADMIN}:
        return "dashboard.index"
    if Role.REVIEWER in roles:
        return "review.index"
    return "accounts.account"


def public(view):
    view.access = PUBLIC
    return view


def participant_link(view):
    view.access = PARTICIPANT
    return view


def _guard(view, allowed):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        if allowed is not None and not (current_user.role_set & allowed):
            security.log_event(security.AUTHORISATION_FAILURE, user_id=current_user.id,
                               endpoint=request.endpoint, required=sorted(allowed))
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def signed_in(view):
    wrapper = _guard(view, None)
    wrapper.access = SIGNED_IN
    return wrapper


def roles_required(*roles: Role):
    allowed = frozenset(roles)

    def decorator(view):
        wrapper = _guard(view, allowed)
        wrapper.access = allowed
        return wrapper

    return decorator


def check_routes_declare_access(app: Flask) -> None:
    missing = sorted(
        endpoint for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "access")
    )
    if missing:
        raise RuntimeError(f"routes without a declared audience: {', '.join(missing)}")
