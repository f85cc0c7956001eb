"""Withdrawing from the study, deciding late withdrawals, and which answers may be used.

A participant withdraws from their own link, or a researcher records a withdrawal heard by
email or phone. Either way the participant takes no further part (status ``withdrawn``: the
survey pages save nothing more, and no invitation or reminder is sent).

Scope "no further participation, keep what I gave" is applied at once: there is nothing to
erase, so no cut-off applies. Scope "withdraw my answers" is applied at once (the answers are
erased in the same transaction) unless it was asked after the cut-off stated in the
information sheet (submission + ``Study.withdrawal_window_days``): then it is recorded as
*flagged* and a researcher decides, applying it (erasing) or keeping the answers with a
reason. A participant has one withdrawal row; a second request may widen its scope
(participation to answers), never narrow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyapp.audit import kinds
from surveyapp.audit.chain import record as audit
from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError
from surveyapp.paging import page_count, page_to_show
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.studies.models import Study
from surveyapp.withdrawal.erasure import erase_answers
from surveyapp.withdrawal.models import Channel, Outcome, Scope, Withdrawal


class NothingToWithdraw(DomainError):
    """The participant never consented: there is nothing to withdraw from (they can decline)."""


class AlreadyDecided(DomainError):
    """The withdrawal is not waiting for a decision."""


@dataclass(frozen=True)
class Result:
    withdrawal: Withdrawal
    changed: bool  # False: an earlier request already covered this one
    erased: int    # answers erased by this request


def cutoff_for(participant: Participant) -> datetime | None:
    """The last moment answers can be withdrawn without a researcher's decision: the
    submission plus the study's window. None: no cut-off yet (not submitted) or none at all."""
    days = participant.study.withdrawal_window_days
    if participant.submitted_at is None or days is None:
        return None
    return participant.submitted_at + timedelta(days=days)


def can_withdraw(participant: Participant) -> bool:
    """Only someone who consented at some time (and so has a P-ID) has anything to withdraw:
    that includes one who later refused a new consent-form version or declined further emails,
    whose earlier answers are still held."""
    return participant.pid is not None


def withdraw(participant: Participant, scope: Scope, channel: Channel, recorded_by: int | None = None,
             requested_at: datetime | None = None) -> Result:
    """Record a withdrawal (in the current transaction; the caller commits).

    ``requested_at`` is when the participant asked (a researcher gives the day they heard;
    default now); the cut-off is judged against it, not against when it was typed in.
    ``recorded_by``: the researcher's user id; None when the participant used their link."""
    if not can_withdraw(participant):
        raise NothingToWithdraw(f"participant {participant.id} has not consented")
    scope, channel = Scope(scope), Channel(channel)
    requested_at = requested_at or utcnow()
    existing = participant.withdrawal
    if existing is not None and (existing.scope == Scope.ANSWERS or scope == Scope.PARTICIPATION):
        return Result(existing, changed=False, erased=0)  # the same, or narrower: nothing to do

    cutoff = cutoff_for(participant)
    late = scope == Scope.ANSWERS and cutoff is not None and requested_at > cutoff
    outcome = Outcome.FLAGGED if late else Outcome.APPLIED
    widened = existing is not None
    withdrawal = existing or Withdrawal(participant=participant)
    withdrawal.scope, withdrawal.channel = scope.value, channel.value
    withdrawal.requested_at, withdrawal.recorded_by_id = requested_at, recorded_by
    withdrawal.outcome, withdrawal.cutoff_at = outcome.value, cutoff
    db.session.add(withdrawal)
    participant.status = ParticipantStatus.WITHDRAWN.value
    db.session.flush()
    audit(kinds.CONSENT_WITHDRAWN, actor_id=recorded_by, participant_id=participant.id, pid=participant.pid,
          scope=scope.value, channel=channel.value, outcome=outcome.value, widened=widened,
          requested_on=requested_at.date().isoformat())
    erased = _erase(withdrawal, recorded_by) if outcome == Outcome.APPLIED and scope == Scope.ANSWERS else 0
    return Result(withdrawal, changed=True, erased=erased)


