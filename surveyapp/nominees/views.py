"""Researchers' nominee pages: the list, importing a file (check first), adding and editing."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from surveyapp import text
from surveyapp.access import Role, roles_required
from surveyapp.dashboard.services import STATUS_TITLES, nominee_progress
from surveyapp.extensions import db
from surveyapp.i18n import current_locale
from surveyapp.nominees import services
from surveyapp.nominees.forms import ConfirmImportForm, JobForm, NomineeForm, UploadForm
from surveyapp.nominees.models import ImportStatus, Nominee, NomineeImport
from surveyapp.reference import LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities
from surveyapp.studies.services import current_study
from surveyapp.tasks import enqueue, read_progress
from surveyapp.web import validates_own_csrf

bp = Blueprint("nominees", __name__, template_folder="templates", url_prefix="/researcher/nominees")


@bp.get("/")
@roles_required(Role.RESEARCHER)
def index():
    study = current_study()
    return render_template("nominees/index.html", study=study, progress=nominee_progress(study),
                           status_titles=STATUS_TITLES, service_titles=SERVICE_AREAS,
                           languages=LANGUAGE_PREFERENCES, local_authorities=local_authorities(),
                           locale=current_locale())


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


@bp.route("/<id:nominee_id>", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def edit(nominee_id: int):
    nominee = db.session.get(Nominee, nominee_id)
    if nominee is None:
        abort(404)
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
            return redirect(url_for("nominees.index"))
    return render_template("nominees/form.html", form=form, nominee=nominee, problem=problem), \
        400 if (problem or form.errors) else 200
