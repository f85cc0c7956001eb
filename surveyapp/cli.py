"""The ``surveyapp`` command: Flask's commands plus ours."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from surveyapp.audit import cli as audit_cli
from surveyapp.instruments import cli as instruments_cli
from surveyapp.invitations import cli as invitations_cli
from surveyapp.nominees import cli as nominees_cli
from surveyapp.studies.cli import study_for


def _create_app():
    from surveyapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             load_dotenv=False, set_debug_flag=False)
def main():
    """Bilingual survey, consent and interview platform."""


# -- instruments ----------------------------------------------------------------------------

main.add_command(instruments_cli.group)


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


# -- users ----------------------------------------------------------------------------------

@main.group(cls=click.Group)
def users():
    """Staff accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "researcher", "reviewer"]), help="Repeat for several roles.")
@click.option("--language", type=click.Choice(["cy", "en"]), default="cy", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(email: str, name: str, roles: tuple[str, ...], language: str, password_stdin: bool):
    """Create a staff account (asks for the password unless --password-stdin)."""
    from surveyapp.access import Role
    from surveyapp.accounts import services
    from surveyapp.extensions import db

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(email, name, password, {Role(r) for r in roles}, language)
    except services.DuplicateEmail as exc:
        raise click.ClickException(f"an account for {email} already exists") from exc
    except services.WeakPassword as exc:
        raise click.ClickException(f"the password needs {exc}") from exc
    db.session.commit()
    click.echo(f"created {user.email} ({', '.join(sorted(roles))})")


# -- nominees and invitations (each feature's own group) ----------------------------------------

main.add_command(nominees_cli.group)
main.add_command(invitations_cli.group)
main.add_command(audit_cli.group)


@main.command("worker")
@click.option("--workers", default=1, show_default=True, type=int)
@with_appcontext
def worker(workers: int):
    """Run the task queue's consumer (sending batches started from the web)."""
    from surveyapp.tasks import get_huey

    huey = get_huey(current_app._get_current_object())
    click.echo(f"worker: {huey.name} on {current_app.config['TASK_QUEUE_URL']}")
    huey.create_consumer(workers=workers, worker_type="thread").run()


@main.command("outbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@click.option("--directory", type=click.Path(file_okay=False, path_type=Path), default=Path("instance/outbox"),
              show_default=True)
def outbox(host: str, port: int, directory: Path):
    """A local SMTP server that keeps every email as a .eml file (for the demo)."""
    import time

    from aiosmtpd.controller import Controller

    directory.mkdir(parents=True, exist_ok=True)

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            name = f"{time.time_ns()}.eml"
            (directory / name).write_bytes(envelope.original_content or envelope.content)
            return "250 2.0.0 kept in the outbox"

    controller = Controller(Keep(), hostname=host, port=port)
    controller.start()
    click.echo(f"outbox: SMTP on {host}:{port}, emails kept in {directory}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


# -- demo -----------------------------------------------------------------------------------

DEMO_PASSWORD = "demo-only-password"
DEMO_ACCOUNTS = (
    ("admin@example.org", "Demo administrator", ("admin",)),
    ("researcher@example.org", "Demo researcher", ("researcher",)),
    ("reviewer@example.org", "Demo ethics reviewer", ("reviewer",)),
)


def _demo_data() -> None:
    """Demo accounts and the synthetic nominee list, once."""
    from importlib import resources

    from surveyapp.access import Role
    from surveyapp.accounts import services as accounts
    from surveyapp.extensions import db
    from surveyapp.nominees import services as nominees
    from surveyapp.nominees.importer import parse_nominees

    for email, name, roles in DEMO_ACCOUNTS:
        if accounts.find_by_email(email) is None:
            accounts.create_user(email, name, DEMO_PASSWORD, {Role(r) for r in roles}, "cy")
        click.echo(f"Demo sign-in: {email} / {DEMO_PASSWORD} ({', '.join(roles)})")
    study = study_for(None)
    data = resources.files("surveyapp").joinpath("data/demo_nominees.csv").read_bytes()
    result = parse_nominees("demo_nominees.csv", data, existing_emails=nominees.existing_emails(study))
    if result.valid_rows:
        nominees.import_nominees(study, result.valid_rows, current_app.config["LINK_KEY"])
        click.echo(f"Demo nominees imported: {len(result.valid_rows)}")
    db.session.commit()


# -- serving ----------------------------------------------------------------------------------

@main.command("serve")
@click.option("--bind", default=None, help="host:port (default SURVEYAPP_BIND, 127.0.0.1:8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Processes (SURVEYAPP_WORKERS).")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Threads each (SURVEYAPP_THREADS).")
@with_appcontext
def serve(bind: str | None, workers: int | None, threads: int | None):
    """Serve the app under gunicorn, as in production (after 'surveyapp db upgrade')."""
    from surveyapp.faults import SchemaBehind
    from surveyapp.server import serve as run

    app: Flask = current_app._get_current_object()
    try:
        run(app, bind=bind, workers=workers, threads=threads)
    except SchemaBehind as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


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
    _demo_data()
    from surveyapp.studies.models import Study

    slugs = [s.slug for s in db.session.scalars(db.select(Study).where(Study.open_link.is_(True)))]
    for slug in slugs:
        click.echo(f"Open survey: http://{host}:{port}/s/{slug}")
    click.echo(f"Researchers sign in at: http://{host}:{port}/login")
    if not no_serve:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False)
