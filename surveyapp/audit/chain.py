"""Appending to the audit chain and checking it.

Each event's ``hash`` is an HMAC-SHA256, under a key held outside the database
(``AUDIT_KEY``), of its canonical content: its sequence number, time, kind, actor,
participant, details and the previous event's hash. So:

- editing any field of a past event breaks its own hash;
- deleting, inserting or reordering events breaks the sequence or the link to the previous
  hash of the event after;
- someone with only database access cannot write a chain that verifies, having no key;
- cutting events off the end leaves a chain that is whole but shorter than the heads appended,
  after each commit, to a file outside the database (``AUDIT_ANCHOR_PATH``).

Appends take the one ``audit_head`` row first (an UPDATE, so PostgreSQL's row lock and
SQLite's write lock put concurrent appends in one order); the event is written in the caller's
transaction, so an action and its event are committed, or rolled back, together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from surveyapp.audit.models import AuditEvent, AuditHead
from surveyapp.db import db, utcnow

GENESIS = "0" * 64
HEAD_ID = 1
_PENDING_KEY = "audit_anchor_pending"


def canonical(seq: int, occurred_at: datetime, kind: str, actor_id: int | None,
              participant_id: int | None, details: dict[str, Any], prev_hash: str) -> bytes:
    """The exact bytes an event's hash covers."""
    return json.dumps(
        {"seq": seq, "at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
         "kind": kind, "actor": actor_id, "participant": participant_id, "details": details,
         "prev": prev_hash},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8")


def digest(key: str, content: bytes) -> str:
    return hmac.new(key.encode("utf-8"), content, hashlib.sha256).hexdigest()


def _check_details(details: dict[str, Any]) -> None:
    """Details are identifiers, codes, counts and short lists of them: no floats (their text
    may not survive a round trip), nothing nested deeper than a list or a flat mapping."""
    for name, value in details.items():
        values = value if isinstance(value, list | tuple) else (
            value.values() if isinstance(value, dict) else [value])
        for item in values:
            if item is not None and not isinstance(item, str | int | bool):
                raise TypeError(f"audit detail {name!r} holds a {type(item).__name__}")


def record(kind: str, *, actor_id: int | None = None, participant_id: int | None = None,
           **details: Any) -> int:
    """Append one event in the current transaction; returns its sequence number."""
    from surveyapp.audit import kinds

    if kind not in kinds.ALL:
        raise ValueError(f"unknown audit event kind: {kind}")
    _check_details(details)
    details = json.loads(json.dumps(details))  # as it will read back (tuples become lists)
    session = db.session
    seq, prev_hash = _take_head(session)
    now = utcnow()
    key = current_app.config["AUDIT_KEY"]
    event_hash = digest(key, canonical(seq, now, kind, actor_id, participant_id, details, prev_hash))
    session.execute(sa.insert(AuditEvent).values(
        seq=seq, occurred_at=now, kind=kind, actor_id=actor_id, participant_id=participant_id,
        details=details, prev_hash=prev_hash, hash=event_hash))
    session.execute(sa.update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=event_hash)
                    .execution_options(synchronize_session=False))
    anchor = current_app.config.get("AUDIT_ANCHOR_PATH")
    if anchor:
        session.info.setdefault(_PENDING_KEY, []).append((anchor, seq, event_hash, now))
    return seq


def _take_head(session) -> tuple[int, str]:
    """Move the head on by one and return (this event's seq, the previous hash). The UPDATE
    locks the head row until the transaction ends, so appends queue here in one order."""
    take = (sa.update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash).execution_options(synchronize_session=False))
    taken = session.execute(take).first()
    if taken is not None:
        return taken[0], taken[1]
    try:  # the first event of a new database; two first events at once: one inserts, one waits
        with session.begin_nested():
            session.execute(sa.insert(AuditHead).values(id=HEAD_ID, seq=1, hash=GENESIS))
        return 1, GENESIS
    except sa.exc.IntegrityError:
        taken = session.execute(take).one()
        return taken[0], taken[1]


# --- The external anchor: heads appended after each commit --------------------------------

@sa.event.listens_for(Session, "after_commit")
def _anchor_committed(session: Session) -> None:
    for path, seq, event_hash, when in session.info.pop(_PENDING_KEY, []):
        append_anchor(path, seq, event_hash, when)


@sa.event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


