"""The reviewer's landing page: what will be here, said plainly, rather than an empty account page."""

from __future__ import annotations

from flask import Blueprint, render_template

from surveyapp.access import Role, roles_required

bp = Blueprint("review", __name__, template_folder="templates", url_prefix="/review")


@bp.get("/")
@roles_required(Role.REVIEWER, Role.ADMIN)
def index():
    return render_template("review/index.html")
