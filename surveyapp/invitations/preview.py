"""Who a batch would email, and who it would not and why, before anything is sent.

One query reads every nominee of the study with their status (from ``nominees.status``, the
one place that says it), their last email of the kind and whether they are already waiting in
an unfinished batch; the reasons are then decided here, in order, so that the preview, the
confirmation and the batch itself agree on one list.

The confirmation carries a signed token that names the kind, the researcher and a hash of the
exact nominees previewed: a batch is made only for the list the researcher saw.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import aliased, contains_eager

from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError
from surveyapp.invitations import emails
from surveyapp.invitations.mailer import (
    DeliveryUncertain,
    Mailer,
    MailServerUnavailable,
    MessageRefused,
    MessageUnsendable,
    smtp_address,
)
from surveyapp.invitations.models import Batch, BatchStatus, Message, MessageKind, MessageStatus
from surveyapp.invitations.outcomes import REFUSED, reply_title
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import DELIVERED, NomineeStatus, select_with_status
from surveyapp.studies.models import Study

LANGUAGES = ("cy", "en", "bilingual")
TOKEN_SALT = "surveyapp.invitations.send-confirmation"
TOKEN_MAX_AGE = 3600  # seconds: a preview left open longer is looked at again


class Skip(enum.StrEnum):
    DECLINED = "declined"
    SUBMITTED = "submitted"
    QUEUED = "queued"
    INVITED = "invited"
    NOT_INVITED = "not_invited"
    RECENT = "recent"
    BAD_ADDRESS = "bad_address"
    BOUNCED = "bounced"


SKIP_TITLES = {
    Skip.DECLINED: _l("Declined to take part, or withdrew"),
    Skip.SUBMITTED: _l("Already submitted their answers"),
    Skip.QUEUED: _l("Waiting in a batch not yet finished"),
    Skip.INVITED: _l("Already invited"),
    Skip.NOT_INVITED: _l("Not invited yet"),
    Skip.RECENT: None,  # a plural, with the interval: see skip_titles
    Skip.BAD_ADDRESS: _l("No usable email address"),
    Skip.BOUNCED: _l("The last email failed and the address has not been edited since"),
}


def skip_titles() -> dict[Skip, str]:
    """The reasons, translated, with the reminder interval filled in."""
    days = current_app.config["REMINDER_INTERVAL_DAYS"]
    recent = ngettext("Emailed in the last %(num)d day", "Emailed in the last %(num)d days", days)
    return {skip: recent if skip == Skip.RECENT else str(title) for skip, title in SKIP_TITLES.items()}


# Whom an invitation may go to, and whom a reminder may, by status.
_INVITABLE = (NomineeStatus.NOT_INVITED, NomineeStatus.FAILED)
_UNREACHABLE = (NomineeStatus.DECLINED, NomineeStatus.WITHDRAWN)


@dataclass
class Selection:
    kind: MessageKind
    to_send: list[Nominee] = field(default_factory=list)
    skipped: dict[Skip, list[Nominee]] = field(default_factory=lambda: {skip: [] for skip in Skip})

    @property
    def ids(self) -> list[int]:
        return [n.id for n in self.to_send]

    @property
    def digest(self) -> str:
        """A hash of exactly whom this would email (order-independent)."""
        return hashlib.sha256(",".join(map(str, sorted(self.ids))).encode()).hexdigest()

    def by_language(self) -> dict[str, list[Nominee]]:
        """cy, en and bilingual (in that order, only those present) -> the nominees."""
        groups: dict[str, list[Nominee]] = {mode: [] for mode in LANGUAGES}
        for nominee in self.to_send:
            groups[emails.language_mode(nominee)].append(nominee)
        return {mode: nominees for mode, nominees in groups.items() if nominees}


def _usable(address: str) -> bool:
    try:
        smtp_address(address)
    except MessageUnsendable:
        return False
    return True


def _query(study: Study, kind: MessageKind) -> sa.Select:
    """Every nominee of the study with: status, their last email of ``kind`` (status, when),
    when they were last emailed anything, whether an invitation reached them, and whether they
    wait in an unfinished batch. One statement."""
    of_study = sa.select(Nominee.id).where(Nominee.study_id == study.id)
    last_id = (sa.select(Message.nominee_id, sa.func.max(Message.id).label("id"))
               .where(Message.kind == kind.value, Message.nominee_id.in_(of_study))
               .group_by(Message.nominee_id).subquery())
    last = aliased(Message)
    contact = (sa.select(Message.nominee_id, sa.func.max(Message.attempted_at).label("at"))
               .where(Message.status.in_(DELIVERED), Message.nominee_id.in_(of_study))
               .group_by(Message.nominee_id).subquery())
    invited = sa.exists().where(Message.nominee_id == Nominee.id, Message.kind == MessageKind.INVITATION.value,
                                Message.status.in_(DELIVERED))
    queued = sa.exists().where(Message.nominee_id == Nominee.id, Message.status == MessageStatus.PENDING.value,
                               Message.batch_id == Batch.id, Batch.status != BatchStatus.DONE.value)
    return (select_with_status(study, Nominee, last.status.label("last_status"),
                               last.attempted_at.label("last_at"), contact.c.at.label("contact_at"),
                               invited.label("invited"), queued.label("queued"))
            .outerjoin(last_id, last_id.c.nominee_id == Nominee.id)
            .outerjoin(last, last.id == last_id.c.id)
            .outerjoin(contact, contact.c.nominee_id == Nominee.id)
            .options(contains_eager(Nominee.participant))
            .order_by(Nominee.id))


def _bounced(nominee: Nominee, last_status, last_at) -> bool:
    """Their last email of this kind failed and their details were not edited since."""
    if last_status != MessageStatus.FAILED:
        return False
    return last_at is None or nominee.updated_at is None or nominee.updated_at <= last_at


def _skip(kind: MessageKind, row, cutoff) -> Skip | None:
    nominee, status = row.Nominee, NomineeStatus(row.status)
    if status in _UNREACHABLE or nominee.declined_at is not None:
        # One who consented and then asked for no more emails is still engaged (their status
        # says so) but is never written to again.
        return Skip.DECLINED
    if kind == MessageKind.REMINDER and status == NomineeStatus.SUBMITTED:
        return Skip.SUBMITTED
    if row.queued:
        return Skip.QUEUED
    if kind == MessageKind.INVITATION:
        if row.invited or status not in _INVITABLE:
            return Skip.INVITED
    else:
        if not row.invited:
            return Skip.NOT_INVITED
        if row.contact_at is not None and row.contact_at > cutoff:
            return Skip.RECENT
    if not _usable(nominee.email):
        return Skip.BAD_ADDRESS
    if _bounced(nominee, row.last_status, row.last_at):
        return Skip.BOUNCED
    return None


def select(study: Study, kind: MessageKind, now=None) -> Selection:
    """Whom a batch of ``kind`` would email now, and whom it would skip and why."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["REMINDER_INTERVAL_DAYS"])
    selection = Selection(kind)
    for row in db.session.execute(_query(study, kind)):
        skip = _skip(kind, row, cutoff)
        if skip is None:
            selection.to_send.append(row.Nominee)
        else:
            selection.skipped[skip].append(row.Nominee)
    return selection