@sa.event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context, _instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent):
            raise RuntimeError("audit events are never changed or deleted")


def append_anchor(path: str, seq: int, event_hash: str, when: datetime) -> None:
    """One line per committed event: ``seq hash time``. Appends of one short line are atomic
    (O_APPEND), so several processes can share the file."""
    line = f"{seq} {event_hash} {when.astimezone(UTC).isoformat(timespec='seconds')}\n".encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_anchor(path: str) -> dict[int, str]:
    """The heads recorded in the anchor file, by sequence number (a malformed line is skipped
    and reported by ``verify`` as a problem of the file)."""
    heads: dict[int, str] = {}
    for line in Path(path).read_text("utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and len(parts[1]) == 64:
            heads[int(parts[0])] = parts[1]
    return heads


# --- Verification -------------------------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """The first broken link: the event where it shows, and what is wrong."""

    seq: int
    code: str  # missing | unlinked | altered | truncated | anchor_mismatch | head
    kind: str | None = None
    occurred_at: datetime | None = None
    # missing: the seq that should have come; truncated: where the chain now ends;
    # head: the seq the head row records
    expected_seq: int | None = None


@dataclass(frozen=True)
class Verification:
    checked: int
    head_seq: int
    head_hash: str
    anchored_seq: int | None   # the highest head in the anchor file; None: no file
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


_COLUMNS = (AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.kind, AuditEvent.actor_id,
            AuditEvent.participant_id, AuditEvent.details, AuditEvent.prev_hash, AuditEvent.hash)


def _events(batch: int = 1000) -> Iterator[sa.Row]:
    """Every event in seq order, a batch at a time, as plain rows (no objects are kept in the
    session, so a walk of a long chain uses little memory and leaves the caller's objects alone)."""
    last = None
    while True:
        query = sa.select(*_COLUMNS).order_by(AuditEvent.seq).limit(batch)
        rows = db.session.execute(query if last is None else query.where(AuditEvent.seq > last)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0


def head() -> AuditHead | None:
    """The head row: the last event's seq and hash (None before the first event)."""
    return db.session.get(AuditHead, HEAD_ID)


def verify(key: str | None = None, anchor_path: str | None = None,
           progress: Callable[[int], None] | None = None) -> Verification:
    """Walk the whole chain from the first event, then compare its end with the anchor file
    (``anchor_path=""``: do not). ``progress`` is called with each event's seq as it is checked."""
    key = key if key is not None else current_app.config["AUDIT_KEY"]
    if anchor_path is None:
        anchor_path = current_app.config.get("AUDIT_ANCHOR_PATH")
    expected, prev_hash, checked = 1, GENESIS, 0
    hashes_at: dict[int, str] = {}
    anchored = read_anchor(anchor_path) if anchor_path and Path(anchor_path).exists() else None
    wanted = set(anchored or ())
    broken: Break | None = None
    for event in _events():
        if event.seq != expected:
            broken = Break(event.seq, "missing", event.kind, event.occurred_at, expected)
            break
        if event.prev_hash != prev_hash:
            broken = Break(event.seq, "unlinked", event.kind, event.occurred_at)
            break
        content = canonical(event.seq, event.occurred_at, event.kind, event.actor_id,
                            event.participant_id, event.details, event.prev_hash)
        if not hmac.compare_digest(digest(key, content), event.hash):
            broken = Break(event.seq, "altered", event.kind, event.occurred_at)
            break
        if event.seq in wanted:
            hashes_at[event.seq] = event.hash
        prev_hash, expected, checked = event.hash, expected + 1, checked + 1
        if progress is not None:
            progress(event.seq)
    head_seq = expected - 1
    if broken is None and anchored:
        if max(anchored) > head_seq:  # named by the last head the file saw
            broken = Break(max(anchored), "truncated", expected_seq=head_seq)
        else:
            for seq in sorted(anchored):
                if hashes_at.get(seq) != anchored[seq]:
                    broken = Break(seq, "anchor_mismatch")
                    break
    if broken is None:
        row = head()
        recorded = (row.seq, row.hash) if row is not None else (0, GENESIS)
        if recorded != (head_seq, prev_hash):  # the head row says the chain ends elsewhere
            broken = Break(head_seq, "head", expected_seq=recorded[0])
    return Verification(checked, head_seq, prev_hash, max(anchored) if anchored else None, broken)
