"""Researchers send invitations and reminders as batches run by the worker, and watch them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from surveyapp.access import Role, roles_required
from surveyapp.extensions import db
from surveyapp.invitations import services
from surveyapp.invitations.models import (
    BATCH_TITLES,
    KIND_TITLES,
    MESSAGE_TITLES,
    REASON_TITLES,
    Batch,
    Message,
    MessageKind,
    MessageStatus,
)
from surveyapp.studies.services import current_study
from surveyapp.tasks import enqueue
from surveyapp.text import isolated

bp = Blueprint("invitations", __name__, template_folder="templates", url_prefix="/researcher/invitations")


@bp.get("/")
@roles_required(Role.RESEARCHER)
def index():
    study = current_study()
    batches = db.session.scalars(sa.select(Batch).where(Batch.study_id == study.id)
                                 .order_by(Batch.id.desc())).all()
    return render_template(
        "invitations/index.html", study=study, batches=batches,
        to_invite=len(services.nominees_to_invite(study)), to_remind=len(services.nominees_to_remind(study)),
        counts=services.counts_by_batch([b.id for b in batches]), kind_titles=KIND_TITLES, batch_titles=BATCH_TITLES,
    )


@bp.post("/send/<kind>")
@roles_required(Role.RESEARCHER)
def send(kind: str):
    if kind not in (MessageKind.INVITATION, MessageKind.REMINDER):
        abort(404)
    study = current_study()
    try:
        # An unfinished batch (the mail server was down, the worker stopped) is sent again first.
        batch = services.resume_or_create(study, MessageKind(kind), created_by_id=current_user.id)
    except services.NothingToSend:
        flash(_("There is nobody to send to."))
        return redirect(url_for("invitations.index"))
    db.session.commit()
    enqueue("send_batch", batch.id)  # the worker sends; this request only queues
    waiting = services.counts(batch)["pending"]
    flash(ngettext("%(num)d message queued.", "%(num)d messages queued.", waiting))
    return redirect(url_for("invitations.batch", batch_id=batch.id))


def _batch_or_404(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/batches/<id:batch_id>")
@roles_required(Role.RESEARCHER)
def batch(batch_id: int):
    batch = _batch_or_404(batch_id)
    return render_template("invitations/batch.html", batch=batch, counts=services.counts(batch),
                           message_titles=MESSAGE_TITLES, batch_titles=BATCH_TITLES, kind_titles=KIND_TITLES,
                           resendable=services.RESENDABLE, outcome=outcome)


@bp.get("/batches/<id:batch_id>/progress")
@roles_required(Role.RESEARCHER)
def progress(batch_id: int):
    batch = _batch_or_404(batch_id)
    counts = services.counts(batch)
    done = counts["total"] - counts[MessageStatus.PENDING.value] - counts[MessageStatus.SENDING.value]
    return jsonify(status=batch.status, done=done, total=counts["total"], counts=counts,
                   message=_("%(done)d of %(total)d handled: %(sent)d sent, %(failed)d failed.",
                             done=done, total=counts["total"], sent=counts[MessageStatus.SENT.value],
                             failed=counts[MessageStatus.FAILED.value]))


@bp.post("/messages/<id:message_id>/resend")
@roles_required(Role.RESEARCHER)
def resend(message_id: int):
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404)
    old_batch_id, name = message.batch_id, message.nominee.name
    try:
        batch = services.resend(message_id)
    except services.AlreadyHandled:
        db.session.rollback()
        flash(_("The message to %(name)s has already been sent again, or sent; it was not queued a second time.",
                name=isolated(name)))
        return redirect(url_for("invitations.batch", batch_id=old_batch_id))
    db.session.commit()
    enqueue("send_batch", batch.id)
    flash(_("The message to %(name)s has been queued again.", name=isolated(name)))
    return redirect(url_for("invitations.batch", batch_id=batch.id))


def outcome(message: Message) -> Markup | None:
    """The app's own reason for a message's outcome, in the reader's language, naming the
    nominee (isolated, so a right-to-left name cannot turn the sentence around); None when
    ``smtp_reply`` holds the mail server's words instead."""
    reason = message.reason
    if reason is None:
        return None
    nominee = message.nominee
    template = Markup.escape(str(REASON_TITLES[reason]))  # translated, placeholders kept
    return template % {"name": Markup("<bdi>%s</bdi>") % nominee.name,
                       "email": Markup("<bdi>%s</bdi>") % nominee.email}
