"""Which study a researcher is working on."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, request

from surveyapp.db import db
from surveyapp.studies.models import Study


def all_studies() -> list[Study]:
    return list(db.session.scalars(sa.select(Study).order_by(Study.id)))


def find_study(slug: str | None) -> Study | None:
    """The study with this slug, or the first study when no slug is given."""
    query = sa.select(Study).order_by(Study.id)
    if slug:
        query = query.where(Study.slug == slug)
    return db.session.scalars(query.limit(1)).first()


def current_study() -> Study:
    """The study named by ``?study=<slug>``, else the first one; 404 when there is none."""
    study = find_study(request.args.get("study") or request.form.get("study"))
    if study is None:
        abort(404)
    return study
