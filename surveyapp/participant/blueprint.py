"""The participant blueprint: the participant behind a personal link, the study on every page,
and where in the journey someone belongs. Shared by the participant view modules."""

from __future__ import annotations

from flask import Blueprint, abort, g, url_for

from surveyapp.consent import services as consent_services
from surveyapp.participant import services
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.studies.contacts import study_contacts

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


def current_participant() -> Participant:
    return g.participant


def personal_url() -> str:
    return url_for("participant.resume", token=g.token, _external=True)


def next_step_url(participant: Participant) -> str:
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
