"""The participant blueprint: the participant behind a personal link, the study on every page,
and where in the journey someone belongs. Shared by the participant view modules.

A personal link (``/p/<token>/...``) is exchanged for a participant session on first use: a
GET is redirected to the same page under ``/survey/...``, so the token reaches the access log
once and never sits in the address bar, the history or a form's action. Every participant
page also answers on its ``/p/<token>/...`` address, so a page opened before the change (or
the personal link itself, from a new browser) still works; a POST there is handled in place,
never redirected, so nothing typed is lost.

The session holds the participant's id and token: the token is needed to show the personal
link again, and it gives nothing the session does not already give (the "saved" page shows
it). Each request checks it against the stored hash, so a re-issued link ends every session
of the old one. One browser holds one participant: the newest link opened wins, and a form
posted from a page of the previous one is refused rather than saved into the wrong answers.
"""

from __future__ import annotations

import time
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from markupsafe import Markup

from surveyapp import i18n, security
from surveyapp.access import PARTICIPANT
from surveyapp.consent import services as consent_services
from surveyapp.extensions import limiter
from surveyapp.participant import services
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.studies.contacts import study_contacts
from surveyapp.urls import public_url
from surveyapp.web import switch_url

bp = Blueprint("participant", __name__, template_folder="templates")

SESSION_KEY = "participant"
PAGE_FIELD = "_participant"  # names the participant a posted page was shown to

# Budgets per client address, each with its own count; the defaults, and why, are in
# surveyapp/config.py (PARTICIPANT_*_LIMIT).
def configured_limit(key: str):
    return lambda: current_app.config[key]


def _log_breach(budget: str):
    def on_breach(request_limit) -> None:
        security.log_event(security.RATE_LIMITED, budget=budget, limit=str(request_limit.limit))

    return on_breach


def limited(budget: str, config_key: str, **options):
    """A rate limit for one budget, logged as ``rate_limited`` when it trips."""
    return limiter.limit(configured_limit(config_key), on_breach=_log_breach(budget), **options)


# Failed personal-link look-ups, shared by every route that takes a token.
_token_failures = limiter.shared_limit(
    configured_limit("PARTICIPANT_TOKEN_FAILURE_LIMIT"),
    scope="participant-token",
    exempt_when=lambda: "link_token" not in g,
    deduct_when=lambda response: bool(g.get("token_failed")),
    on_breach=_log_breach("token"),
)


def link_route(rule: str, *, limits=(), **options):
    """Register a participant page on ``/survey<rule>`` and on ``/p/<token><rule>``.

    Flask-Limiter checks a decorated view's limits when the view is called, so the session
    check (``_admit``) sits inside the limits: a throttled address is refused before its
    token is judged. ``limits`` are further budgets for this page."""

    def decorator(view):
        @wraps(view)
        def admitted(*args, **kwargs):
            return _admit() or view(*args, **kwargs)

        guarded = admitted
        for limit in (*limits, _token_failures):
            guarded = limit(guarded)
        endpoint = options.pop("endpoint", view.__name__)
        bp.add_url_rule(f"/survey{rule}", endpoint, guarded, **options)
        bp.add_url_rule(f"/p/<token>{rule}", endpoint, guarded, **options)
        return guarded

    return decorator


def _is_link_view(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "access", None) == PARTICIPANT


@bp.url_value_preprocessor
def _load_participant(endpoint, values):
    if not _is_link_view(endpoint):
        return
    token = values.pop("token", None) if values else None
    if token is not None:
        # Decided after the rate limit is checked (in _admit), so a throttled address
        # learns nothing about the token, valid or not.
        g.link_token = True
        participant = services.find_by_token(token)
        if participant is None:
            g.token_failed = True
            return
        g.participant, g.token = participant, token
        return
    participant, token = _from_session()
    if participant is not None:
        g.participant, g.token = participant, token


