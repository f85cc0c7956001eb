"""The survey's pages: one section at a time, autosave, and the review before submitting."""

from __future__ import annotations

from flask import abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from surveyapp import i18n
from surveyapp.access import participant_link
from surveyapp.consent import services as consent_services
from surveyapp.errors import AlreadySubmitted, ConsentRequired
from surveyapp.extensions import db
from surveyapp.participant import services
from surveyapp.participant.blueprint import current_participant, limited, link_route, next_step_url
from surveyapp.participant.forms import (
    OTHER_SUFFIX,
    ActionForm,
    ShownSection,
    form_data_for,
    question_form_class,
    section_form_class,
    value_from,
    values_from,
)
from surveyapp.participant.models import ParticipantStatus
from surveyapp.responses import services as responses
from surveyapp.web import answer_text, validates_own_csrf


def _section_or_404(survey, number: int):
    if not 1 <= number <= len(survey.sections):
        abort(404)
    return survey.sections[number - 1]


def _survey_page(number: int):
    """The participant, survey and section for a survey page, or a redirect away from it."""
    participant = current_participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return None, redirect(next_step_url(participant))
    if participant.status == ParticipantStatus.SUBMITTED:  # (withdrawn: refused by require_consent)
        return None, redirect(url_for("participant.done"))
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


@link_route("/section/<id:number>", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def section(number: int):
    page, away = _survey_page(number)
    if away:
        return away
    participant, survey, current = page
    state = responses.saved_state(participant)
    answers = {k: a.value for k, a in state.items() if a.value is not None}
    revisions = {k: a.revision for k, a in state.items()}

    if request.method == "GET":
        prefilled = services.prefill_from_nominee(participant, current, state)
        shown = ShownSection(current, form_data_for(current, {**answers, **prefilled}))
        page = _render_section(survey, current, number, shown, answers, revisions, prefilled=prefilled)
        # Where their link takes them back to: written only when it changes (reading the
        # page again writes nothing), and only once the page is built, so the commit (which
        # expires every loaded row) ends the request rather than splitting it.
        if services.remember_section(participant, number - 1):
            db.session.commit()
        return page

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
        return redirect(url_for("participant.done"))
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
        return redirect(url_for("participant.review"))
    if action == "previous" and number > 1:
        target = number - 1
    elif action == "later":
        target = number
    else:
        target = number + 1
    participant.current_section = min(target, len(survey.sections)) - 1
    db.session.commit()
    if action == "later":
        return redirect(url_for("participant.saved"))
    if target > len(survey.sections):
        return redirect(url_for("participant.review"))
    return redirect(url_for("participant.section", number=target))


@link_route("/section/<id:number>/autosave", methods=["POST"],
            limits=[limited("autosave", "PARTICIPANT_AUTOSAVE_LIMIT")])
@validates_own_csrf
@participant_link
def autosave(number: int):
    """Save one answer while it is typed. Answers JSON; the page's script shows the status."""
    page, away = _survey_page(number)
    if away and current_participant().status == ParticipantStatus.WITHDRAWN:
        return jsonify(status="withdrawn", message=_(
            "Not saved: you have withdrawn from the study, so nothing more can be saved.")), 409
    if away:
        return jsonify(status="closed", message=_("This page can no longer be changed.")), 409
    participant, survey, current = page
    key = request.form.get("_question", "")
    question = next((q for q in current.questions if q.key == key), None)
    if question is None:
        abort(400)
    if not _csrf_valid():
        # The session or key changed: hand out a fresh token so the script can retry.
        return jsonify(status="csrf", csrf_token=generate_csrf(),
                       message=_("Not saved, retrying")), 400
    # Only the posted question is checked, with its own field's checks (the same as on the
    # section's form, so the same messages).
    form = question_form_class(question)(meta={"csrf": False})
    form.validate()
    if form[key].errors:
        return jsonify(status="invalid", message=form[key].errors[0]), 400
    value = value_from(form, question)
    raw = request.form.get(f"_rev_{key}", "")
    base = int(raw) if raw.isdigit() else None
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


def _csrf_valid() -> bool:
    """The form token checked as the section's form would check it, without building the form."""
    config = current_app.config
    if not config.get("WTF_CSRF_ENABLED", True) or g.get("csrf_valid", False):
        return True
    try:
        validate_csrf(request.form.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token")))
    except ValidationError:
        return False
    return True


def _render_section(survey, current, number, form, answers, revisions, *, csrf_expired=False,
                    conflicts=None, prefilled=None):
    visible = [q for q in current.questions if q.is_shown(answers)]
    from_review = request.values.get("return") == "review"
    return render_template(
        "participant/section.html", survey=survey, section=current, number=number,
        total=len(survey.sections), form=form, questions=visible, csrf_expired=csrf_expired,
        revisions=revisions, conflicts=conflicts or {}, prefilled=prefilled or {},
        from_review=from_review,
        autosave_url=url_for("participant.autosave", number=number),
    )


@link_route("/review", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def review():
    participant = current_participant()
    try:
        consent_services.require_consent(participant)
    except ConsentRequired:
        return redirect(next_step_url(participant))
    survey = responses.survey_for(participant)
    answers = responses.saved_answers(participant)
    unanswered = [
        (index + 1, q) for index, s in enumerate(survey.sections) for q in s.questions
        if q.required and q.is_shown(answers) and answers.get(q.key) in (None, "", {})
    ]
    form = ActionForm()
    refused = []
    if request.method == "POST":
        if participant.status == ParticipantStatus.SUBMITTED:
            return redirect(url_for("participant.done"))
        if form.validate() and not unanswered and answers:
            try:
                responses.submit(participant)
            except responses.AnswerRejected as exc:
                # An answer stored before its question had a limit: say which, keep everything.
                db.session.rollback()
                refused = [(index + 1, q, exc.problems[q.key]) for index, s in enumerate(survey.sections)
                           for q in s.questions if q.key in exc.problems]
            else:
                db.session.commit()
                return redirect(url_for("participant.done"))
    answered = sum(1 for q in survey.questions.values() if q.key in answers and q.is_shown(answers))
    summary = ngettext("You have answered %(num)d question.", "You have answered %(num)d questions.",
                       answered)
    status = 400 if request.method == "POST" else 200
    return render_template("participant/review.html", survey=survey, answers=answers,
                           unanswered=unanswered, refused=refused, form=form, summary=summary,
                           nothing_answered=not answers), status
