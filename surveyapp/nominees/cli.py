"""``surveyapp nominees``: importing a list from the command line, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from surveyapp.studies.cli import study_for


@click.group("nominees")
def group():
    """Nominee lists."""


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--study", "slug", help="Study slug (default: the first study).")
@click.option("--valid-only", is_flag=True, help="Import the valid rows even if some rows have problems.")
@with_appcontext
def nominees_import(path: Path, slug: str | None, valid_only: bool):
    """Check a CSV or XLSX list and import it (nothing is written if any row is bad)."""
    from flask_babel import force_locale

    from surveyapp.extensions import db
    from surveyapp.nominees import services

    study = study_for(slug)
    data = path.read_bytes()
    # One streaming pass: rows are checked and added in chunks; the bar counts rows checked
    # (estimated from the lines of a CSV; a workbook's rows are counted as they come).
    with click.progressbar(length=max(data.count(b"\n"), 1), label="checking and importing",
                           file=sys.stderr) as bar:
        done = [0]

        def progress(rows: int) -> None:
            bar.update(max(rows - done[0], 0))
            done[0] = rows

        outcome = services.import_file(study, path.name, data, current_app.config["LINK_KEY"],
                                       valid_only=valid_only, progress=progress)
    with force_locale("en"):  # no request here to choose a language; the operator reads English
        for problem in outcome.problems:
            click.echo(f"problem: {problem.message}", err=True)
    if outcome.refused:
        db.session.rollback()
        if outcome.problems and not valid_only:
            bad = len({p.line for p in outcome.problems})
            raise click.ClickException(f"{bad} row(s) have problems; nothing imported")
        if outcome.problems:
            raise click.ClickException("the file could not be read; nothing imported")
    db.session.commit()
    click.echo(f"imported {outcome.imported} nominee(s)")
