"""The ``surveyapp`` command: Flask's commands plus ours."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from surveyapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             load_dotenv=False, set_debug_flag=False)
def main():
    """Bilingual survey, consent and interview platform."""


# -- instruments ----------------------------------------------------------------------------

@main.group(cls=click.Group)
def instruments():
    """Check and load instrument files."""


@instruments.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Also fail on draft Welsh.")
def instruments_check(directory: Path | None, strict: bool):
    """Validate every instrument and study file (no database needed)."""
    from surveyapp.config import INSTRUMENTS_DIR
    from surveyapp.instruments.loader import read_catalogue

    root = directory or INSTRUMENTS_DIR
    catalogue = read_catalogue(root)
    errors = [p for p in catalogue.problems if p.severity == "error"]
    warnings = [p for p in catalogue.problems if p.severity != "error"]
    for problem in errors:
        click.echo(f"error: {problem}", err=True)
    drafts: dict[str, int] = {}
    for problem in warnings:
        drafts[problem.path] = drafts.get(problem.path, 0) + 1
    for path, count in drafts.items():
        click.echo(f"warning: {path}: {count} Welsh text(s) still marked draft (need a translator's review)")
    total = len(catalogue.instruments) + len(catalogue.studies)
    if errors or (strict and warnings):
        click.echo(f"{len(errors)} error(s) in {total} file(s).", err=True)
        sys.exit(1)
    click.echo(f"OK: {total} file(s) checked, {len(warnings)} draft Welsh text(s).")


@instruments.command("load")
@with_appcontext
def instruments_load():
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
    click.echo(f"{len(report.unchanged)} unchanged; studies: {', '.join(report.studies) or 'none'}")


# -- translations ---------------------------------------------------------------------------

@main.group(cls=click.Group)
def translations():
    """Maintain the Welsh catalogue."""


@translations.command("update")
def translations_update():
    """Re-extract messages.pot and merge it into the Welsh catalogue."""
    from surveyapp import translations as tr

    tr.update()
    click.echo("updated translations/messages.pot and the cy catalogue")


@translations.command("compile")
def translations_compile():
    """Compile .po catalogues to .mo (done by the demo and test scripts)."""
    from surveyapp import translations as tr

    for path in tr.compile_catalogues():
        click.echo(f"compiled {path.name} for {path.parent.parent.name}")


@translations.command("check")
def translations_check():
    """Fail if the template is stale or Welsh is missing, fuzzy or mismatched."""
    from surveyapp import translations as tr

    problems = tr.check()
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("OK: catalogues complete")


# -- demo -----------------------------------------------------------------------------------

@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and stop.")
@with_appcontext
def demo(host: str, port: int, no_serve: bool):
    """Migrate, load the demo study and serve it on this machine."""
    from flask_migrate import upgrade

    from surveyapp.extensions import db
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue

    app: Flask = current_app._get_current_object()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    upgrade()
    load_catalogue(read_catalogue(Path(app.config["INSTRUMENTS_DIR"])))
    db.session.commit()
    from surveyapp.studies.models import Study

    slugs = [s.slug for s in db.session.scalars(db.select(Study).where(Study.open_link.is_(True)))]
    for slug in slugs:
        click.echo(f"Open survey: http://{host}:{port}/s/{slug}")
    if not no_serve:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False)
