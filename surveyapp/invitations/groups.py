"""Sending one group of a batch's messages: composed, claimed in one conditional UPDATE and
one commit before anything is handed over, sent one by one over the batch's connection, and
recorded in one commit. Used by ``services.run_batch``; ``claim_message`` also by "Send again"."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from surveyapp.db import db, utcnow
from surveyapp.invitations import emails
from surveyapp.invitations.mailer import (
    DeliveryUncertain,
    Mailer,
    MailServerUnavailable,
    MessageRefused,
    MessageUnsendable,
)
from surveyapp.invitations.models import REASON_PREFIX, Batch, Message, MessageStatus, Reason
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant


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


class Group:
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
