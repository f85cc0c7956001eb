"""The ethics reviewer's pages, read-only: the consent register (filtered, paged, downloadable),
a participant's consent as they saw it with its history, and the version matrix. Never an answer."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from surveyapp.access import Role, roles_required
from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.consent.models import METHOD_TITLES, ConsentMethod
from surveyapp.extensions import db
from surveyapp.i18n import current_locale, tr
from surveyapp.reference import LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities
from surveyapp.review import downloads, register
from surveyapp.studies.services import current_study
from surveyapp.withdrawal.models import CHANNEL_TITLES, OUTCOME_TITLES, SCOPE_TITLES

bp = Blueprint("review", __name__, template_folder="templates", url_prefix="/review")

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _titles() -> dict:
    return {"method_titles": METHOD_TITLES, "scope_titles": SCOPE_TITLES, "channel_titles": CHANNEL_TITLES,
            "outcome_titles": OUTCOME_TITLES, "service_titles": SERVICE_AREAS,
            "language_names": LANGUAGE_PREFERENCES, "local_authorities": local_authorities(),
            "status_title": downloads.status_title, "locale": current_locale()}


def _status_choices() -> dict[str, str]:
    return {"consented": _("Consented to the current version"), "older_version": _("Consented to an older version"),
            "refused": _("Did not consent"), "withdrew": _("Withdrew")}


def _method_choices() -> dict[str, str]:
    """Short names for the filter (a phone's width holds them in Welsh too)."""
    return {ConsentMethod.ONLINE.value: _("Online"), ConsentMethod.VERBAL.value: _("Verbal")}


@bp.get("/")
@roles_required(Role.REVIEWER, Role.ADMIN)
def index():
    """The register (see register.py for the query and its filters)."""
    study, locale = current_study(), current_locale()
    filters = register.parse(request.args)
    page = register.register_rows(study, filters)
    return render_template("review/index.html", study=study, page=page, filters=page.filters,
                           showing=_showing(page), items=downloads.item_ids(page.rows),
                           item_texts=_item_texts(page.rows, study),
                           version_choices=[(v, f"v{v}") for v in register.form_versions(study)],
                           statuses=_status_choices(), method_choices=_method_choices(),
                           language_choices=[(code, LANGUAGE_PREFERENCES[code]) for code in register.LANGUAGES],
                           authority_choices=[(la.code, la.name(locale)) for la in
                                              sorted(local_authorities().values(), key=lambda la: la.name(locale))],
                           **_titles())


def _item_texts(rows, study) -> dict[str, str]:
    """Each item's text for the legend under the register, in the page's language: from the
    study's current consent form, or (for an item only an older version had) as the newest
    record on the page showed it."""
    texts: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r.form_version):
        for item in row.items:
            texts[item.item_id] = item.text
    for item in study.consent_form.as_consent_form().items:
        texts[item.id] = tr(item.text) or texts.get(item.id, "")
    return texts


def _showing(page: register.Page) -> str:
    if not page.total:
        return (_("No consent records match what you chose.") if page.filters.narrowed
                else _("No consent records yet."))
    return ngettext("Showing %(first)s to %(last)s of %(total)s participant",
                    "Showing %(first)s to %(last)s of %(total)s participants", page.total,
                    first=format_number(page.first), last=format_number(page.last), total=format_number(page.total))


@bp.get("/participants/<id:participant_id>")
@roles_required(Role.REVIEWER, Role.ADMIN)
def participant(participant_id: int):
    study = current_study()
    views = register.consent_views(participant_id)
    if not views:
        abort(404)
    return render_template("review/participant.html", study=study, view=views[0], older=views[1:],
                           history_titles=kinds.TITLES, **_titles())


@bp.get("/versions")
@roles_required(Role.REVIEWER, Role.ADMIN)
def versions():
    study = current_study()
    return render_template("review/versions.html", study=study, matrix=register.version_matrix(study), **_titles())


def _download(kind: str):
    study, locale = current_study(), current_locale()
    filters = register.parse(request.args)
    rows = register.all_rows(study, filters)
    table = downloads.table(rows, locale)
    data = downloads.to_csv(table) if kind == "csv" else downloads.to_xlsx(table, _("Consent register"))
    audit(kinds.EXPORT_MADE, actor_id=current_user.id, what="consent_register", format=kind,
          filters=filters.audit(), rows=len(rows))
    db.session.commit()
    return _attachment(data, kind, f"consent-register-{study.slug}.{kind}")


def _attachment(data: bytes, kind: str, name: str) -> Response:
    return Response(data, headers={"Content-Type": MEDIA_TYPES[kind],
                                   "Content-Disposition": f'attachment; filename="{name}"',
                                   "Cache-Control": "no-store"})


@bp.get("/register.csv")
@roles_required(Role.REVIEWER, Role.ADMIN)
def register_csv():
    return _download("csv")


@bp.get("/register.xlsx")
@roles_required(Role.REVIEWER, Role.ADMIN)
def register_xlsx():
    return _download("xlsx")


@bp.get("/participants/<id:participant_id>/consent.pdf")
@roles_required(Role.REVIEWER, Role.ADMIN)
def participant_pdf(participant_id: int):
    """One participant's consent record as a PDF, printed in the language they saw it in."""
    from surveyapp.review.consent_pdf import consent_pdf  # WeasyPrint: 0.6 s to import, kept off start-up

    study = current_study()
    view = register.consent_view(participant_id)
    if view is None:
        abort(404)
    data = consent_pdf([view], current_locale(), actor_id=current_user.id, study_title=study.title)
    db.session.commit()
    return _attachment(data, "pdf", f"consent-record-{view.pid or participant_id}.pdf")


@bp.get("/register.pdf")
@roles_required(Role.REVIEWER, Role.ADMIN)
def register_pdf():
    """The (filtered) register's consent records as one PDF, with a cover page naming the filters."""
    from surveyapp.review.consent_pdf import consent_pdf  # as above: imported on first use

    study = current_study()
    filters = register.parse(request.args)
    views = register.all_rows(study, filters)
    data = consent_pdf(views, current_locale(), actor_id=current_user.id, study_title=study.title,
                       filters=_filter_labels(filters))
    db.session.commit()
    return _attachment(data, "pdf", f"consent-register-{study.slug}.pdf")


def _filter_labels(filters: register.Filters) -> list[tuple[str, str]]:
    """The filters in force as (label, value) in the reader's language, for the PDF's cover."""
    locale = current_locale()
    chosen = []
    if filters.version:
        chosen.append((_("Consent-form version"), f"v{filters.version}"))
    if filters.method:
        chosen.append((_("Method"), str(METHOD_TITLES[ConsentMethod(filters.method)])))
    if filters.language:
        chosen.append((_("Language shown"), str(LANGUAGE_PREFERENCES[filters.language])))
    if filters.la:
        chosen.append((_("Local authority"), local_authorities()[filters.la].name(locale)))
    if filters.status:
        chosen.append((_("Status"), _status_choices()[filters.status]))
    return chosen
