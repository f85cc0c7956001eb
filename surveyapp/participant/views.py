"""The participant journey: language, information sheet, consent, survey, review, submit."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import ngettext

from surveyapp import i18n
from surveyapp.consent import services as consent_services
from surveyapp.errors import AlreadySubmitted, ConsentRequired
from surveyapp.extensions import db
from surveyapp.participant import services
from surveyapp.participant.forms import (
    LanguageForm,
    SubmitForm,
    consent_form_class,
    form_data_for,
    section_form_class,
    values_from,
)
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses import services as responses
from surveyapp.web import validates_own_csrf

bp = Blueprint("participant", __name__, template_folder="templates")


@bp.url_value_preprocessor
def _load_participant(endpoint, values):
    token = (values or {}).get("token")
    if token is None:
        return
    participant = services.find_by_token(token)
    if participant is None:
        abort(404)
    g.participant = participant
    g.token = token


def _participant() -> Participant:
    return g.participant


def _personal_url() -> str:
    return url_for("participant.resume", token=g.token, _external=True)


def _next_step_url(participant: Participant) -> str:
    token = g.token
    if participant.language is None:
        return url_for("participant.resume", token=token)
    if participant.status == ParticipantStatus.SUBMITTED:
        return url_for("participant.done", token=token)
    if participant.status == ParticipantStatus.REFUSED:
        return url_for("participant.declined", token=token)
    record = consent_services.latest_consent(participant)
    if record is None or not record.given:
        return url_for("participant.information", token=token)
    return url_for("participant.section", token=token, number=participant.current_section + 1)


@bp.get("/")
def home():
    return render_template("participant/home.html")


@bp.route("/s/<slug>", methods=["GET", "POST"])
@validates_own_csrf
def open_link(slug: str):
    """A study's open link: choose a language, then get a personal link of one's own."""
    study = services.find_open_study(slug)
    if study is None:
        abort(404)
    form = LanguageForm()
    chosen = request.form.get("language")
    if form.validate_on_submit() and chosen in i18n.LOCALES:
        participant, token = services.create_participant(study, source="open", language=chosen)
        g.participant, g.token = participant, token
        i18n.choose_locale(chosen)
        db.session.commit()
        return redirect(url_for("participant.information", token=token))
    return render_template("participant/choose_language.html", form=form, study=study), \
        (400 if form.errors else 200)


@bp.route("/p/<token>", methods=["GET", "POST"])
@validates_own_csrf
def resume(token: str):
    """The personal link: asks for a language the first time, then goes to where they were."""
    participant = _participant()
    if participant.language is not None:
        return redirect(_next_step_url(participant))
    form = LanguageForm()
    chosen = request.form.get("language")
    if form.validate_on_submit() and chosen in i18n.LOCALES:
        i18n.choose_locale(chosen)
        db.session.commit()
        return redirect(_next_step_url(participant))
    return render_template("participant/choose_language.html", form=form, study=participant.study), \
        (400 if form.errors else 200)


@bp.get("/p/<token>/information")
def information(token: str):
    participant = _participant()
    sheet = participant.study.information_sheet.as_information_sheet()
    return render_template("participant/information.html", sheet=sheet, participant=participant,
                           personal_url=_personal_url())


@bp.route("/p/<token>/consent", methods=["GET", "POST"])
@validates_own_csrf
def consent(token: str):
    participant = _participant()
    if participant.status == ParticipantStatus.SUBMITTED:
        return redirect(url_for("participant.done", token=token))
    consent_form = participant.study.consent_form.as_consent_form()
    form = consent_form_class(consent_form)()
    switch = i18n.switch_requested()
    if switch:
        i18n.choose_locale(switch)
        db.session.commit()
        form = consent_form_class(consent_form)()  # labels in the new language, ticks kept
        return render_template("participant/consent.html", form=form, consent_form=consent_form)

    missing = []
    if request.method == "POST" and form.validate():
        agreed = {item.id: bool(form[f"item_{item.id}"].data) for item in consent_form.items}
        if "decline" in request.form:
            consent_services.record_consent(participant, agreed, language=i18n.current_locale())
            db.session.commit()
            return redirect(url_for("participant.declined", token=token))
        missing = [item for item in consent_form.items if item.required and not agreed[item.id]]
        if not missing:
            consent_services.record_consent(participant, agreed, language=i18n.current_locale())
            participant.current_section = 0
            db.session.commit()
            return redirect(url_for("participant.section", token=token, number=1))
    status = 400 if (missing or form.errors) else 200
    return render_template("participant/consent.html", form=form, consent_form=consent_form,
                           missing=missing), status


@bp.get("/p/<token>/declined")
def declined(token: str):
    return render_template("participant/declined.html")


def _section_or_404(survey, number: int):
    if not 1 <= number <= len(survey.sections):
        abort(404)
    return survey.sections[number - 1]


@bp.route("/p/<token>/section/<int:number>", methods=["GET", "POST"])
@validates_own_csrf
def section(token: str, number: int):
    participant = _participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return redirect(_next_step_url(participant))
    if participant.status == ParticipantStatus.SUBMITTED:
        return redirect(url_for("participant.done", token=token))
    survey = participant.study.survey.as_survey()
    current = _section_or_404(survey, number)
    answers = responses.saved_answers(participant)
    form_class = section_form_class(current)

    if request.method == "GET":
        participant.current_section = number - 1
        db.session.commit()
        form = form_class(data=form_data_for(current, answers))
        return _render_section(survey, current, number, form, answers)

    form = form_class()
    switch = i18n.switch_requested()
    valid = form.validate()
    if form.csrf_failed:
        # Never discard what was posted: show it again with a fresh token.
        return _render_section(survey, current, number, form, answers, csrf_expired=True), 400
    try:
        responses.save_answers(participant, values_from(form, current, only_valid=True))
    except AlreadySubmitted:
        return redirect(url_for("participant.done", token=token))
    if switch:
        i18n.choose_locale(switch)
        db.session.commit()
        form = section_form_class(current)()  # labels in the new language, typed text kept
        form.validate()
        return _render_section(survey, current, number, form, responses.saved_answers(participant))
    if not valid:
        db.session.commit()
        return _render_section(survey, current, number, form, answers), 400

    action = request.form.get("action", "next")
    if action == "previous" and number > 1:
        target = number - 1
    elif action == "later":
        target = number
    else:
        target = number + 1
    participant.current_section = min(target, len(survey.sections)) - 1
    db.session.commit()
    if action == "later":
        return redirect(url_for("participant.saved", token=token))
    if target > len(survey.sections):
        return redirect(url_for("participant.review", token=token))
    return redirect(url_for("participant.section", token=token, number=target))


def _render_section(survey, current, number, form, answers, csrf_expired=False):
    visible = [q for q in current.questions if q.is_shown(answers)]
    return render_template(
        "participant/section.html", survey=survey, section=current, number=number,
        total=len(survey.sections), form=form, questions=visible, csrf_expired=csrf_expired,
    )


@bp.get("/p/<token>/saved")
def saved(token: str):
    return render_template("participant/saved.html", personal_url=_personal_url())


@bp.route("/p/<token>/review", methods=["GET", "POST"])
@validates_own_csrf
def review(token: str):
    participant = _participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return redirect(_next_step_url(participant))
    survey = participant.study.survey.as_survey()
    answers = responses.saved_answers(participant)
    unanswered = [
        (index + 1, q) for index, s in enumerate(survey.sections) for q in s.questions
        if q.required and q.is_shown(answers) and answers.get(q.key) in (None, "", {})
    ]
    form = SubmitForm()
    if request.method == "POST":
        if participant.status == ParticipantStatus.SUBMITTED:
            return redirect(url_for("participant.done", token=token))
        if form.validate() and not unanswered and answers:
            responses.submit(participant)
            db.session.commit()
            return redirect(url_for("participant.done", token=token))
    answered = sum(1 for q in survey.questions.values() if q.key in answers and q.is_shown(answers))
    summary = ngettext("You have answered %(num)d question.", "You have answered %(num)d questions.",
                       answered)
    status = 400 if request.method == "POST" else 200
    return render_template("participant/review.html", survey=survey, answers=answers,
                           unanswered=unanswered, form=form, summary=summary,
                           nothing_answered=not answers), status


@bp.get("/p/<token>/done")
def done(token: str):
    participant = _participant()
    if participant.status != ParticipantStatus.SUBMITTED:
        return redirect(_next_step_url(participant))
    return render_template("participant/done.html", participant=participant)

