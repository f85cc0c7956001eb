"""Researchers' withdrawal pages: record a withdrawal heard by email or phone; decide late ones.

Researchers only: administrators do not see participants' data here, and reviewers see
withdrawals in the consent register, read-only."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from surveyapp.access import Role, roles_required
from surveyapp.db import db, utcnow
from surveyapp.studies.services import current_study
from surveyapp.web import validates_own_csrf
from surveyapp.withdrawal import services
from surveyapp.withdrawal.forms import DecideForm, RecordWithdrawalForm
from surveyapp.withdrawal.models import CHANNEL_TITLES, OUTCOME_TITLES, SCOPE_TITLES, Outcome, Scope, Withdrawal

bp = Blueprint("withdrawals", __name__, template_folder="templates", url_prefix="/researcher/withdrawals")

TITLES = {"scope_titles": SCOPE_TITLES, "channel_titles": CHANNEL_TITLES, "outcome_titles": OUTCOME_TITLES}


def _page_argument() -> int:
    value = request.args.get("page", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 1


@bp.get("/")
@roles_required(Role.RESEARCHER)
def index():
    study = current_study()
    withdrawals, page, pages = services.withdrawals_page(study, _page_argument())
    return render_template("withdrawals/index.html", withdrawals=withdrawals, page=page, pages=pages,
                           flagged=services.flagged_count(study), **TITLES)


def _requested_at(day) -> datetime:
    """When the participant asked, from the day the researcher heard: now if today, else the
    start of that day (the earliest it can have been, which favours the participant when it
    is judged against the cut-off)."""
    if day >= utcnow().date():
        return utcnow()
    return datetime.combine(day, time.min, tzinfo=UTC)


@bp.route("/new", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def new():
    study = current_study()
    form = RecordWithdrawalForm()
    if not form.is_submitted() and request.args.get("participant"):
        form.participant.data = request.args["participant"][:40]  # from a link, e.g. the nominee page
    valid = form.validate_on_submit()
    # The participant is looked up whatever else is wrong, so every problem is listed at once.
    participant = _named_participant(study, form) if form.is_submitted() else None
    if valid and participant is not None:
        result = services.withdraw(participant, Scope(form.scope.data), form.channel.data,
                                   recorded_by=current_user.id, requested_at=_requested_at(form.received_on.data))
        db.session.commit()
        flash(_message(result, participant.pid_label))
        return redirect(url_for("withdrawals.index"))
    return render_template("withdrawals/new.html", form=form), 400 if form.errors else 200


def _named_participant(study, form: RecordWithdrawalForm):
    """The participant the form names, or None with the reason added to the field's errors."""
    if not form.participant.data or form.participant.errors:
        return None
    participant = services.find_participant(study, form.participant.data)
    if participant is None:
        form.participant.errors.append(_("No participant has that ID or reference. Check it and try again."))
    elif not services.can_withdraw(participant):
        form.participant.errors.append(_("This participant has not consented, so there is nothing to withdraw."))
        participant = None
    return participant


def _message(result: services.Result, pid: str) -> str:
    if not result.changed:
        return _("%(pid)s had already withdrawn: nothing was changed.", pid=pid)
    if result.withdrawal.outcome == Outcome.FLAGGED:
        return _("The withdrawal of %(pid)s was recorded after the cut-off: it waits for a decision below.", pid=pid)
    if result.withdrawal.scope == Scope.ANSWERS:
        return _("The withdrawal of %(pid)s was recorded and their answers were erased.", pid=pid)
    return _("The withdrawal of %(pid)s was recorded. Their answers are kept.", pid=pid)


def _withdrawal_or_404(withdrawal_id: int) -> Withdrawal:
    withdrawal = db.session.get(Withdrawal, withdrawal_id)
    if withdrawal is None or withdrawal.participant.study_id != current_study().id:
        abort(404)
    return withdrawal


@bp.route("/<id:withdrawal_id>/decide", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def decide(withdrawal_id: int):
    withdrawal = _withdrawal_or_404(withdrawal_id)
    pid = withdrawal.participant.pid_label
    if withdrawal.outcome != Outcome.FLAGGED:
        flash(_("The withdrawal of %(pid)s has already been decided: nothing was changed.", pid=pid))
        return redirect(url_for("withdrawals.index"))
    form = DecideForm()
    if form.validate_on_submit():
        apply = form.decision.data == "apply"
        try:
            services.decide(withdrawal, apply=apply, decided_by=current_user.id, reason=form.reason.data)
        except services.AlreadyDecided:  # decided in another tab meanwhile
            db.session.rollback()
            flash(_("The withdrawal of %(pid)s has already been decided: nothing was changed.", pid=pid))
            return redirect(url_for("withdrawals.index"))
        db.session.commit()
        if apply and withdrawal.scope == Scope.ANSWERS:
            flash(_("The answers of %(pid)s have been erased.", pid=pid))
        else:
            flash(_("The answers of %(pid)s are kept. The reason has been recorded.", pid=pid))
        return redirect(url_for("withdrawals.index"))
    return render_template("withdrawals/decide.html", withdrawal=withdrawal, form=form, **TITLES), \
        400 if form.errors else 200
