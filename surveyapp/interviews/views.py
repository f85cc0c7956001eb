"""Researchers' interview pages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from surveyapp import text
from surveyapp.access import Role, roles_required
from surveyapp.consent.models import METHOD_TITLES
from surveyapp.extensions import db
from surveyapp.i18n import current_locale
from surveyapp.interviews import consent as verbal
from surveyapp.interviews.forms import verbal_consent_form_class
from surveyapp.nominees.history import load_nominee
from surveyapp.nominees.models import Nominee
from surveyapp.studies.services import current_study
from surveyapp.web import validates_own_csrf

bp = Blueprint("interviews", __name__, template_folder="templates", url_prefix="/researcher/interviews")


def _nominee_or_404(nominee_id: int) -> Nominee:
    nominee = load_nominee(nominee_id, current_study().id)
    if nominee is None:
        abort(404)
    return nominee


def _refusal(refused: verbal.VerbalConsentRefused, name: str) -> str:
    if isinstance(refused, verbal.AlreadyConsented):
        record = refused.record
        return _("%(name)s already gave consent to the current consent form on %(when)s (%(method)s): nothing "
                 "was recorded.", name=name, when=format_datetime(record.recorded_at, "d MMMM y, HH:mm"),
                 method=str(METHOD_TITLES.get(record.method, record.method)))
    if isinstance(refused, verbal.ParticipationClosed) and refused.status == "withdrawn":
        return _("%(name)s has withdrawn from the study: consent cannot be recorded. Nothing was recorded.",
                 name=name)
    if isinstance(refused, verbal.ParticipationClosed):
        return _("%(name)s has already sent their answers: consent cannot be recorded again. Nothing was recorded.",
                 name=name)
    return _("The consent could not be recorded. Nothing was recorded.")


def _shown_language(form, nominee: Nominee) -> str:
    """The language the statements are shown in: the one the form was read in (posted), else
    the one asked for, else the nominee's preferred language, else the page's."""
    for candidate in (form.shown.data if request.method == "POST" else None, request.args.get("language"),
                      nominee.preferred_language, current_locale()):
        if candidate in verbal.LANGUAGES:
            return candidate
    return "en"


@bp.route("/nominees/<id:nominee_id>/consent", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def verbal_consent(nominee_id: int):
    """Record consent the nominee gave aloud: each statement as they answered it, read in the
    language used. Nothing is stored if anything is missing or consent is not theirs to give."""
    nominee = _nominee_or_404(nominee_id)
    participant = nominee.participant
    back = url_for("nominees.show", nominee_id=nominee.id)
    name = text.isolated(nominee.name)
    try:
        verbal.check_open(participant)
    except verbal.VerbalConsentRefused as refused:
        flash(_refusal(refused, name))
        return redirect(back)
    consent_form = participant.study.consent_form.as_consent_form()
    form = verbal_consent_form_class(consent_form)()
    shown = _shown_language(form, nominee)
    if request.method == "GET":
        form.language.data = form.shown.data = shown
    if form.validate_on_submit():
        try:
            record = verbal.record_verbal_consent(
                participant, form.agreed(), language=form.language.data, sheet_sent_on=form.sheet_sent_on.data,
                sheet_language=form.sheet_language.data, researcher_id=current_user.id)
        except verbal.VerbalConsentRefused as refused:
            db.session.rollback()
            flash(_refusal(refused, name))
            return redirect(back)
        db.session.commit()
        if record.given:
            flash(_("Consent given by %(name)s was recorded. Their participant ID is %(pid)s.", name=name,
                    pid=participant.pid_label))
        else:
            flash(_("%(name)s did not agree to every required statement: consent not given was recorded. They "
                    "cannot give answers unless they consent later.", name=name))
        return redirect(back)
    form.shown.data = shown
    switch = [(code, message, url_for("interviews.verbal_consent", nominee_id=nominee.id, language=code))
              for code, message in (("cy", _("Show the statements in Welsh")),
                                    ("en", _("Show the statements in English"))) if code != shown]
    return render_template("interviews/verbal_consent.html", nominee=nominee, form=form, consent_form=consent_form,
                           shown=shown, switch=switch, back=back,
                           page_locale=current_locale()), 400 if form.errors else 200
