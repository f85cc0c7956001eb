"""Sign-in, sign-out, one's own account, and the admin's user management."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from surveyapp import i18n, security
from surveyapp.access import ROLE_TITLES, Role, home_endpoint, public, roles_required, signed_in
from surveyapp.accounts import notices, services
from surveyapp.accounts.forms import LanguageForm, LoginForm, PasswordForm, UserForm
from surveyapp.accounts.models import User
from surveyapp.extensions import db, limiter
from surveyapp.text import isolated
from surveyapp.web import validates_own_csrf

bp = Blueprint("accounts", __name__, template_folder="templates")


def home_for(user: User) -> str:
    return url_for(home_endpoint(user))


def _safe_next(target: str | None) -> str | None:
    """A path on this site to return to after signing in, or None. Browsers drop tabs and
    line breaks from addresses and read a backslash as a slash, so "/%09/evil.test" (a tab)
    would become "//evil.test", another site: any control character, space or backslash refuses it."""
    if not target or any(c in "\\" or c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target


# A browser that has signed in to an account carries a signed note of it, so that guessing at
# that account from elsewhere cannot hold its owner out (services.authenticate).
BROWSER_SALT = "signed-in-browser"
BROWSER_MAX_AGE = timedelta(days=180)
_BROWSER_ID = re.compile(r"^[0-9a-f]{16}$")


def _browser_cookie() -> str:
    # __Host-: sent only over https, only to this host, for every path.
    return "__Host-signin_browser" if current_app.config.get("SESSION_COOKIE_SECURE") else "signin_browser"


def _browser_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=BROWSER_SALT)


def trusted_browser(email: str) -> str | None:
    """This browser's id if it has signed in to the account ``email`` names before."""
    value = request.cookies.get(_browser_cookie())
    if not value:
        return None
    try:
        note = _browser_serializer().loads(value, max_age=int(BROWSER_MAX_AGE.total_seconds()))
    except BadData:
        return None
    if not isinstance(note, dict) or note.get("account") != security.hash_identifier(email):
        return None
    browser = note.get("browser")
    return browser if isinstance(browser, str) and _BROWSER_ID.match(browser) else None


def _remember_browser(response, email: str) -> None:
    note = {"account": security.hash_identifier(email), "browser": secrets.token_hex(8)}
    response.set_cookie(_browser_cookie(), _browser_serializer().dumps(note),
                        max_age=int(BROWSER_MAX_AGE.total_seconds()), path="/", httponly=True,
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), samesite="Lax")


def _too_many(until) -> str:
    return _("Too many wrong attempts. You can try again after %(time)s.",
             time=format_datetime(until, "HH:mm:ss"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@validates_own_csrf
@public
def login():
    """Sign in. A wrong password and an unknown email get the same answer, after the same work,
    in every phase: while attempts are free, and while they are being slowed down."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error, notice, status = None, None, 200
    if form.validate_on_submit():
        browser = trusted_browser(form.email.data)
        try:
            user = services.authenticate(form.email.data, form.password.data, request.remote_addr, browser)
        except services.LoginThrottled as refused:
            error, status = _too_many(refused.until), 429
        except services.LoginFailed as failed:
            if failed.notify is not None:
                notice = notices.throttle_notice(failed.notify)
            db.session.commit()  # keep the counts
            error = _too_many(failed.until) if failed.until else _("The email address or password is not right.")
            status = 400
        else:
            login_user(user)
            # A language chosen on the sign-in page wins over the account's, and is kept on it.
            i18n.adopt_locale_at_sign_in(user)
            db.session.commit()
            response = redirect(_safe_next(request.args.get("next")) or home_for(user))
            if browser is None:
                _remember_browser(response, form.email.data)
            return response
    elif form.errors:
        status = 400
    response = make_response(render_template("accounts/login.html", form=form, error=error), status)
    if notice is not None:
        notices.send_after(response, notice)
    return response


@bp.post("/logout")
@signed_in
def logout():
    """Sign out here and everywhere else: a copy of this session's cookie stops working too."""
    services.end_sessions(current_user._get_current_object(), "signed_out")
    db.session.commit()
    logout_user()
    flash(_("You have signed out, here and on every other device."))
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET", "POST"])
@validates_own_csrf
@signed_in
def account():
    password_form = PasswordForm()
    language_form = LanguageForm(language=current_user.preferred_language)
    error = None
    if "new" in request.form and password_form.validate_on_submit():
        try:
            services.change_password(current_user, password_form.current.data, password_form.new.data)
        except services.LoginFailed:
            error = _("Your current password is not right.")
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # this session carries on; others are signed out
            flash(_("Your password has been changed. You have been signed out everywhere else."))
            return redirect(url_for("accounts.account"))
    elif "language" in request.form and language_form.validate_on_submit():
        i18n.choose_locale(language_form.language.data)
        db.session.commit()
        return redirect(url_for("accounts.account"))
    status = 400 if (error or (request.method == "POST" and (password_form.errors or language_form.errors))) else 200
    return render_template("accounts/account.html", password_form=password_form,
                           language_form=language_form, error=error, role_titles=ROLE_TITLES), status


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def users():
    rows = db.session.scalars(sa.select(User).order_by(User.name)).all()
    return render_template("accounts/users.html", users=rows, role_titles=ROLE_TITLES)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.ADMIN)
def new_user():
    return _edit_user(None)


@bp.route("/admin/users/<id:user_id>", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return _edit_user(user)


def _edit_user(user: User | None):
    form = UserForm(obj=None) if user is None else UserForm(
        data={"name": user.name, "email": user.email, "roles": [r.value for r in user.role_set],
              "language": user.preferred_language, "active": user.active})
    problems = []
    if form.validate_on_submit():
        roles = {Role(r) for r in form.roles.data}
        password = form.password.data or ""
        if user is not None and user.id == current_user.id and Role.ADMIN not in roles:
            problems.append(_("You cannot take the administrator role away from yourself."))
        if user is None and not password:
            problems.append(_("Set a password for the new account."))
        if not problems:
            try:
                if user is None:
                    user = services.create_user(form.email.data, form.name.data, password, roles,
                                                form.language.data, by_id=current_user.id)
                else:  # turning off, taking a role away or a new password ends their sessions
                    services.update_user(user, name=form.name.data, email=form.email.data,
                                         language=form.language.data, active=form.active.data, roles=roles,
                                         password=password, by_id=current_user.id)
            except services.DuplicateEmail:
                problems.append(_("Another account already uses that email address."))
            except services.WeakPassword:
                problems.append(_("Use at least %(min)d characters.", min=services.MIN_PASSWORD_LENGTH))
            else:
                db.session.commit()
                if user.id == current_user.id:
                    login_user(user)  # this session carries on with the new version
                flash(_("The account for %(name)s has been saved.", name=isolated(user.name)))
                return redirect(url_for("accounts.users"))
        db.session.rollback()
    status = 400 if (problems or form.errors) else 200
    return render_template("accounts/user_form.html", form=form, user=user, problems=problems), status
