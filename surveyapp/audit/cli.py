"""``surveyapp audit ...``: verify the chain, print its head."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

group = AppGroup("audit", help="Check the tamper-evident audit trail.")

# Above this many events the walk shows a progress bar (on stderr).
PROGRESS_OVER = 5000


@group.command("verify")
@click.option("--anchor", "anchor", type=click.Path(dir_okay=False, path_type=Path),
              help="The anchor file to compare the end of the chain with (default: AUDIT_ANCHOR_PATH).")
@click.option("--no-anchor", is_flag=True, help="Do not compare with an anchor file.")
def verify(anchor: Path | None, no_anchor: bool):
    """Walk the whole chain and report the first broken link. Exit code 0: whole; 1: broken."""
    from flask_babel import force_locale

    from surveyapp.audit import chain
    from surveyapp.audit.report import describe

    if no_anchor:
        path = ""
    else:
        path = str(anchor) if anchor is not None else (current_app.config.get("AUDIT_ANCHOR_PATH") or "")
        if anchor is not None and not anchor.is_file():
            raise click.ClickException(f"no anchor file at {anchor}")
    total = chain.count()
    if total > PROGRESS_OVER:
        with click.progressbar(length=total, label="checking events", file=sys.stderr) as bar:
            result = chain.verify(anchor_path=path, progress=lambda _seq: bar.update(1))
    else:
        result = chain.verify(anchor_path=path)

    click.echo(f"events checked: {result.checked}")
    if result.ok:
        click.echo(f"head: event {result.head_seq} {result.head_hash}")
    else:
        click.echo(f"whole up to: event {result.head_seq} {result.head_hash}")
    if no_anchor:
        click.echo("anchor: not compared (--no-anchor)")
    elif result.anchored_seq is None:
        click.echo(f"anchor: no file at {path or '(none configured)'}; events cut off the end cannot be detected")
    else:
        click.echo(f"anchor: {path} records heads up to event {result.anchored_seq}")
    broken = result.broken
    if broken is None:
        click.echo("OK: the chain is whole.")
        return
    with force_locale("en"):  # no request here to choose a language; the operator reads English
        sentence = describe(broken)
    where = f"event {broken.seq}"
    if broken.kind:
        where += f" ({broken.kind}, {broken.occurred_at.isoformat(timespec='seconds')})"
    click.echo(f"BROKEN at {where}: {sentence}", err=True)
    sys.exit(1)


@group.command("head")
def head():
    """Print the latest event's seq and hash (note them down to compare later)."""
    from surveyapp.audit import chain

    row = chain.head()
    if row is None:
        click.echo("no events yet")
        return
    click.echo(f"{row.seq} {row.hash}")