@dataclass(frozen=True)
class Sample:
    """What one language's email looks like, for its first nominee. ``parts``: (locale,
    subject, body) in the order they appear (Welsh first in a bilingual email)."""

    mode: str
    nominee: Nominee
    count: int
    parts: tuple[tuple[str, str, str], ...]


def samples(selection: Selection) -> list[Sample]:
    """The subject and body for each language present, built by the real email code with
    example links (a preview never shows a nominee's real link)."""
    result = []
    for mode, nominees in selection.by_language().items():
        sample = nominees[0]
        locales = ("cy", "en") if mode == "bilingual" else (mode,)
        parts = tuple((locale, *emails.render(selection.kind, sample, locale, example=True)) for locale in locales)
        result.append(Sample(mode, sample, len(nominees), parts))
    return result


# -- the confirmation token ---------------------------------------------------------------


class ConfirmationRefused(DomainError):
    """No token, a tampered or expired one, or one made for another researcher or kind."""


@dataclass(frozen=True)
class Confirmation:
    kind: str
    user_id: int
    digest: str | None  # a new batch: the hash of the nominees previewed
    batch_id: int | None  # or the unfinished batch whose rest is to be sent


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def issue_token(kind: MessageKind, user_id: int, *, selection: Selection | None = None,
                batch_id: int | None = None) -> str:
    return _serializer().dumps({"k": kind.value, "u": user_id,
                                "n": selection.digest if selection is not None else None, "b": batch_id})


