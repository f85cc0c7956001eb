"""What the feature command groups share: the study a command works on."""

from __future__ import annotations

import click


def study_for(slug: str | None):
    """The study named by ``--study`` (default: the first), or a clear error."""
    from surveyapp.studies.services import find_study

    study = find_study(slug)
    if study is None:
        raise click.ClickException("no such study; run 'surveyapp instruments load' first")
    return study
