"""Which study a researcher is working on."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, request

from surveyapp.db import db
from surveyapp.studies.models import Study


def all_studies() -> list[Study]:
    return list(db.session.scalars(sa.select(Study).order_by(Study.id)))


def current_study() -> Study:
    """The study named by ``?study=<slug>``, else the first one; 404 when there is none."""
    slug = request.args.get("study") or request.form.get("study")
    query = sa.select(Study).order_by(Study.id)
    if slug:
        query = query.where(Study.slug == slug)
    study = db.session.scalars(query.limit(1)).first()
    if study is None:
        abort(404)
    return study