def read_token(token: str | None, kind: MessageKind, user_id: int) -> Confirmation:
    """The confirmation a token carries, if it is genuine, recent and this researcher's for
    this kind; raises ConfirmationRefused otherwise."""
    if not token:
        raise ConfirmationRefused("no confirmation token")
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature as exc:  # SignatureExpired is one
        raise ConfirmationRefused(type(exc).__name__) from exc
    if not isinstance(data, dict) or data.get("k") != kind.value or data.get("u") != user_id:
        raise ConfirmationRefused("another kind or researcher")
    digest, batch_id = data.get("n"), data.get("b")
    if not (isinstance(digest, str) or isinstance(batch_id, int)):
        raise ConfirmationRefused("nothing confirmed")
    return Confirmation(kind.value, user_id, digest if isinstance(digest, str) else None,
                        batch_id if isinstance(batch_id, int) else None)


# -- "send a test to me" -------------------------------------------------------------------

TEST_SENT = {
    "cy": _l("The test email in Welsh was sent to you at %(email)s."),
    "en": _l("The test email in English was sent to you at %(email)s."),
    "bilingual": _l("The test email in Welsh and English was sent to you at %(email)s."),
}
TEST_NOT_SENT = _l("The test email was not sent.")
TEST_BAD_ADDRESS = _l("The test email could not be put together for your address, %(email)s: "
                      "check the address on your account, or the sample nominee's name.")
TEST_UNCERTAIN = _l("The connection to the mail server was lost while the test email was being handed over: "
                    "it may have been delivered.")
TEST_UNREACHABLE = _l("The mail server could not be reached. Nothing was sent; try again later.")


@dataclass(frozen=True)
class TestResult:
    sent: bool
    title: str  # what happened, translated
    outcome: str | None  # the mail server's answer as a translated status
    details: str | None  # the mail server's raw reply


def send_test(study: Study, kind: MessageKind, mode: str, name: str, address: str) -> TestResult | None:
    """The email the preview shows for ``mode``, marked as a test and with example links, to
    ``address`` only: synchronously, one message, nothing stored. None when no nominee would
    get an email in that language."""
    nominees = select(study, kind).by_language().get(mode)
    if not nominees:
        return None
    mailer = Mailer(current_app.config)
    try:
        email, _mode = emails.compose(kind.value, nominees[0], "test", test_recipient=(name, address))
        reply = mailer.send(email)
    except MessageUnsendable as exc:
        return TestResult(False, str(TEST_NOT_SENT), str(TEST_BAD_ADDRESS) % {"email": address}, exc.reason)
    except MessageRefused as exc:
        return TestResult(False, str(TEST_NOT_SENT), reply_title(exc.reply) or str(REFUSED), exc.reply)
    except MailServerUnavailable as exc:
        return TestResult(False, str(TEST_NOT_SENT), str(TEST_UNREACHABLE), str(exc))
    except DeliveryUncertain as exc:
        return TestResult(False, str(TEST_NOT_SENT), str(TEST_UNCERTAIN), str(exc))
    finally:
        mailer.close()
    return TestResult(True, str(TEST_SENT[mode]) % {"email": address}, reply_title(reply), reply)
