"""Researchers' nominee pages: the list, importing a file (check first), adding and editing."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from surveyapp import text
from surveyapp.access import Role, roles_required
from surveyapp.dashboard.services import STATUS_TITLES, nominee_progress
from surveyapp.extensions import db
from surveyapp.i18n import current_locale
from surveyapp.nominees import services
from surveyapp.nominees.forms import ConfirmImportForm, NomineeForm, UploadForm
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee
from surveyapp.reference import LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities
from surveyapp.studies.services import current_study
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


def _import(study, result, *, only_valid: bool):
    rows = result.valid_rows if only_valid else result.rows
    services.import_nominees(study, rows, current_app.config["LINK_KEY"])
    db.session.commit()
    flash(ngettext("%(num)d nominee imported.", "%(num)d nominees imported.", len(rows)))
    return redirect(url_for("nominees.index"))


@bp.route("/import", methods=["GET", "POST"])
@validates_own_csrf
@roles_required(Role.RESEARCHER)
def upload():
    """Check the whole file first; write nothing unless it is clean or the researcher
    chooses to import only the valid rows."""
    study = current_study()
    form = UploadForm()
    if form.validate_on_submit():
        filename, data = form.file.data.filename or "", form.file.data.read()
        result = parse_nominees(filename, data, existing_emails=services.existing_emails(study))
        if result.ok:
            return _import(study, result, only_valid=False)
        confirm = ConfirmImportForm(formdata=None, data={"filename": filename,
                                                         "content": base64.b64encode(data).decode("ascii")})
        return render_template("nominees/problems.html", result=result, confirm=confirm,
                               filename=filename), 400
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
    result = parse_nominees(form.filename.data or "", data, existing_emails=services.existing_emails(study))
    if not result.valid_rows:
        flash(_("There were no valid rows to import."))
        return redirect(url_for("nominees.upload"))
    return _import(study, result, only_valid=True)


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
