"""``surveyapp instruments``: check and load instrument files."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

WARNING_TITLES = {
    "provenance": "not approved (demonstration notice shown)",
    "glossary": "avoided glossary term in a superseded version",
    "undecided": "undecided glossary term",
}


@click.group("instruments")
def group():
    """Check and load instrument files."""


@group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True,
              help="Also fail on warnings: draft Welsh, reconstructed (unapproved) texts, undecided terms.")
def check(directory: Path | None, strict: bool):
    """Validate every instrument, study and glossary file (no database needed)."""
    from surveyapp.config import INSTRUMENTS_DIR
    from surveyapp.instruments.loader import read_catalogue

    root = directory or INSTRUMENTS_DIR
    catalogue = read_catalogue(root)
    errors = [p for p in catalogue.problems if p.severity == "error"]
    warnings = [p for p in catalogue.problems if p.severity != "error"]
    for problem in errors:
        click.echo(f"error: {problem}", err=True)
    drafts = Counter(p.path for p in warnings if p.category == "draft")
    for path, count in drafts.items():
        click.echo(f"warning: {path}: {count} Welsh text(s) still marked draft (need a translator's review)")
    for problem in warnings:
        if problem.category != "draft":
            title = WARNING_TITLES.get(problem.category, "warning")
            click.echo(f"warning ({title}): {problem}")
    if catalogue.glossary is not None:
        for term in catalogue.glossary.undecided:
            options = ", ".join([term.cy, *term.alternatives])
            click.echo(f"undecided term: {term.en}: {options} (the team must choose)")
    total = len(catalogue.instruments) + len(catalogue.studies)
    if errors or (strict and warnings):
        failing = len(errors) + (len(warnings) if strict else 0)
        click.echo(f"{failing} problem(s) in {total} file(s)" + (" (--strict)" if strict else "") + ".", err=True)
        sys.exit(1)
    click.echo(f"OK: {total} file(s) checked, {sum(drafts.values())} draft Welsh text(s), "
               f"{len(warnings) - sum(drafts.values())} other warning(s).")


@group.command("load")
@with_appcontext
def load():
    """Store instrument versions and studies in the database (refuses edits to used versions)."""
    from surveyapp.errors import InstrumentChanged
    from surveyapp.extensions import db
    from surveyapp.instruments.loader import InstrumentError, read_catalogue
    from surveyapp.instruments.services import load_catalogue

    try:
        report = load_catalogue(read_catalogue(Path(current_app.config["INSTRUMENTS_DIR"])))
    except (InstrumentError, InstrumentChanged) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    for label in report.added:
        click.echo(f"added {label}")
    for label in report.updated:
        click.echo(f"updated {label} (not yet used)")
    for label in report.provenance:
        click.echo(f"provenance changed: {label}")
    click.echo(f"{len(report.unchanged)} unchanged; studies: {', '.join(report.studies) or 'none'}")
