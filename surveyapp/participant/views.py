"""The participant journey's entry: language, information sheet, consent, declining. The survey
pages are in ``survey_pages``, finishing later and the done page in ``way_back``."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, redirect, render_template, request, url_for

from surveyapp import i18n
from surveyapp.access import participant_link, public
from surveyapp.consent import services as consent_services
from surveyapp.db import utcnow
from surveyapp.extensions import db
from surveyapp.nominees.models import Nominee
from surveyapp.participant import (  # noqa: F401 (their routes join bp)
    services,
    survey_pages,
    way_back,
    withdrawal_pages,
)
from surveyapp.participant.blueprint import (
    bp,
    current_participant,
    limited,
    link_route,
    next_step_url,
    personal_url,
    start_session,
)
from surveyapp.participant.forms import ActionForm, consent_form_class
from surveyapp.participant.models import ParticipantStatus
from surveyapp.responses import services as responses
from surveyapp.web import validates_own_csrf

__all__ = ["bp"]


@bp.get("/")
@public
def home():
    return render_template("participant/home.html")


@bp.route("/s/<slug:slug>", methods=["GET", "POST"])
@limited("open_link", "PARTICIPANT_OPEN_LINK_LIMIT", methods=["POST"])
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
        start_session(participant, token)
        return redirect(url_for("participant.information"))
    return render_template("participant/choose_language.html", form=form, study=study), \
        (400 if form.errors else 200)


@link_route("", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def resume():
    """The personal link: asks for a language the first time, then goes to where they were."""
    participant = current_participant()
    if participant.opened_at is None:
        participant.opened_at = utcnow()
        db.session.commit()
    if participant.language is not None:
        return redirect(next_step_url(participant))
    form = ActionForm()
    chosen = request.form.get("language")
    if form.validate_on_submit() and chosen in i18n.LOCALES:
        i18n.choose_locale(chosen)
        db.session.commit()
        return redirect(next_step_url(participant))
    return render_template("participant/choose_language.html", form=form, study=participant.study), \
        (400 if form.errors else 200)


@link_route("/information")
@participant_link
def information():
    participant = current_participant()
    sheet = participant.study.information_sheet.as_information_sheet()
    minutes = responses.survey_for(participant).estimated_minutes
    return render_template("participant/information.html", sheet=sheet, participant=participant,
                           personal_url=personal_url(), minutes=minutes)


@link_route("/consent", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def consent():
    participant = current_participant()
    if participant.status in (ParticipantStatus.SUBMITTED, ParticipantStatus.WITHDRAWN):
        return redirect(next_step_url(participant))
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
            return redirect(url_for("participant.declined"))
        missing = [item for item in consent_form.items if item.required and not agreed[item.id]]
        if not missing:
            consent_services.record_consent(participant, agreed, language=i18n.current_locale())
            participant.current_section = 0
            db.session.commit()
            return redirect(url_for("participant.section", number=1))
    status = 400 if (missing or form.errors) else 200
    return render_template("participant/consent.html", form=form, consent_form=consent_form,
                           missing=missing), status


@link_route("/decline", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def decline():
    """The one-click "no thank you" from an invitation email, confirmed on a page. It stops
    every further email. Someone who has already consented keeps their answers (withdrawing
    them is a separate request to the research team)."""
    participant = current_participant()
    if participant.status in (ParticipantStatus.SUBMITTED, ParticipantStatus.WITHDRAWN):
        return redirect(next_step_url(participant))
    started = participant.status == ParticipantStatus.CONSENTED
    form = ActionForm()
    if form.validate_on_submit():
        nominee = db.session.scalar(sa.select(Nominee).where(Nominee.participant_id == participant.id))
        if nominee is not None and nominee.declined_at is None:
            nominee.declined_at = utcnow()
        if not started:
            participant.status = ParticipantStatus.DECLINED.value
        db.session.commit()
        return redirect(url_for("participant.declined"))
    return render_template("participant/decline.html", form=form, started=started), \
        400 if form.errors else 200


@link_route("/declined")
@participant_link
def declined():
    participant = current_participant()
    started = participant.status == ParticipantStatus.CONSENTED
    return render_template("participant/declined.html", started=started)