def _from_session() -> tuple[Participant | None, str | None]:
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return None, None
    participant_id, token = stored.get("id"), stored.get("token")
    if not isinstance(participant_id, int) or not isinstance(token, str):
        return None, None
    participant = services.participant_for_session(participant_id, token)
    if participant is None:
        session.pop(SESSION_KEY, None)  # the link was re-issued, or the row is gone
        return None, None
    return participant, token


def start_session(participant: Participant, token: str) -> None:
    """This browser now acts for ``participant`` (replacing anyone it acted for before)."""
    session[SESSION_KEY] = {"id": participant.id, "token": token}
    if participant.language in i18n.LOCALES:
        session[i18n.SESSION_KEY] = participant.language


def _admit():
    """After the rate limits: turn a personal link into a session, or refuse the request."""
    if g.get("token_failed"):
        security.log_event(security.TOKEN_FAILURE, reason="unknown")
        abort(404)
    participant = g.get("participant")
    if g.get("link_token"):
        start_session(participant, g.token)
        if request.method in ("GET", "HEAD"):
            target = url_for(request.endpoint, **(request.view_args or {}))
            query = request.query_string.decode("ascii", "replace")
            return redirect(target + ("?" + query if query else ""))
        return None  # a POST from a page with the token in its address: handled here
    autosave = request.endpoint == "participant.autosave"
    if participant is None:
        if autosave:
            return jsonify(status="session", message=_(
                "Not saved: please open your personal link again to carry on.")), 404
        abort(404)
    if request.method == "POST" and request.form.get(PAGE_FIELD) != services.page_key(participant):
        # This browser has since opened someone else's link (or the page is from before it).
        if autosave:
            return jsonify(status="session", message=_(
                "Not saved: this page belongs to a different personal link. Open your own "
                "personal link again to carry on.")), 409
        return render_template("participant/other_session.html"), 409
    return None


@bp.errorhandler(429)
def _too_many(exc):
    current = limiter.current_limit
    retry_after = max(1, int(current.reset_at - time.time())) if current is not None else 60
    if request.endpoint == "participant.autosave":
        response = jsonify(status="rate_limited", retry_after=retry_after,
                           message=_("Not saved, retrying"))
    else:
        from surveyapp.web import ERROR_HELP, ERROR_TITLES

        response = current_app.make_response(render_template(
            "error.html", code=429, title=ERROR_TITLES[429], help=ERROR_HELP[429], back_url=None))
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.context_processor
def _study_context():
    """The study on every participant page: its notice and contacts, in any language."""
    participant = g.get("participant")
    study = participant.study if participant is not None else g.get("study")

    def contacts_in(locale: str):
        return study_contacts(study, locale) if study is not None else None

    def page_field():
        """The hidden field that ties a posted form to the participant it was shown to."""
        if participant is None:
            return ""
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            PAGE_FIELD, services.page_key(participant))

    context = {"study": study, "contacts_in": contacts_in, "page_field": page_field}
    if g.get("link_token") and request.endpoint:
        # A page answering a POST to a /p/<token>/... address: its links leave the token out.
        path = url_for(request.endpoint, **(request.view_args or {}))
        context["language_switch_url"] = switch_url(path, i18n.other_locale())
    return context


def current_participant() -> Participant:
    return g.participant


def personal_url() -> str:
    return public_url("participant.resume", token=g.token)


def next_step_url(participant: Participant) -> str:
    if participant.language is None:
        return url_for("participant.resume")
    if participant.status == ParticipantStatus.SUBMITTED:
        return url_for("participant.done")
    if participant.status == ParticipantStatus.WITHDRAWN:
        return url_for("participant.withdrawn")
    if participant.status in (ParticipantStatus.REFUSED, ParticipantStatus.DECLINED):
        return url_for("participant.declined")
    record = consent_services.latest_consent(participant)
    if record is None or not record.given:
        return url_for("participant.information")
    return url_for("participant.section", number=participant.current_section + 1)
