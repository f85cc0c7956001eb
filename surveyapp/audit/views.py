"""The audit trail for ethics reviewers and administrators: verification result, chain head, events."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from surveyapp.access import Role, roles_required
from surveyapp.audit import chain, report

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/review/audit")


@bp.get("/")
@roles_required(Role.REVIEWER, Role.ADMIN)
def index():
    """Read-only. Each visit walks the whole chain (one SELECT per 1,000 events and an HMAC per
    event: about a second per few hundred thousand events), so the result is never stale;
    when the trail grows past that, verify in a task and show the last result with its time."""
    verification = chain.verify()
    page = report.events_page(request.args.get("page", 1, type=int))
    latest = page.rows[0] if page.rows and page.page == 1 else None
    return render_template("audit/index.html", verification=verification, page=page, latest=latest,
                           head=chain.head(),  # as recorded: when broken, past the last event verified
                           problem=report.describe(verification.broken) if verification.broken else None)
