"""Researchers' nominee pages: the list, a nominee's page with their history and what can be
done there (send again, mark declined, edit), importing a file (check first), adding."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from surveyapp import text
from surveyapp.access import Role, roles_required
from surveyapp.consent.models import METHOD_TITLES
from surveyapp.extensions import db
from surveyapp.i18n import current_locale
from surveyapp.invitations import services as invitations
from surveyapp.invitations.models import Message, MessageKind
from surveyapp.invitations.outcomes import describe
from surveyapp.nominees import listing, services
from surveyapp.nominees.forms import ConfirmForm, ConfirmImportForm, DeclineForm, JobForm, NomineeForm, UploadForm
from surveyapp.nominees.history import EMAIL_KINDS, LANGUAGE_NAMES, history, load_nominee
from surveyapp.nominees.models import ImportStatus, Nominee, NomineeImport
from surveyapp.nominees.status import STATUS_TITLES, NomineeStatus, status_counts, status_of
from surveyapp.reference import AGENCIES, LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities, regions
from surveyapp.studies.services import current_study
from surveyapp.tasks import enqueue, read_progress
from surveyapp.web import validates_own_csrf
from surveyapp.withdrawal.models import CHANNEL_TITLES, OUTCOME_TITLES, SCOPE_TITLES

bp = Blueprint("nominees", __name__, template_folder="templates", url_prefix="/researcher/nominees")


@bp.get("/")
@roles_required(Role.RESEARCHER)
def index():
    """The list, filtered, searched, sorted and paged by the query (see listing.py)."""
    study, locale = current_study(), current_locale()
    filters = listing.parse(request.args)
    page = listing.page(study, filters, locale)
    counts = status_counts(study, listing.filtered(study, page.filters)) if page.total else None
    return render_template("nominees/index.html", study=study, page=page, filters=page.filters, counts=counts,
                           showing=_showing(page), statuses=list(NomineeStatus), status_titles=STATUS_TITLES,
                           service_titles=SERVICE_AREAS, language_names=LANGUAGE_NAMES,
                           local_authorities=local_authorities(), locale=locale,
                           status_choices=[(status.value, STATUS_TITLES[status]) for status in NomineeStatus],
                           language_choices=[(code, _("Not known") if code == "unknown" else LANGUAGE_NAMES[code])
                                             for code in LANGUAGE_PREFERENCES],
                           authority_choices=[(la.code, la.name(locale)) for la in
                                              sorted(local_authorities().values(), key=lambda la: la.name(locale))],
                           region_choices=[(name_en, name_cy if locale == "cy" else name_en)
                                           for name_en, name_cy in regions()])


def _showing(page: listing.Page) -> str:
    """"Showing 51 to 100 of 10,000 nominees", numbers written as the reader's language writes them."""
    if not page.total:
        return _("No nominees match what you chose.") if page.filters.narrowed else _("No nominees yet.")
    return ngettext("Showing %(first)s to %(last)s of %(total)s nominee",
                    "Showing %(first)s to %(last)s of %(total)s nominees", page.total,
                    first=format_number(page.first), last=format_number(page.last), total=format_number(page.total))


INLINE_BYTES = 200_000  # files up to this size (about 2,000 rows) are imported in the request


def _import(study, filename: str, data: bytes, *, only_valid: bool):
    """Check and add in one pass, in this request (a small file); nothing is kept unless the
    whole file is right or only the valid rows were asked for."""
    outcome = services.import_file(study, filename, data, current_app.config["LINK_KEY"], valid_only=only_valid)
    if outcome.refused:
        db.session.rollback()
        if only_valid:
            flash(_("There were no valid rows to import."))
            return redirect(url_for("nominees.upload"))
        confirm = ConfirmImportForm(formdata=None, data={"filename": filename,
                                                         "content": base64.b64encode(data).decode("ascii")})
        return render_template("nominees/problems.html", result=outcome, confirm=confirm, filename=filename,
                               valid_rows_url=url_for("nominees.import_valid_rows")), 400
    db.session.commit()
    flash(ngettext("%(num)d nominee imported.", "%(num)d nominees imported.", outcome.imported))
    return redirect(url_for("nominees.index"))


