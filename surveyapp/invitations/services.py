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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased, joinedload

from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError
from surveyapp.invitations import emails
from surveyapp.invitations.mailer import (
    DeliveryUncertain,
    Mailer,
    MailServerUnavailable,
    MessageRefused,
    MessageUnsendable,
)
from surveyapp.invitations.models import (
    REASON_PREFIX,
    Batch,
    BatchStatus,
    Message,
    MessageKind,
    MessageStatus,
    Reason,
)
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.studies.models import Study

DELIVERED = (MessageStatus.SENT.value, MessageStatus.SENDING.value, MessageStatus.UNCERTAIN.value)
FINISHED_PARTICIPANT = (ParticipantStatus.SUBMITTED.value, ParticipantStatus.DECLINED.value,
                        ParticipantStatus.REFUSED.value)


class NothingToSend(DomainError):
    pass


def open_batch(study: Study) -> Batch | None:
    """A batch not yet finished (queued, running or interrupted), if there is one."""
    return db.session.scalar(
        sa.select(Batch).where(Batch.study_id == study.id, Batch.status != BatchStatus.DONE.value)
        .order_by(Batch.id).limit(1))


def _in_open_batches(study: Study):
    return (sa.select(Message.nominee_id).join(Batch)
            .where(Batch.study_id == study.id, Batch.status != BatchStatus.DONE.value,
                   Message.status == MessageStatus.PENDING.value))


def nominees_to_invite(study: Study) -> list[Nominee]:
    """Not declined, never handed an invitation, and not already waiting in a batch."""
    invited = sa.select(Message.nominee_id).where(Message.kind == MessageKind.INVITATION.value,
                                                  Message.status.in_(DELIVERED))
    return list(db.session.scalars(
        sa.select(Nominee).where(Nominee.study_id == study.id, Nominee.declined_at.is_(None),
                                 Nominee.id.not_in(invited), Nominee.id.not_in(_in_open_batches(study)))
        .order_by(Nominee.id)))


