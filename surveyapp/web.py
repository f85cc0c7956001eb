"""App-wide request handling: language links, CSRF policy, template helpers, errors, headers."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Flask, abort, current_app, redirect, render_template, request, url_for
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.routing import BaseConverter, ValidationError

from surveyapp import i18n
from surveyapp.access import ROLE_TITLES, home_endpoint
from surveyapp.db import utcnow
from surveyapp.extensions import csrf, db
from surveyapp.instruments.model import Question, paragraphs
from surveyapp.studies.models import SLUG_PATTERN

ERROR_TITLES = {
    400: _l("Something was wrong with that request"),
    429: _l("Too many attempts"),
    403: _l("You cannot open this page"),
    404: _l("Page not found"),
    405: _l("That action is not allowed here"),
    413: _l("That was too much to send at once"),
    500: _l("Sorry, something went wrong on our side"),
}
ERROR_HELP = {
    400: _l("Please go back and try again."),
    429: _l("Please wait a minute, then try again."),
    403: _l("If you were sent a link, check that you used the whole link."),
    404: _l("Check the address, or use the link you were sent."),
    405: _l("Please go back and try again."),
    413: _l("Your last saved answers are kept. Please go back, shorten the text and save again."),
    500: _l("Your saved answers are safe. Please try again in a few minutes."),
}


# Every id column is a 32-bit integer on PostgreSQL.
MAX_ID = 2**31 - 1


class IdConverter(BaseConverter):
    """A database id (or a 1-based page number) in a URL: ASCII digits, no sign, no leading
    zero, within the column's range. Anything else ("١٢", "00012", a 20-digit number) is not
    a page: 404, never a 500 and never another row."""

    regex = r"[1-9][0-9]{0,9}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


class SlugConverter(BaseConverter):
    """A study's slug in a URL, as study files may spell it (study_schema.json): lower-case
    ASCII letters, digits and hyphens. Anything else is not a study: 404 before any query."""

    regex = SLUG_PATTERN
    part_isolating = True


def validates_own_csrf(view):
    """Mark a view whose FlaskForm validates CSRF itself, so a bad token re-shows
    the posted data instead of a bare 400 page."""
    view.validates_own_csrf = True
    return view


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter  # before any blueprint's rules are added
    app.url_map.converters["slug"] = SlugConverter
    app.before_request(_language_link)
    app.before_request(_csrf_policy)
    app.after_request(_security_headers)
    app.context_processor(_template_helpers)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["tr"] = i18n.tr
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.globals["answer_text"] = answer_text
    app.jinja_env.globals["in_locale"] = i18n.in_locale
    app.jinja_env.globals["now"] = utcnow
    app.jinja_env.globals["ngettext"] = ngettext
    app.jinja_env.filters["datetime"] = lambda value, fmt="d MMMM y, HH:mm": format_datetime(value, fmt)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SecurityError, _untrusted_host)


def _language_link():
    """``?lang=cy`` on any GET: remember the choice and show the same page without the parameter."""
    lang = request.args.get("lang")
    if lang is None or request.method != "GET":
        return None
    if lang not in i18n.LOCALES:
        abort(404)
    i18n.choose_locale(lang)
    db.session.commit()
    args = {k: v for k, v in request.args.items(multi=True) if k != "lang"}
    return redirect(request.path + (("?" + urlencode(args)) if args else ""))


def _csrf_policy():
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and getattr(view, "validates_own_csrf", False):
        return
    csrf.protect()


def answer_text(question: Question, value) -> str:
    """An answer as the participant would say it, in the current language."""
    if value is None or value == "":
        return _("Not answered")
    if question.type == "single_choice":
        option = question.option(value)
        return i18n.tr(option.label) if option else value
    if question.type == "multiple_choice":
        labels = [i18n.tr(o.label) if (o := question.option(c)) else c for c in value.get("choices", [])]
        if value.get("other"):
            labels.append(_("Other: %(text)s", text=value["other"]))
        return "; ".join(labels)
    return str(value)


def switch_url(quoted_path: str, locale: str) -> str:
    """The page at ``quoted_path`` with ``?lang=`` set to ``locale``, the rest of the query kept."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", locale))
    return quoted_path + "?" + urlencode(args)


def _template_helpers():
    locale = i18n.current_locale()
    other = i18n.other_locale(locale)
    return {
        "current_locale": locale,
        "other_locale": other,
        "endonyms": i18n.ENDONYMS,
        # request.path is decoded (it may hold any character, NUL included): quoted again.
        "language_switch_url": switch_url(quote(request.path), other) if request else None,
        # A signed-in member of staff on a page that is not a participant's: the staff layout
        # (one wide column for header, menu and content; the staff footer).
        "staff_page": i18n.signed_in_staff() is not None,
    }


def _security_headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        # Participant pages hold answers and staff pages hold personal data: no copy is kept
        # by the browser, a proxy or the back button's cache.
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["PUBLIC_URL"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def way_back_url() -> str | None:
    """After a refused participant save or submit (too large, database busy): the page's own
    address, without any personal token, which shows the answers saved before this request.
    None elsewhere, and for autosave (its script answers for itself)."""
    if request.blueprint != "participant" or request.endpoint in (None, "participant.autosave"):
        return None
    return url_for(request.endpoint, **(request.view_args or {}))


def staff_refusal(user) -> str:
    """Why a signed-in member of staff was refused a page: their role, named in their language
    (a participant's "check the whole link" would send them looking for a fault that is not there)."""
    titles = [str(ROLE_TITLES[role]) for role in sorted(user.role_set)]
    if not titles:
        return _("Your account has no role, so it cannot open this page. Ask an administrator if you need it.")
    return ngettext("Your account (role: %(roles)s) cannot open this page. Ask an administrator if you need it.",
                    "Your account (roles: %(roles)s) cannot open this page. Ask an administrator if you need it.",
                    len(titles), roles=", ".join(titles))


def _http_error(exc: HTTPException):
    code = exc.code or 500
    help_text = ERROR_HELP.get(code, ERROR_HELP[500])
    # After a refused save, offer the way back to the page, which shows the last saved text.
    back_url = way_back_url() if code == 413 else None
    home_url = None
    staff = i18n.signed_in_staff() if code == 403 else None
    if staff is not None:
        help_text, home_url = staff_refusal(staff), url_for(home_endpoint(staff))
    return (
        render_template("error.html", code=code, title=ERROR_TITLES.get(code, ERROR_TITLES[500]),
                        help=help_text, back_url=back_url, home_url=home_url),
        code,
    )


def _untrusted_host(exc: SecurityError):
    """A Host header the app does not answer to. No page can be built (its links would carry
    the untrusted host), so a short answer in both languages."""
    lines = [i18n.in_locale("This address is not served here. Please use the link you were sent.", locale)
             for locale in ("cy", "en")]
    return "\n".join(lines) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}


def _csrf_error(exc: CSRFError):
    from surveyapp.forms import CSRF_EXPIRED

    return render_template("error.html", code=400, title=ERROR_TITLES[400], help=CSRF_EXPIRED), 400
