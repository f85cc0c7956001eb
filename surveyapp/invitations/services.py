"""Preparing and running batches of invitations or reminders.

The rule that keeps anyone from getting two copies: a message is marked ``sending`` and
committed *before* it is handed to the mail server, and ``sent`` or ``failed`` after. A
batch that is run again (after a crash, a kill or a mail-server outage) first turns any
``sending`` message into ``uncertain`` (it may have gone) and never sends those by itself;
everything still ``pending`` is sent exactly once.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError
from surveyapp.invitations import preview
from surveyapp.invitations.groups import Group, _reason, claim_message, claim_pending  # noqa: F401
from surveyapp.invitations.mailer import (
    Mailer,
)
from surveyapp.invitations.models import (
    Batch,
    BatchStatus,
    Message,
    MessageKind,
    MessageStatus,
    Reason,
)
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import DELIVERED  # noqa: F401 (the dashboard imports it from here)
from surveyapp.studies.models import Study


class NothingToSend(DomainError):
    pass


class ListChanged(DomainError):
    """The nominees a batch would go to are not those the researcher previewed: nothing was
    sent. ``selection`` is the list as it is now."""

    def __init__(self, selection: preview.Selection | None):
        super().__init__("the list changed since the preview")
        self.selection = selection


def open_batch(study: Study) -> Batch | None:
    """A batch not yet finished (queued, running or interrupted), if there is one."""
    return db.session.scalar(
        sa.select(Batch).where(Batch.study_id == study.id, Batch.status != BatchStatus.DONE.value)
        .order_by(Batch.id).limit(1))


def unfinished_batch(study: Study, kind: MessageKind) -> Batch | None:
    """The first batch of this kind not yet finished: sent again before any new one is made."""
    return db.session.scalar(
        sa.select(Batch).where(Batch.study_id == study.id, Batch.kind == kind.value,
                               Batch.status != BatchStatus.DONE.value).order_by(Batch.id).limit(1))


def nominees_to_invite(study: Study) -> list[Nominee]:
    """Not declined, never handed an invitation, not waiting in a batch, with a usable address
    and not bounced (see ``preview.select``)."""
    return preview.select(study, MessageKind.INVITATION).to_send


def nominees_to_remind(study: Study, now=None) -> list[Nominee]:
    """Invited, not finished (submitted or declined), not written to lately, with a usable
    address and not bounced (see ``preview.select``)."""
    return preview.select(study, MessageKind.REMINDER, now=now).to_send


def create_batch(study: Study, kind: MessageKind, created_by_id: int | None = None,
                 nominee_ids: list[int] | None = None, selection: preview.Selection | None = None) -> Batch:
    """A batch for whom ``selection`` (made in this transaction; else selected now) would email,
    narrowed to ``nominee_ids`` when given."""
    candidates = (selection or preview.select(study, kind)).to_send
    if nominee_ids is not None:
        wanted = set(nominee_ids)
        candidates = [n for n in candidates if n.id in wanted]
    if not candidates:
        raise NothingToSend(kind.value)
    batch = Batch(study_id=study.id, kind=kind.value, created_by_id=created_by_id,
                  messages=[Message(nominee_id=n.id, kind=kind.value) for n in candidates])
    db.session.add(batch)
    db.session.flush()
    _audit_batch(batch, created_by_id)
    return batch


def _audit_batch(batch: Batch, by_id: int | None, **more) -> None:
    """A batch queued to send: which, of what kind, how many messages, by whom."""
    audit(kinds.BATCH_SENT, actor_id=by_id, batch_id=batch.id, batch_kind=batch.kind,
          messages=len(batch.messages), **more)


def confirm(study: Study, kind: MessageKind, token: str | None, user_id: int) -> Batch:
    """The batch a researcher confirmed on the preview: the rest of the unfinished batch the
    token names, or a new batch for exactly the nominees previewed.

    Raises preview.ConfirmationRefused for a missing, tampered, expired or someone else's
    token, and ListChanged when the list is no longer the one previewed (nothing is made)."""
    confirmation = preview.read_token(token, kind, user_id)
    unfinished = unfinished_batch(study, kind)
    if confirmation.batch_id is not None:
        if unfinished is None or unfinished.id != confirmation.batch_id:
            raise ListChanged(None)  # finished (or replaced) since the preview
        _audit_batch(unfinished, user_id, resumed=True)
        return unfinished
    selection = preview.select(study, kind)
    if unfinished is not None or selection.digest != confirmation.digest or not selection.to_send:
        raise ListChanged(selection)
    return create_batch(study, kind, created_by_id=user_id, selection=selection)


def batches_page(study: Study, page: int, per_page: int = 20) -> tuple[list[Batch], int, int]:
    """One page of the study's batches, newest first: (batches, page, pages). A page out of
    range is page 1."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Batch).where(Batch.study_id == study.id))
    pages = max(1, -(-total // per_page))
    if not 1 <= page <= pages:
        page = 1
    batches = db.session.scalars(sa.select(Batch).where(Batch.study_id == study.id).order_by(Batch.id.desc())
                                 .limit(per_page).offset((page - 1) * per_page)).all()
    return list(batches), page, pages


def counts_by_batch(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages per status (and in total) for each batch, in one query."""
    result = {batch_id: {status.value: 0 for status in MessageStatus} | {"total": 0} for batch_id in batch_ids}
    rows = db.session.execute(sa.select(Message.batch_id, Message.status, sa.func.count())
                              .where(Message.batch_id.in_(batch_ids)).group_by(Message.batch_id, Message.status))
    for batch_id, status, n in rows:
        result[batch_id][status] = n
        result[batch_id]["total"] += n
    return result


def counts(batch: Batch) -> dict[str, int]:
    return counts_by_batch([batch.id])[batch.id]


class BatchBusy(DomainError):
    """Another live sender is working on this batch."""


RUNNER_STALE_AFTER = timedelta(minutes=5)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _runner_alive(runner: str, heartbeat_at, now) -> bool:
    """A sender on this host is alive while its process is; elsewhere, while it beats."""
    host, _, rest = runner.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return heartbeat_at is not None and now - heartbeat_at < RUNNER_STALE_AFTER


def _claim(batch: Batch) -> bool:
    """Take the batch for this sender, unless a live one has it (compare-and-swap)."""
    now = utcnow()
    if batch.runner and _runner_alive(batch.runner, batch.heartbeat_at, now):
        return False
    previous = Batch.runner.is_(None) if batch.runner is None else Batch.runner == batch.runner
    claimed = db.session.execute(
        sa.update(Batch).where(Batch.id == batch.id, previous)
        .values(runner=_me(), heartbeat_at=now, status=BatchStatus.RUNNING.value, note=None,
                started_at=sa.func.coalesce(Batch.started_at, now))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return claimed == 1


# Messages claimed in one commit and recorded in the next (config SEND_GROUP_SIZE). Larger
# groups mean fewer commits; a crash that kills the sender leaves at most this many uncertain.
SEND_GROUP = 10


def run_batch(batch_id: int, progress: Callable[[Message], None] | None = None,
              mailer: Mailer | None = None, group_size: int | None = None) -> Batch:
    """Send every pending message of a batch, a group at a time: the group is claimed
    (``sending``) and committed before anything is handed to the server, each message is
    sent, and the group's outcomes are recorded in one commit. ``progress`` is called for each
    message once its outcome is known (recorded with its group's).

    A message that cannot be built or sent fails alone, with its reason, and the batch goes
    on; only the mail server being unavailable or a connection lost mid-message stops it.
    A fault or a stop part-way through a group records what is known and gives back the
    messages never handed over; only a crash that kills the process leaves the rest of its
    group ``sending`` (then ``uncertain``: never sent again by itself).
    Raises BatchBusy when another live sender has the batch.
    """
    batch = db.session.get(Batch, batch_id)
    if batch is None or batch.status == BatchStatus.DONE:
        return batch
    if not _claim(batch):
        raise BatchBusy(f"batch {batch_id} is being sent by {batch.runner}")
    db.session.refresh(batch)
    # Only now, with the batch ours, can a "sending" left behind be a crashed sender's.
    db.session.execute(
        sa.update(Message).where(Message.batch_id == batch.id, Message.status == MessageStatus.SENDING.value)
        .values(status=MessageStatus.UNCERTAIN.value, smtp_reply=_reason(Reason.INTERRUPTED)))
    db.session.commit()

    mailer = mailer or Mailer(current_app.config)
    group_size = group_size or current_app.config.get("SEND_GROUP_SIZE", SEND_GROUP)
    pending = db.session.scalars(sa.select(Message.id).where(
        Message.batch_id == batch.id, Message.status == MessageStatus.PENDING.value).order_by(Message.id)).all()
    group = None
    try:
        for start in range(0, len(pending), group_size):
            group = Group(batch.id)
            stop = group.run(pending[start:start + group_size], mailer, progress)
            group = None
            if stop:
                batch.status, batch.note = BatchStatus.INTERRUPTED.value, stop
                return batch
        batch.status, batch.finished_at = BatchStatus.DONE.value, utcnow()
        return batch
    except BaseException:
        db.session.rollback()  # a fault here (the database, a kill): never leave "Sending" behind
        if group is not None:
            group.record()  # what is known, and give back what was never handed over
        batch.status = BatchStatus.INTERRUPTED.value
        raise
    finally:
        mailer.close()
        batch.runner = None
        db.session.commit()


def resume_or_create(study: Study, kind: MessageKind, created_by_id: int | None = None) -> Batch:
    """An unfinished batch of this kind if there is one (to send again), else a new batch."""
    return unfinished_batch(study, kind) or create_batch(study, kind, created_by_id)


class AlreadyHandled(DomainError):
    """The message is no longer failed or uncertain: it was sent again already (or is being)."""


RESENDABLE = (MessageStatus.FAILED.value, MessageStatus.UNCERTAIN.value)


def resend(message_id: int, by_id: int | None = None) -> Batch:
    """A researcher's deliberate resend of a failed or uncertain message: a new batch of one.

    The old message is claimed first (failed or uncertain -> resent, compare-and-swap, as a
    batch claims its messages), so that a double click or two researchers at once make one
    new message, not two. Raises AlreadyHandled when someone else got there first, or when the
    nominee has since had (or is waiting for) another message of this kind.
    """
    message = db.session.get(Message, message_id)
    if message is None:
        raise AlreadyHandled(message_id)
    other = aliased(Message)  # not correlated with the row being updated
    later = sa.select(other.id).where(other.nominee_id == message.nominee_id, other.kind == message.kind,
                                      other.id > message.id, other.status != MessageStatus.FAILED.value)
    claimed = db.session.execute(
        sa.update(Message).where(Message.id == message.id, Message.status.in_(RESENDABLE), ~later.exists())
        .values(status=MessageStatus.RESENT.value).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise AlreadyHandled(message_id)
    db.session.refresh(message)
    batch = Batch(study_id=message.batch.study_id, kind=message.kind,
                  messages=[Message(nominee_id=message.nominee_id, kind=message.kind)])
    db.session.add(batch)
    db.session.flush()
    _audit_batch(batch, by_id, resend_of=message_id)
    return batch
