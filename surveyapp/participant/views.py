"""The participant journey: language, information sheet, consent, survey, review, submit."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from surveyapp import i18n
from surveyapp.access import participant_link, public
from surveyapp.consent import services as consent_services
from surveyapp.db import utcnow
from surveyapp.errors import AlreadySubmitted, ConsentRequired
from surveyapp.extensions import db
from surveyapp.nominees.models import Nominee
from surveyapp.participant import services
from surveyapp.participant.forms import (
    OTHER_SUFFIX,
    ActionForm,
    EmailLinkForm,
    consent_form_class,
    form_data_for,
    section_form_class,
    values_from,
)
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses import services as responses
from surveyapp.studies.contacts import study_contacts
from surveyapp.web import answer_text, validates_own_csrf

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


@bp.context_processor
def _study_context():
    """The study on every participant page: its notice and contacts, in any language."""
    participant = g.get("participant")
    study = participant.study if participant is not None else g.get("study")

    def contacts_in(locale: str):
        return study_contacts(study, locale) if study is not None else None

    return {"study": study, "contacts_in": contacts_in}


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
    if participant.status in (ParticipantStatus.REFUSED, ParticipantStatus.DECLINED):
        return url_for("participant.declined", token=token)
    record = consent_services.latest_consent(participant)
    if record is None or not record.given:
        return url_for("participant.information", token=token)
    return url_for("participant.section", token=token, number=participant.current_section + 1)


@bp.get("/")
@public
def home():
    return render_template("participant/home.html")


@bp.route("/s/<slug>", methods=["GET", "POST"])
@validates_own_csrf
@public
def open_link(slug: str):
    """A study's open link: choose a language, then get a personal link of one's own."""
    study = services.find_open_study(slug)
    if study is None:
        abort(404)
    g.study = study
    form = ActionForm()
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
@participant_link
def resume(token: str):
    """The personal link: asks for a language the first time, then goes to where they were."""
    participant = _participant()
    if participant.opened_at is None:
        participant.opened_at = utcnow()
        db.session.commit()
    if participant.language is not None:
        return redirect(_next_step_url(participant))
    form = ActionForm()
    chosen = request.form.get("language")
    if form.validate_on_submit() and chosen in i18n.LOCALES:
        i18n.choose_locale(chosen)
        db.session.commit()
        return redirect(_next_step_url(participant))
    return render_template("participant/choose_language.html", form=form, study=participant.study), \
        (400 if form.errors else 200)


@bp.get("/p/<token>/information")
@participant_link
def information(token: str):
    participant = _participant()
    sheet = participant.study.information_sheet.as_information_sheet()
    minutes = responses.survey_for(participant).estimated_minutes
    return render_template("participant/information.html", sheet=sheet, participant=participant,
                           personal_url=_personal_url(), minutes=minutes)


@bp.route("/p/<token>/consent", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
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


@bp.route("/p/<token>/decline", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def decline(token: str):
    """The one-click "no thank you" from an invitation email, confirmed on a page. It stops
    every further email. Someone who has already consented keeps their answers (withdrawing
    them is a separate request to the research team)."""
    participant = _participant()
    if participant.status == ParticipantStatus.SUBMITTED:
        return redirect(_next_step_url(participant))
    started = participant.status == ParticipantStatus.CONSENTED
    form = ActionForm()
    if form.validate_on_submit():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.participant_id == participant.id))
        if nominee is not None and nominee.declined_at is None:
            nominee.declined_at = utcnow()
        if not started:
            participant.status = ParticipantStatus.DECLINED.value
        db.session.commit()
        return redirect(url_for("participant.declined", token=token))
    return render_template("participant/decline.html", form=form, started=started), \
        400 if form.errors else 200


@bp.get("/p/<token>/declined")
@participant_link
def declined(token: str):
    participant = _participant()
    started = participant.status == ParticipantStatus.CONSENTED
    return render_template("participant/declined.html", started=started)


def _section_or_404(survey, number: int):
    if not 1 <= number <= len(survey.sections):
        abort(404)
    return survey.sections[number - 1]


def _survey_page(token: str, number: int):
    """The participant, survey and section for a survey page, or a redirect away from it."""
    participant = _participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return None, redirect(_next_step_url(participant))
    if participant.status == ParticipantStatus.SUBMITTED:
        return None, redirect(url_for("participant.done", token=token))
    survey = responses.survey_for(participant)
    return (participant, survey, _section_or_404(survey, number)), None


def _posted_revisions(current) -> dict[str, int]:
    """The revision each answer had when this page was shown (``_rev_<key>`` fields)."""
    revisions = {}
    for question in current.questions:
        raw = request.form.get(f"_rev_{question.key}", "")
        if raw.isdigit():
            revisions[question.key] = int(raw)
    return revisions


@bp.route("/p/<token>/section/<int:number>", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def section(token: str, number: int):
    page, away = _survey_page(token, number)
    if away:
        return away
    participant, survey, current = page
    state = responses.saved_state(participant)
    answers = {k: a.value for k, a in state.items() if a.value is not None}
    revisions = {k: a.revision for k, a in state.items()}

    if request.method == "GET":
        participant.current_section = number - 1
        db.session.commit()
        prefilled = services.prefill_from_nominee(participant, current, state)
        form = section_form_class(current)(data=form_data_for(current, {**answers, **prefilled}))
        return _render_section(survey, current, number, form, answers, revisions, prefilled=prefilled)

    form = section_form_class(current)()
    valid = form.validate()
    if form.csrf_failed:
        # Never discard what was posted: show it again with a fresh token.
        return _render_section(survey, current, number, form, answers, _posted_revisions(current),
                               csrf_expired=True), 400

    values = values_from(form, current, only_valid=True)
    base = _posted_revisions(current)
    keep_key, _, keep = request.form.get("_keep", "").partition(":")
    if keep_key in values and keep == "theirs":
        del values[keep_key]
    elif keep_key in values and keep == "mine":
        base[keep_key] = revisions.get(keep_key, 0)
    try:
        result = responses.save_answers(participant, values, base)
    except AlreadySubmitted:
        return redirect(url_for("participant.done", token=token))
    revisions.update(result.revisions)
    revisions.update({k: c.revision for k, c in result.conflicts.items()})
    switch = i18n.switch_requested()
    if switch:
        i18n.choose_locale(switch)
    db.session.commit()

    if switch or keep_key or result.conflicts or not valid:
        answers = responses.saved_answers(participant)
        form = section_form_class(current)()  # labels in the (new) language, typed text kept
        form.validate()
        if keep == "theirs":
            form[keep_key].data = form_data_for(current, answers)[keep_key]
            form[keep_key].raw_data = None
        status = 200 if (switch or keep_key) and valid else 400
        if result.conflicts:
            status = 409
        return _render_section(survey, current, number, form, answers, revisions,
                               conflicts=result.conflicts), status

    action = request.form.get("action", "next")
    if action == "review":
        # Came from the review page to put one answer right: go straight back there.
        participant.current_section = number - 1
        db.session.commit()
        return redirect(url_for("participant.review", token=token))
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


@bp.post("/p/<token>/section/<int:number>/autosave")
@validates_own_csrf
@participant_link
def autosave(token: str, number: int):
    """Save one answer while it is typed. Answers JSON; the page's script shows the status."""
    page, away = _survey_page(token, number)
    if away:
        return jsonify(status="closed", message=_("This page can no longer be changed.")), 409
    participant, survey, current = page
    form = section_form_class(current)()
    key = request.form.get("_question", "")
    if key not in {q.key for q in current.questions}:
        abort(400)
    form.validate()
    if form.csrf_failed:
        # The session or key changed: hand out a fresh token so the script can retry.
        return jsonify(status="csrf", csrf_token=generate_csrf(),
                       message=_("Not saved, retrying")), 400
    if form[key].errors:
        return jsonify(status="invalid", message=form[key].errors[0]), 400
    value = values_from(form, current, only_valid=False)[key]
    base = _posted_revisions(current).get(key)
    if request.form.get("_keep") == "mine":
        state = responses.saved_state(participant).get(key)
        base = state.revision if state else 0
    try:
        result = responses.save_answers(participant, {key: value}, {key: base} if base is not None else None)
    except AlreadySubmitted:
        return jsonify(status="closed", message=_("This page can no longer be changed.")), 409
    db.session.commit()
    if key in result.conflicts:
        conflict = result.conflicts[key]
        question = survey.questions[key]
        return jsonify(status="conflict", revision=conflict.revision,
                       theirs=answer_text(question, conflict.value),
                       theirs_data={name: data for name, data in form_data_for(current, {key: conflict.value}).items()
                                    if name in (key, key + OTHER_SUFFIX)},
                       message=_("Not saved: this answer was changed in another window.")), 409
    when = format_datetime(result.saved_at, "HH:mm")
    return jsonify(status="saved", revision=result.revisions.get(key, 0),
                   message=_("Saved %(time)s", time=when))


