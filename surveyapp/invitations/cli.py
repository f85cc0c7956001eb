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
@with_appcontext
def invitations_send(slug: str | None, reminders: bool):
    """Send (or resume) a batch here, with a progress bar. Safe to run again after a crash."""
    from surveyapp.extensions import db
    from surveyapp.invitations import services
    from surveyapp.invitations.models import MessageKind

    study = study_for(slug)
    batch = services.open_batch(study)
    if batch is None:
        kind = MessageKind.REMINDER if reminders else MessageKind.INVITATION
        try:
            batch = services.create_batch(study, kind)
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
