"""``/healthz`` for the load balancer: is the database answering, and is its schema current?"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from surveyapp.access import public
from surveyapp.extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
@public
def healthz():
    from surveyapp import _migrations_dir
    from surveyapp.faults import UNAVAILABLE, missing_revisions

    try:
        db.session.execute(sa.text("SELECT 1"))
        missing = missing_revisions(db.engine, _migrations_dir())
    except UNAVAILABLE:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503, {"Retry-After": "30"}
    if missing:
        return jsonify(status="unavailable", database="behind", missing=missing), 503
    return jsonify(status="ok", database="ok"), 200, {"Cache-Control": "no-store"}
