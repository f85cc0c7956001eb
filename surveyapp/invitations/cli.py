"""``surveyapp invitations``: sending a batch from the command line, with a progress bar."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from surveyapp.studies.cli import study_for


@click.group("invitations")
def group():
    """Sending invitations and reminders."""


@group.command("send")
@click.option("--study", "slug", help="Study slug (default: the first study).")
@click.option("--reminders", is_flag=True, help="Send reminders instead of first invitations.")
@click.option("--yes", is_flag=True, help="Send without asking (the preview is still printed).")
@with_appcontext
def invitations_send(slug: str | None, reminders: bool, yes: bool):
    """Show who would get what, ask, then send (or resume) a batch here with a progress bar.
    Safe to run again after a crash: an unfinished batch is sent on first, without asking."""
    from surveyapp.extensions import db
    from surveyapp.invitations import services
    from surveyapp.invitations.models import MessageKind

    study = study_for(slug)
    batch = services.open_batch(study)
    if batch is None:
        kind = MessageKind.REMINDER if reminders else MessageKind.INVITATION
        selection = _preview(study, kind)
        if not selection.to_send:
            click.echo("nobody to send to")
            return
        if not yes:
            click.confirm(f"Send {len(selection.to_send)} {kind.value}(s)?", abort=True)
        try:
            batch = services.create_batch(study, kind, selection=selection)
        except services.NothingToSend:
            click.echo("nobody to send to")
            return
        db.session.commit()
    counts = services.counts(batch)
    todo = counts["pending"]
    click.echo(f"batch {batch.id} ({batch.kind}): {todo} to send, {counts['total'] - todo} already handled")
    try:
        with click.progressbar(length=todo, label="sending", show_pos=True) as bar:
            batch = services.run_batch(batch.id, progress=lambda message: bar.update(1))
    except services.BatchBusy as exc:
        raise click.ClickException(f"{exc}; try again when it has finished") from exc
    counts = services.counts(batch)
    click.echo(f"{batch.status}: {counts['sent']} sent, {counts['failed']} failed, "
               f"{counts['uncertain']} uncertain, {counts['pending']} still to send")
    if batch.note:
        click.echo(f"stopped: {batch.note}", err=True)
    if batch.status != "done":
        sys.exit(1)


def _preview(study, kind):
    """Print whom a batch of ``kind`` would email, by language, and whom it skips and why (as the
    web preview does, in English: there is no request here to choose a language)."""
    from flask_babel import force_locale

    from surveyapp.invitations import preview

    selection = preview.select(study, kind)
    by_language = {mode: len(nominees) for mode, nominees in selection.by_language().items()}
    click.echo(f"{len(selection.to_send)} to send: " + (", ".join(f"{n} {mode}" for mode, n in by_language.items())
                                                        or "none"))
    with force_locale("en"):
        titles = preview.skip_titles()
    for skip, nominees in selection.skipped.items():
        if nominees:
            click.echo(f"  skipped, {titles[skip].lower()}: {len(nominees)}")
    return selection
