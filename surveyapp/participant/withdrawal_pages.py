"""Withdrawing from the study, from the participant's own link: what each choice does and the
cut-off, a confirmation, then a page saying it is done. Someone who has not consented has
nothing to withdraw: they are sent to "decline" (or to the page saying they declined)."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from surveyapp.access import participant_link
from surveyapp.db import utcnow
from surveyapp.extensions import db
from surveyapp.participant.blueprint import current_participant, link_route, next_step_url
from surveyapp.participant.models import ParticipantStatus
from surveyapp.web import validates_own_csrf
from surveyapp.withdrawal import services as withdrawals
from surveyapp.withdrawal.forms import ParticipantWithdrawForm
from surveyapp.withdrawal.models import SCOPE_TITLES, Channel, Scope


def _cutoff_context(participant) -> dict:
    cutoff = withdrawals.cutoff_for(participant)
    return {"cutoff": cutoff, "past_cutoff": cutoff is not None and utcnow() > cutoff,
            "window_days": participant.study.withdrawal_window_days}


@link_route("/withdraw", methods=["GET", "POST"])
@validates_own_csrf
@participant_link
def withdraw():
    participant = current_participant()
    if not withdrawals.can_withdraw(participant):
        if participant.status == ParticipantStatus.STARTED:
            return redirect(url_for("participant.decline"))
        return redirect(next_step_url(participant))
    existing = participant.withdrawal
    if existing is not None and existing.scope == Scope.ANSWERS:
        return redirect(url_for("participant.withdrawn"))  # nothing wider to ask for
    form = ParticipantWithdrawForm()
    if existing is not None and not form.scope.data:
        form.scope.data = Scope.ANSWERS.value  # only widening is left to ask for
    if form.validate_on_submit():
        withdrawals.withdraw(participant, Scope(form.scope.data), Channel.LINK)
        db.session.commit()
        return redirect(url_for("participant.withdrawn"))
    return render_template("participant/withdraw.html", form=form, participant=participant, existing=existing,
                           scope_titles=SCOPE_TITLES, **_cutoff_context(participant)), 400 if form.errors else 200


@link_route("/withdrawn")
@participant_link
def withdrawn():
    participant = current_participant()
    withdrawal = participant.withdrawal
    if withdrawal is None or participant.status != ParticipantStatus.WITHDRAWN:
        return redirect(next_step_url(participant))
    return render_template("participant/withdrawn.html", participant=participant, withdrawal=withdrawal)
