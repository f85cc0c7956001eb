"""Which study a researcher is working on."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, request

from surveyapp.db import db
from surveyapp.studies.models import SLUG_RE, Study


def all_studies() -> list[Study]:
    return list(db.session.scalars(sa.select(Study).order_by(Study.id)))


def find_study(slug: str | None) -> Study | None:
    """The study with this slug, or the first study when no slug is given; None for a slug
    no study could have (it never reaches the database)."""
    query = sa.select(Study).order_by(Study.id)
    if slug:
        if not SLUG_RE.match(slug):
            return None
        query = query.where(Study.slug == slug)
    return db.session.scalars(query.limit(1)).first()


def current_study() -> Study:
    """The study named by ``?study=<slug>``, else the first one; 404 when there is none."""
    study = find_study(request.args.get("study") or request.form.get("study"))
    if study is None:
        abort(404)
    return study
