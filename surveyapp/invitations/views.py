"""Researchers send invitations and reminders as batches run by the worker, and watch them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from surveyapp import security
from surveyapp.access import Role, roles_required
from surveyapp.extensions import db
from surveyapp.invitations import outcomes, preview, services
from surveyapp.invitations.forms import ConfirmForm, TestEmailForm
from surveyapp.invitations.models import (
    BATCH_TITLES,
    KIND_TITLES,
    MESSAGE_TITLES,
    Batch,
    Message,
    MessageKind,
    MessageStatus,
)
from surveyapp.studies.services import current_study
from surveyapp.tasks import enqueue
from surveyapp.text import isolated

bp = Blueprint("invitations", __name__, template_folder="templates", url_prefix="/researcher/invitations")

BATCHES_PER_PAGE = 20
LANGUAGE_TITLES = {"cy": _l("In Welsh"), "en": _l("In English"), "bilingual": _l("In Welsh and English")}
TEST_BUTTONS = {"cy": _l("Send me a test of the Welsh email"), "en": _l("Send me a test of the English email"),
                "bilingual": _l("Send me a test of the email in Welsh and English")}


def _kind(kind: str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        abort(404)


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """The page links to show: the first, the last and two either side of this one; None
    where some are left out."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


@bp.get("/")
@roles_required(Role.RESEARCHER)
def index():
    study = current_study()
    batches, page, pages = services.batches_page(study, _page_argument(), BATCHES_PER_PAGE)
    return render_template(
        "invitations/index.html", study=study, batches=batches, page=page, pages=pages,
        page_numbers=_page_numbers(page, pages),
        to_invite=len(services.nominees_to_invite(study)), to_remind=len(services.nominees_to_remind(study)),
        counts=services.counts_by_batch([b.id for b in batches]), kind_titles=KIND_TITLES, batch_titles=BATCH_TITLES,
    )


def _page_argument() -> int:
    """?page=N; anything that is not a page number is page 1."""
    value = request.args.get("page", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 1


def _preview(study, kind: MessageKind, *, changed: bool = False, status: int = 200):
    """The preview page: who gets what, who does not and why, and the confirmation."""
    selection = preview.select(study, kind)
    unfinished = services.unfinished_batch(study, kind)
    waiting = services.counts(unfinished)[MessageStatus.PENDING.value] if unfinished is not None else 0
    confirm = resume = None
    if unfinished is None and selection.to_send:
        confirm = ConfirmForm(token=preview.issue_token(kind, current_user.id, selection=selection))
    if unfinished is not None and waiting:
        resume = ConfirmForm(token=preview.issue_token(kind, current_user.id, batch_id=unfinished.id))
    return render_template(
        "invitations/preview.html", kind=kind, selection=selection, samples=preview.samples(selection),
        skip_titles=preview.skip_titles(), unfinished=unfinished, waiting=waiting, confirm=confirm, resume=resume,
        changed=changed, batch_titles=BATCH_TITLES, language_titles=LANGUAGE_TITLES, test_buttons=TEST_BUTTONS,
    ), status


@bp.get("/send/<kind>")
@roles_required(Role.RESEARCHER)
def preview_page(kind: str):
    return _preview(current_study(), _kind(kind))


@bp.post("/send/<kind>")
@roles_required(Role.RESEARCHER)
def send(kind: str):
    """Queue the batch the researcher confirmed on the preview, and only that one."""
    kind, study = _kind(kind), current_study()
    form = ConfirmForm()  # its CSRF token was checked before the view, as for every POST
    try:
        batch = services.confirm(study, kind, form.token.data, current_user.id)
    except preview.ConfirmationRefused:
        db.session.rollback()
        return render_template("invitations/refused.html", kind=kind), 400
    except services.ListChanged:
        db.session.rollback()
        return _preview(study, kind, changed=True, status=409)
    db.session.commit()
    enqueue("send_batch", batch.id)  # the worker sends; this request only queues
    waiting = services.counts(batch)["pending"]
    flash(ngettext("%(num)d message queued.", "%(num)d messages queued.", waiting))
    return redirect(url_for("invitations.batch", batch_id=batch.id))


@bp.post("/send/<kind>/test", merge_slashes=False)  # "..%2F" as the kind: a 404, not a redirect
@roles_required(Role.RESEARCHER)
def send_test(kind: str):
    """The previewed email, marked as a test, to the signed-in researcher only."""
    kind, study = _kind(kind), current_study()
    form = TestEmailForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the languages shown."))
        return redirect(url_for("invitations.preview_page", kind=kind.value))
    result = preview.send_test(study, kind, form.language.data, current_user.name, current_user.email)
    security.log_event(security.TEST_EMAIL_SENT, user_id=current_user.id, message_kind=kind.value,
                       language=form.language.data, sent=bool(result and result.sent))
    if result is None:
        flash(_("Nobody would get an email in that language now: no test was sent."))
    else:
        flash(result.title)
        if result.outcome:
            flash(result.outcome)
        if result.details:
            flash(_("Details: %(details)s", details=result.details))
    return redirect(url_for("invitations.preview_page", kind=kind.value))


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
                           resendable=services.RESENDABLE, describe=outcomes.describe)


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
        batch = services.resend(message_id, by_id=current_user.id)
    except services.AlreadyHandled:
        db.session.rollback()
        flash(_("The message to %(name)s has already been sent again, or sent; it was not queued a second time.",
                name=isolated(name)))
        return redirect(url_for("invitations.batch", batch_id=old_batch_id))
    db.session.commit()
    enqueue("send_batch", batch.id)
    flash(_("The message to %(name)s has been queued again.", name=isolated(name)))
    return redirect(url_for("invitations.batch", batch_id=batch.id))