@bp.route("/import", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def upload():
    """Check the whole file first; write nothing unless it is clean or the researcher
    chooses to import only the valid rows. A large file is checked and imported by the
    worker, and its page shows how far it has got."""
    study = current_study()
    form = UploadForm()
    if form.validate_on_submit():
        filename, data = form.file.data.filename or "", form.file.data.read()
        if len(data) <= current_app.config.get("NOMINEE_IMPORT_INLINE_BYTES", INLINE_BYTES):
            return _import(study, filename, data, only_valid=False)
        job = services.start_import(study, filename, data, current_user.id)
        db.session.commit()
        enqueue("import_nominees", job.id)  # the worker checks and imports; this request only queues
        return redirect(url_for("nominees.import_job", job_id=job.id))
    return render_template("nominees/upload.html", form=form), 400 if form.errors else 200


@bp.post("/import/valid-rows")
@roles_required(Role.RESEARCHER)
def import_valid_rows():
    study = current_study()
    form = ConfirmImportForm()
    try:
        data = base64.b64decode(form.content.data or "", validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    return _import(study, form.filename.data or "", data, only_valid=True)


def _job_or_404(job_id: int) -> NomineeImport:
    job = db.session.get(NomineeImport, job_id)
    if job is None or job.study_id != current_study().id:
        abort(404)
    return job


def _job_progress(job: NomineeImport) -> dict:
    status = ImportStatus.FAILED if services.import_stopped(job) else ImportStatus(job.status)
    checked = job.total_lines if status != ImportStatus.RUNNING else (read_progress("nominee-import", job.id) or 0)
    finished = status not in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    if status == ImportStatus.DONE:
        message = ngettext("%(num)d nominee imported.", "%(num)d nominees imported.", job.imported)
    elif status == ImportStatus.PROBLEMS:
        message = _("The file has problems: nothing has been imported.")
    elif status == ImportStatus.FAILED:
        message = _("The import stopped because of a fault: nothing has been imported. Upload the file again.")
    elif status == ImportStatus.QUEUED:
        message = _("Waiting to start.")
    else:
        message = ngettext("%(num)d row checked and added so far.", "%(num)d rows checked and added so far.", checked)
    return {"status": status.value, "checked": checked, "imported": job.imported, "finished": finished,
            "message": message}


@bp.get("/import/jobs/<id:job_id>")
@roles_required(Role.RESEARCHER)
def import_job(job_id: int):
    job = _job_or_404(job_id)
    if job.status == ImportStatus.PROBLEMS:
        result = services.ImportOutcome(imported=0, problems=services.import_problems(job),
                                        total_lines=job.total_lines, valid_lines=job.valid_lines, refused=True)
        return render_template("nominees/problems.html", result=result, confirm=JobForm(), filename=job.filename,
                               valid_rows_url=url_for("nominees.import_job_valid_rows", job_id=job.id)
                               if job.content is not None else None)
    progress = _job_progress(job)
    return render_template("nominees/job.html", job=job, progress=progress, status=progress["status"],
                           statuses=ImportStatus)


@bp.get("/import/jobs/<id:job_id>/progress")
@roles_required(Role.RESEARCHER)
def import_job_progress(job_id: int):
    return jsonify(_job_progress(_job_or_404(job_id)))


@bp.post("/import/jobs/<id:job_id>/valid-rows")
@roles_required(Role.RESEARCHER)
def import_job_valid_rows(job_id: int):
    job = _job_or_404(job_id)
    if services.retry_valid_rows(job):
        db.session.commit()
        enqueue("import_nominees", job.id)
    return redirect(url_for("nominees.import_job", job_id=job.id))


def _data(form: NomineeForm) -> services.NomineeData:
    return services.NomineeData(form.name.data, form.email.data, form.la_code.data, form.service_area.data,
                                form.agency.data, form.role.data or "", form.preferred_language.data)


@bp.route("/new", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def new():
    form = NomineeForm(data={"agency": "local_authority", "preferred_language": "unknown"})
    return _save(form, None)


def _nominee_or_404(nominee_id: int) -> Nominee:
    nominee = load_nominee(nominee_id, current_study().id)
    if nominee is None:
        abort(404)
    return nominee


@bp.get("/<id:nominee_id>")
@roles_required(Role.RESEARCHER)
def show(nominee_id: int):
    """Who the nominee is, their status and everything that has happened, oldest first."""
    nominee = _nominee_or_404(nominee_id)
    return render_template("nominees/show.html", nominee=nominee, history=history(nominee),
                           status=status_of(nominee), status_titles=STATUS_TITLES, service_titles=SERVICE_AREAS,
                           agencies=AGENCIES, language_names=LANGUAGE_NAMES, kind_titles=EMAIL_KINDS,
                           method_titles=METHOD_TITLES, authority=local_authorities().get(nominee.la_code),
                           scope_titles=SCOPE_TITLES, channel_titles=CHANNEL_TITLES, outcome_titles=OUTCOME_TITLES,
                           locale=current_locale())


def _message_or_404(nominee: Nominee, message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None or message.nominee_id != nominee.id:
        abort(404)
    return message


@bp.route("/<id:nominee_id>/messages/<id:message_id>/resend", methods=["GET", "POST"])
@roles_required(Role.RESEARCHER)
def resend(nominee_id: int, message_id: int):
    """Send one failed or uncertain email again, after a confirmation page. A second press (a
    double click, a colleague at the same time) queues nothing more (see invitations.resend)."""
    nominee = _nominee_or_404(nominee_id)
    message = _message_or_404(nominee, message_id)
    back = url_for("nominees.show", nominee_id=nominee.id)
    name = text.isolated(nominee.name)
    if request.method == "GET":
        if message.status not in invitations.RESENDABLE:
            flash(_("The message to %(name)s has already been sent again, or sent; it was not queued a second "
                    "time.", name=name))
            return redirect(back)
        return render_template("nominees/resend.html", nominee=nominee, message=message, form=ConfirmForm(),
                               outcome=describe(message), reminder=message.kind == MessageKind.REMINDER)
    try:
        batch = invitations.resend(message.id, by_id=current_user.id)
    except invitations.AlreadyHandled:
        db.session.rollback()
        flash(_("The message to %(name)s has already been sent again, or sent; it was not queued a second time.",
                name=name))
        return redirect(back)
    db.session.commit()
    enqueue("send_batch", batch.id)
    flash(_("The message to %(name)s has been queued again.", name=name))
    return redirect(back)


@bp.route("/<id:nominee_id>/decline", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def decline(nominee_id: int):
    """Record that the nominee said no, and why. Nothing changes for someone already declined."""
    nominee = _nominee_or_404(nominee_id)
    back = url_for("nominees.show", nominee_id=nominee.id)
    name = text.isolated(nominee.name)
    if nominee.declined_at is not None:
        flash(_("%(name)s has already declined: nothing was changed.", name=name))
        return redirect(back)
    form = DeclineForm()
    if form.validate_on_submit():
        if services.mark_declined(nominee, form.reason.data, current_user.id):
            db.session.commit()
            flash(_("%(name)s has been marked as declined. They will not be sent invitations or reminders.",
                    name=name))
        else:
            db.session.rollback()
            flash(_("%(name)s has already declined: nothing was changed.", name=name))
        return redirect(back)
    return render_template("nominees/decline.html", nominee=nominee, form=form), 400 if form.errors else 200


@bp.route("/<id:nominee_id>/edit", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def edit(nominee_id: int):
    nominee = _nominee_or_404(nominee_id)
    return _save(NomineeForm(obj=nominee), nominee)


def _save(form: NomineeForm, nominee: Nominee | None):
    problem = None
    if form.validate_on_submit():
        try:
            if nominee is None:
                nominee = services.add_nominee(current_study(), _data(form), current_app.config["LINK_KEY"])
            else:
                services.update_nominee(nominee, _data(form))
        except services.DuplicateNominee:
            problem = _("Someone with that email address is already on the list.")
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("%(name)s has been saved.", name=text.isolated(nominee.name)))
            return redirect(url_for("nominees.show", nominee_id=nominee.id))
    return render_template("nominees/form.html", form=form, nominee=nominee, problem=problem), \
        400 if (problem or form.errors) else 200