def decide(withdrawal: Withdrawal, *, apply: bool, decided_by: int, reason: str | None = None) -> int:
    """A researcher decides a flagged (late) withdrawal: apply it (erasing the answers when
    that is its scope) or keep the answers, with a reason. Returns the answers erased."""
    if withdrawal.outcome != Outcome.FLAGGED:
        raise AlreadyDecided(f"withdrawal {withdrawal.id} is {withdrawal.outcome}")
    if not apply and not (reason or "").strip():
        raise DomainError("keeping the answers needs a reason")
    # Conditional on its still being flagged: two researchers deciding at once, one wins.
    won = db.session.execute(
        sa.update(Withdrawal)
        .where(Withdrawal.id == withdrawal.id, Withdrawal.outcome == Outcome.FLAGGED.value)
        .values(outcome=(Outcome.APPLIED if apply else Outcome.DECLINED).value, decided_at=utcnow(),
                decided_by_id=decided_by, decision_reason=(reason or "").strip() or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(withdrawal)
    if not won:
        raise AlreadyDecided(f"withdrawal {withdrawal.id} is {withdrawal.outcome}")
    # The reason is the researcher's free text: it stays in the withdrawal row, not the trail.
    audit(kinds.WITHDRAWAL_DECIDED, actor_id=decided_by, participant_id=withdrawal.participant_id,
          pid=withdrawal.participant.pid, scope=withdrawal.scope, outcome=withdrawal.outcome)
    if apply and withdrawal.scope == Scope.ANSWERS:
        return _erase(withdrawal, decided_by)
    return 0


def _erase(withdrawal: Withdrawal, actor_id: int | None) -> int:
    participant = withdrawal.participant
    erased = erase_answers(participant)
    withdrawal.erased_at = utcnow()
    db.session.flush()
    audit(kinds.ANSWERS_ERASED, actor_id=actor_id, participant_id=participant.id, pid=participant.pid,
          answers=erased)
    return erased


# --- Whose answers may be used ------------------------------------------------------------

def answers_usable(participant=Participant) -> sa.ColumnElement[bool]:
    """An SQL condition, true for participants whose answers may be used in any export,
    summary or pack: every participant except those who asked for their answers to be
    withdrawn, whether that request was applied (the answers are erased anyway) or is
    flagged and waiting for a researcher (the cautious reading: not used until decided).
    A late request the researcher declined (answers kept, with a reason) leaves the answers
    usable, as does "no further participation, keep what I gave".

    ``participant``: the Participant entity or an alias of it, for use in a larger query."""
    return ~sa.exists().where(
        Withdrawal.participant_id == participant.id,
        Withdrawal.scope == Scope.ANSWERS.value,
        Withdrawal.outcome.in_((Outcome.APPLIED.value, Outcome.FLAGGED.value)),
    )


def usable_participants(study: Study) -> sa.Select:
    """The study's participants whose answers may be used (see ``answers_usable``)."""
    return sa.select(Participant).where(Participant.study_id == study.id, answers_usable(Participant))


# --- Finding a participant from what a researcher was told ---------------------------------

_PID_RE = re.compile(r"^P\s*-?\s*(\d{1,9})$")
_REFERENCE_RE = re.compile(r"^([2-9A-HJ-NP-Z]{4})[\s-]?([2-9A-HJ-NP-Z]{4})$")


def find_participant(study: Study, given: str) -> Participant | None:
    """The study's participant named by a P-ID ("P12", "p 12") or by the reference on their
    done page ("ABCD-EFGH", any case, with or without the hyphen); None if there is none."""
    text = (given or "").strip().upper()
    if match := _PID_RE.match(text):
        condition = Participant.pid == int(match.group(1))
    elif match := _REFERENCE_RE.match(text):
        condition = Participant.reference == f"{match.group(1)}-{match.group(2)}"
    else:
        return None
    return db.session.scalar(sa.select(Participant).where(Participant.study_id == study.id, condition))


# --- The researchers' list ------------------------------------------------------------------

def withdrawals_page(study: Study, page: int, per_page: int = 50) -> tuple[list[Withdrawal], int, int]:
    """One page of the study's withdrawals, those waiting for a decision first, then the
    newest: (withdrawals, page, pages). A page past the end is the last, as in every list."""
    where = sa.and_(Withdrawal.participant_id == Participant.id, Participant.study_id == study.id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Withdrawal).join(Participant, where))
    pages = page_count(total, per_page)
    page = page_to_show(page, total, per_page)
    flagged_first = sa.case((Withdrawal.outcome == Outcome.FLAGGED.value, 0), else_=1)
    rows = db.session.scalars(
        sa.select(Withdrawal).join(Participant, where)
        .options(sa.orm.joinedload(Withdrawal.participant), sa.orm.joinedload(Withdrawal.recorded_by),
                 sa.orm.joinedload(Withdrawal.decided_by))
        .order_by(flagged_first, Withdrawal.requested_at.desc(), Withdrawal.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(rows), page, pages


def flagged_count(study: Study) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Withdrawal).join(Participant)
        .where(Participant.study_id == study.id, Withdrawal.outcome == Outcome.FLAGGED.value))
