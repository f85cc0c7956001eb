from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyapp.db import UTCDateTime, db, utcnow
from surveyapp.nominees.models import Nominee


class MessageKind(enum.StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"        # handed to the mail server; outcome not yet recorded
    SENT = "sent"              # the server accepted it (250)
    FAILED = "failed"          # the server refused it; its reply is kept
    UNCERTAIN = "uncertain"    # the sender stopped mid-send: it may have gone; never resent by itself
    RESENT = "resent"          # was failed or uncertain; a researcher sent it again in a new batch


class Reason(enum.StrEnum):
    """Why the app itself did not send a message (rather than the server refusing it). Stored in
    ``smtp_reply`` as ``app:<reason>``, so that the page can say it in the reader's language."""

    DECLINED = "declined"
    BAD_ADDRESS = "bad_address"
    NEEDS_SMTPUTF8 = "needs_smtputf8"
    UNSENDABLE = "unsendable"
    NAME_LINES = "name_lines"
    INTERRUPTED = "interrupted"
    CONNECTION_LOST = "connection_lost"


REASON_PREFIX = "app:"


class BatchStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    DONE = "done"


KIND_TITLES = {MessageKind.INVITATION: _l("Invitations"), MessageKind.REMINDER: _l("Reminders")}
MESSAGE_TITLES = {
    MessageStatus.PENDING: _l("Waiting to be sent"),
    MessageStatus.SENDING: _l("Sending"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.FAILED: _l("Failed"),
    MessageStatus.UNCERTAIN: _l("Not known: sending was interrupted"),
    MessageStatus.RESENT: _l("Sent again in a later batch"),
}
REASON_TITLES = {
    Reason.DECLINED: _l("Not sent: %(name)s has declined to take part."),
    Reason.BAD_ADDRESS: _l("Not sent: the address of %(name)s, %(email)s, is not one an email can be sent to. "
                           "Correct it on the nominee's page, then send again."),
    Reason.NEEDS_SMTPUTF8: _l("Not sent: the address of %(name)s, %(email)s, has accented letters before the @, "
                              "and the mail server cannot deliver to such addresses (it does not offer SMTPUTF8). "
                              "Ask for another address, or for a mail server that offers SMTPUTF8."),
    Reason.NAME_LINES: _l("Not sent: the name of %(name)s is on more than one line in the list of nominees "
                          "(perhaps a cell with two lines). Correct it on the nominee's page, then send again."),
    Reason.UNSENDABLE: _l("Not sent: the email to %(name)s could not be put together. Check the nominee's "
                          "name and address, then send again; if it fails again, tell the site's administrator."),
    Reason.INTERRUPTED: _l("Sending to %(name)s was interrupted before the outcome was recorded: "
                           "the email may have been delivered. It is not sent again unless you choose to."),
    Reason.CONNECTION_LOST: _l("The connection to the mail server was lost while the email to %(name)s "
                               "was being handed over: it may have been delivered. It is not sent again "
                               "unless you choose to."),
}
BATCH_TITLES = {
    BatchStatus.QUEUED: _l("Queued"),
    BatchStatus.RUNNING: _l("Sending"),
    BatchStatus.INTERRUPTED: _l("Stopped before the end"),
    BatchStatus.DONE: _l("Finished"),
}


class Batch(db.Model):
    __tablename__ = "invitation_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default=BatchStatus.QUEUED.value)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.Text)
    # Who is sending it now ("host:pid:thread"), so that two senders never work on one batch.
    runner: Mapped[str | None] = mapped_column(sa.String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list[Message]] = relationship(back_populates="batch", order_by="Message.id")


class Message(db.Model):
    __tablename__ = "invitation_message"
    __table_args__ = (sa.UniqueConstraint("batch_id", "nominee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("invitation_batch.id"), index=True)
    nominee_id: Mapped[int] = mapped_column(sa.ForeignKey("nominee.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default=MessageStatus.PENDING.value)
    language: Mapped[str | None] = mapped_column(sa.String(10))  # cy, en or bilingual
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    smtp_reply: Mapped[str | None] = mapped_column(sa.Text)
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[Batch] = relationship(back_populates="messages")
    nominee: Mapped[Nominee] = relationship()

    @property
    def reason(self) -> Reason | None:
        """The app's own reason for this outcome, when it is one (else ``smtp_reply`` is the
        mail server's words)."""
        reply = self.smtp_reply or ""
        if reply.startswith(REASON_PREFIX):
            try:
                return Reason(reply[len(REASON_PREFIX):].partition(":")[0])
            except ValueError:
                return None
        return None