def nominees_to_remind(study: Study, now=None) -> list[Nominee]:
    """Invited, not finished (submitted, declined or refused), and not written to lately."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["REMINDER_INTERVAL_DAYS"])
    last_contact = (sa.select(Message.nominee_id, sa.func.max(Message.attempted_at).label("last"))
                    .where(Message.status.in_(DELIVERED)).group_by(Message.nominee_id).subquery())
    invited = sa.select(Message.nominee_id).where(Message.kind == MessageKind.INVITATION.value,
                                                  Message.status.in_(DELIVERED))
    return list(db.session.scalars(
        sa.select(Nominee).join(Participant, Nominee.participant_id == Participant.id)
        .join(last_contact, last_contact.c.nominee_id == Nominee.id)
        .where(Nominee.study_id == study.id, Nominee.declined_at.is_(None),
               Participant.status.not_in(FINISHED_PARTICIPANT), Nominee.id.in_(invited),
               last_contact.c.last <= cutoff, Nominee.id.not_in(_in_open_batches(study)))
        .order_by(Nominee.id)))


def create_batch(study: Study, kind: MessageKind, created_by_id: int | None = None,
                 nominee_ids: list[int] | None = None) -> Batch:
    candidates = nominees_to_invite(study) if kind == MessageKind.INVITATION else nominees_to_remind(study)
    if nominee_ids is not None:
        wanted = set(nominee_ids)
        candidates = [n for n in candidates if n.id in wanted]
    if not candidates:
        raise NothingToSend(kind.value)
    batch = Batch(study_id=study.id, kind=kind.value, created_by_id=created_by_id,
                  messages=[Message(nominee_id=n.id, kind=kind.value) for n in candidates])
    db.session.add(batch)
    db.session.flush()
    return batch


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
            group = _Group(batch.id)
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


def _reason(reason: Reason, detail: str = "") -> str:
    return f"{REASON_PREFIX}{reason.value}" + (f": {detail}" if detail else "")


def claim_message(pk: int, expected: str, /, **values) -> bool:
    """Move a message on from status ``expected`` (compare-and-swap): False when another
    sender or request has already moved it. The caller commits."""
    return db.session.execute(
        sa.update(Message).where(Message.id == pk, Message.status == expected).values(**values)
        .execution_options(synchronize_session=False)).rowcount == 1


_messages = Message.__table__
# A claimed message's outcome, written only while it is still this sender's claim (its Message-ID).
_RECORD = (sa.update(_messages)
           .where(_messages.c.id == sa.bindparam("pk"), _messages.c.message_id == sa.bindparam("claim"))
           .values(status=sa.bindparam("st"), smtp_reply=sa.bindparam("reply"), sent_at=sa.bindparam("sent")))
# Never handed over: back to pending, as if never claimed.
_GIVE_BACK = (sa.update(_messages)
              .where(_messages.c.id == sa.bindparam("pk"), _messages.c.message_id == sa.bindparam("claim"),
                     _messages.c.status == MessageStatus.SENDING.value)
              .values(status=MessageStatus.PENDING.value, attempted_at=None, language=None, message_id=None))
# Not even put together: failed with its reason, from pending only (nothing was handed over).
_NOT_SENT = (sa.update(_messages)
             .where(_messages.c.id == sa.bindparam("pk"), _messages.c.status == MessageStatus.PENDING.value)
             .values(status=MessageStatus.FAILED.value, attempted_at=sa.bindparam("at"),
                     smtp_reply=sa.bindparam("reply")))


def claim_pending(ids: list[int], now) -> set[int]:
    """Move those of ``ids`` still pending to "sending" in one conditional UPDATE; return the
    ones this sender got. A message another sender claimed first is not among them. The caller
    commits before handing any of them over."""
    return set(db.session.scalars(
        sa.update(_messages)
        .where(_messages.c.id.in_(ids), _messages.c.status == MessageStatus.PENDING.value)
        .values(status=MessageStatus.SENDING.value, attempted_at=now)
        .returning(_messages.c.id)).all())


class _Group:
    """A few messages of one batch: composed, claimed in one conditional UPDATE and
    one commit before anything is handed over, sent one by one, and recorded in one commit.

    ``outcomes`` holds what is known (message id -> status, reply, sent_at), ``claims`` the
    Message-ID each claimed message was given (the claim's proof), ``handed`` the ids whose
    hand-over has begun. ``record`` writes the outcomes and gives back every claimed message
    whose hand-over never began; a message whose hand-over began without an outcome stays
    ``sending``, to become ``uncertain``."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.claims: dict[int, str] = {}
        self.handed: set[int] = set()
        self.outcomes: dict[int, tuple[str, str | None, object]] = {}
        self.unsent: list[dict] = []

    def run(self, ids: list[int], mailer: Mailer, progress) -> str | None:
        messages = db.session.scalars(
            sa.select(Message).where(Message.id.in_(ids), Message.status == MessageStatus.PENDING.value)
            .options(joinedload(Message.nominee).joinedload(Nominee.participant).joinedload(Participant.study))
            .order_by(Message.id)).all()
        ready = self._compose(messages)
        now = utcnow()
        if ready:
            claimed = claim_pending([m.id for m, _e, _mode in ready], now)
            ready = [item for item in ready if item[0].id in claimed]
            if ready:
                db.session.execute(
                    sa.update(_messages).where(_messages.c.id == sa.bindparam("pk"))
                    .values(language=sa.bindparam("lang"), message_id=sa.bindparam("claim")),
                    [{"pk": m.id, "lang": mode, "claim": email["Message-ID"]} for m, email, mode in ready])
        if self.unsent:
            db.session.execute(_NOT_SENT, self.unsent)
        db.session.execute(sa.update(Batch).where(Batch.id == self.batch_id).values(heartbeat_at=now)
                           .execution_options(synchronize_session=False))
        # Claimed and recorded before the hand-over: a crash now leaves "sending", never a resend.
        ready = [(m.id, m, email) for m, email, _mode in ready]  # ids read before the commit expires them
        self.claims = {pk: email["Message-ID"] for pk, _m, email in ready}
        db.session.commit()
        stop = None
        for pk, message, email in ready:
            if not self._still_mine(pk):  # taken over (thought dead): not ours to send
                break
            self.handed.add(pk)
            stop = self._send(pk, email, mailer)
            if stop:
                break
            if progress:
                progress(message)
        self.record()
        db.session.commit()
        return stop

    def _compose(self, messages: list[Message]) -> list[tuple[Message, object, str]]:
        """Each message's email, built before anything is claimed; one that cannot be built
        fails alone (recorded with the claim)."""
        ready, now = [], utcnow()
        for message in messages:
            nominee = message.nominee
            if nominee.declined_at is not None:
                self.unsent.append({"pk": message.id, "at": None, "reply": _reason(Reason.DECLINED)})
                continue
            try:
                email, mode = emails.compose(message.kind, nominee, f"inv{message.id}")
            except MessageUnsendable as exc:
                self.unsent.append({"pk": message.id, "at": now, "reply": _reason(Reason(exc.reason))})
            except SQLAlchemyError:
                raise
            except Exception:  # any other fault building this one email: it fails, the batch goes on
                current_app.logger.exception("invitation message %s could not be composed", message.id)
                self.unsent.append({"pk": message.id, "at": now, "reply": _reason(Reason.UNSENDABLE)})
            else:
                ready.append((message, email, mode))
        return ready

    def _still_mine(self, pk: int) -> bool:
        """Whether this message is still this sender's claim, read afresh (on a connection of
        its own, so no snapshot of the session's hides a takeover)."""
        with db.engine.connect() as connection:
            return connection.scalar(sa.select(_messages.c.status).where(
                _messages.c.id == pk, _messages.c.message_id == self.claims[pk])) == MessageStatus.SENDING.value

    def _send(self, pk: int, email, mailer: Mailer) -> str | None:
        """Hand one message over; note its outcome. Returns why the batch must stop, or None."""
        stop, sent_at = None, None
        try:
            reply = mailer.send(email)
        except MailServerUnavailable as exc:
            stop = f"Mail server unavailable: {exc}"
            self.handed.discard(pk)  # nothing was handed over: it goes back to pending, saying why
            self.outcomes[pk] = (MessageStatus.PENDING.value, stop, None)
        except MessageUnsendable as exc:
            self.outcomes[pk] = (MessageStatus.FAILED.value, _reason(Reason(exc.reason)), None)
        except MessageRefused as exc:
            self.outcomes[pk] = (MessageStatus.FAILED.value, exc.reply, None)
        except DeliveryUncertain as exc:
            stop = f"Connection lost while sending: {exc}"
            self.outcomes[pk] = (MessageStatus.UNCERTAIN.value, _reason(Reason.CONNECTION_LOST, str(exc)), None)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a fault of our own mid-send: it may have gone, so never resend it by itself
            current_app.logger.exception("invitation message %s: sending failed", pk)
            mailer.close()
            self.outcomes[pk] = (MessageStatus.UNCERTAIN.value, _reason(Reason.INTERRUPTED, type(exc).__name__), None)
        else:
            sent_at = utcnow()
            self.outcomes[pk] = (MessageStatus.SENT.value, reply, sent_at)
        return stop

    def record(self) -> None:
        """Write the known outcomes and give back the claims never handed over (the caller
        commits). A MailServerUnavailable message keeps its claim's details, as pending."""
        if self.outcomes:
            db.session.execute(_RECORD, [{"pk": pk, "claim": self.claims[pk], "st": st, "reply": reply, "sent": sent}
                                         for pk, (st, reply, sent) in self.outcomes.items()])
        never = [pk for pk in self.claims if pk not in self.handed and pk not in self.outcomes]
        if never:
            db.session.execute(_GIVE_BACK, [{"pk": pk, "claim": self.claims[pk]} for pk in never])
        self.outcomes, self.claims = {}, {pk: c for pk, c in self.claims.items() if pk in self.handed}


def resume_or_create(study: Study, kind: MessageKind, created_by_id: int | None = None) -> Batch:
    """An unfinished batch of this kind if there is one (to send again), else a new batch."""
    batch = db.session.scalar(
        sa.select(Batch).where(Batch.study_id == study.id, Batch.kind == kind.value,
                               Batch.status != BatchStatus.DONE.value).order_by(Batch.id).limit(1))
    return batch or create_batch(study, kind, created_by_id)


class AlreadyHandled(DomainError):
    """The message is no longer failed or uncertain: it was sent again already (or is being)."""


RESENDABLE = (MessageStatus.FAILED.value, MessageStatus.UNCERTAIN.value)


def resend(message_id: int) -> Batch:
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
    return batch
