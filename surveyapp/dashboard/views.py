"""The researcher's progress view: nominees by status, authorities by coverage, a tile map."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from surveyapp.access import Role, roles_required
from surveyapp.dashboard import services
from surveyapp.dashboard.tilemap import render_tilemap
from surveyapp.i18n import current_locale
from surveyapp.nominees.status import STATUS_TITLES
from surveyapp.reference import SERVICE_AREAS, local_authorities, regions
from surveyapp.studies.services import current_study

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/researcher/")
@roles_required(Role.RESEARCHER, Role.ADMIN)
def index():
    """Counts and coverage only: every figure is counted in the database, so the page costs the
    same few queries at 33 nominees or 10,000. The people behind a count are one click away,
    on the nominee list filtered by that status."""
    study = current_study()
    locale = current_locale()
    region = request.args.get("region", "")
    setting = request.args.get("setting", "")  # rural / urban
    authorities = [
        la for la in local_authorities().values()
        if (not region or la.region_en == region)
        and (setting not in ("rural", "urban") or la.rural == (setting == "rural"))
    ]
    coverage = services.coverage(study)
    tilemap = render_tilemap(
        {code: c.overall.value for code, c in coverage.items()}, locale=locale,
        title=_("Coverage of the 22 local authorities"),
        description=_("Each square is a local authority in its rough place on the map of Wales. "
                      "The table below gives the same information."),
        labels={state.value: str(title) for state, title in services.COVERAGE_TITLES.items()},
    )
    return render_template(
        "dashboard/index.html", study=study, authorities=authorities, coverage=coverage,
        counts=services.counts(study), tilemap=tilemap,
        regions=regions(), region=region, setting=setting, locale=locale,
        status_titles=STATUS_TITLES, coverage_titles=services.COVERAGE_TITLES,
        service_titles=SERVICE_AREAS, local_authorities=local_authorities(),
        can_list=current_user.has_role(Role.RESEARCHER),  # the nominee list is the researchers'
    )