def _render_section(survey, current, number, form, answers, revisions, *, csrf_expired=False,
                    conflicts=None, prefilled=None):
    visible = [q for q in current.questions if q.is_shown(answers)]
    from_review = request.values.get("return") == "review"
    return render_template(
        "participant/section.html", survey=survey, section=current, number=number,
        total=len(survey.sections), form=form, questions=visible, csrf_expired=csrf_expired,
        revisions=revisions, conflicts=conflicts or {}, prefilled=prefilled or {},
        from_review=from_review,
        autosave_url=url_for("participant.autosave", token=g.token, number=number),
    )


@bp.get("/p/<token>/saved")
@participant_link
def saved(token: str):
    return render_template("participant/saved.html", personal_url=_personal_url(), form=EmailLinkForm(),
                           sent=request.args.get("sent") == "1")


@bp.post("/p/<token>/email-link")
@validates_own_csrf
@participant_link
def email_link(token: str):
    """Send the personal link to an address typed here; the address is not stored."""
    participant = _participant()
    form = EmailLinkForm()
    if form.validate():
        try:
            services.email_personal_link(participant, form.email.data, _personal_url(), i18n.current_locale())
        except services.TooManyLinkEmails:
            form.email.errors.append(_("You have asked for your link several times in the last hour. "
                                       "Please copy the link on this page instead, or try again later."))
        except services.LinkEmailNotSent:
            form.email.errors.append(_("We could not send the email just now. Please copy the link on "
                                       "this page instead, or try again later."))
        else:
            db.session.commit()
            return redirect(url_for("participant.saved", token=token, sent=1))
    return render_template("participant/saved.html", personal_url=_personal_url(), form=form), 400


@bp.route("/p/<token>/review", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def review(token: str):
    participant = _participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return redirect(_next_step_url(participant))
    survey = responses.survey_for(participant)
    answers = responses.saved_answers(participant)
    unanswered = [
        (index + 1, q) for index, s in enumerate(survey.sections) for q in s.questions
        if q.required and q.is_shown(answers) and answers.get(q.key) in (None, "", {})
    ]
    form = ActionForm()
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
@participant_link
def done(token: str):
    participant = _participant()
    if participant.status != ParticipantStatus.SUBMITTED:
        return redirect(_next_step_url(participant))
    return render_template("participant/done.html", participant=participant)

