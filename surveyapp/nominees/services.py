"""Adding, importing and editing nominees. Each nominee gets a participant and a link."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import sqlalchemy as sa

from surveyapp import text
from surveyapp.db import db, utcnow
from surveyapp.errors import DomainError
from surveyapp.nominees.importer import NomineeCheck, RowProblem
from surveyapp.nominees.models import (
    DECLINED_REASON_LENGTH,
    NAME_LENGTH,
    ROLE_LENGTH,
    ImportStatus,
    Nominee,
    NomineeImport,
)
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.participant.services import create_linked_participant, derive_token, hash_token
from surveyapp.studies.models import Study


class DuplicateNominee(DomainError):
    pass


@dataclass(frozen=True)
class NomineeData:
    name: str
    email: str
    la_code: str
    service_area: str
    agency: str
    role: str
    preferred_language: str


def _cleaned(data: NomineeData) -> NomineeData:
    """The one normalisation path once more (the form and the importer have used it already,
    so this changes nothing for them): whoever calls, the database never sees a control
    character, an over-long value or an address in another form. Raises text.TextRefused."""
    return replace(data, name=text.clean_line(data.name, max_length=NAME_LENGTH),
                   email=text.normalise_email(data.email),
                   role=text.clean_line(data.role, max_length=ROLE_LENGTH))


def existing_emails(study: Study) -> frozenset[str]:
    return frozenset(db.session.scalars(sa.select(Nominee.email).where(Nominee.study_id == study.id)))


def add_nominee(study: Study, data: NomineeData, link_key: str, *, taken: set[str] | None = None) -> Nominee:
    """Add one nominee. ``taken``, the study's emails kept by the caller, saves a query per
    nominee when adding many; it is updated here."""
    data = _cleaned(data)
    email = data.email
    if taken is None:
        taken = set(existing_emails(study))
    if email in taken:
        raise DuplicateNominee(email)
    taken.add(email)
    language = data.preferred_language if data.preferred_language in ("cy", "en") else None
    participant, nonce = create_linked_participant(study, link_key, language=language)
    nominee = Nominee(study_id=study.id, participant=participant, link_nonce=nonce, name=data.name,
                      email=email, la_code=data.la_code, service_area=data.service_area,
                      agency=data.agency, role=data.role, preferred_language=data.preferred_language)
    db.session.add(nominee)
    db.session.flush()
    return nominee


CHUNK_ROWS = 1_000  # rows per INSERT ... executemany when importing


class Imported(Sequence[Nominee]):
    """The nominees an import added, in file order, read from the database only when looked
    at (a chunk at a time when iterated), so an import of 50,000 holds their participants'
    ids, not 50,000 objects."""

    def __init__(self, participant_ids: list[int]):
        self.participant_ids = participant_ids

    def __len__(self) -> int:
        return len(self.participant_ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._load(self.participant_ids[index])
        return self._load([self.participant_ids[index]])[0]

    def __iter__(self) -> Iterator[Nominee]:
        for start in range(0, len(self.participant_ids), CHUNK_ROWS):
            yield from self._load(self.participant_ids[start:start + CHUNK_ROWS])

    @staticmethod
    def _load(participant_ids: list[int]) -> list[Nominee]:
        found = {n.participant_id: n for n in db.session.scalars(
            sa.select(Nominee).where(Nominee.participant_id.in_(participant_ids)))}
        return [found[i] for i in participant_ids]


def _insert(study: Study, chunk: list[NomineeData], link_key: str, now) -> list[int]:
    """One chunk of clean, new nominees: their participants in one executemany, their ids
    read back by link hash (unique, indexed) in one query, then the nominees in one
    executemany, each with a fresh link nonce. Returns the participants' ids, in order."""
    nonces = [secrets.token_hex(16) for _row in chunk]
    hashes = [hash_token(derive_token(link_key, nonce)) for nonce in nonces]
    db.session.execute(sa.insert(Participant.__table__), [
        {"study_id": study.id, "token_hash": token_hash, "source": "invited",
         "language": row.preferred_language if row.preferred_language in ("cy", "en") else None,
         "status": ParticipantStatus.STARTED.value, "current_section": 0, "created_at": now}
        for row, token_hash in zip(chunk, hashes, strict=True)])
    ids = dict(db.session.execute(sa.select(Participant.token_hash, Participant.id)
                                  .where(Participant.token_hash.in_(hashes))).all())
    participant_ids = [ids[h] for h in hashes]
    db.session.execute(sa.insert(Nominee.__table__), [
        {"study_id": study.id, "participant_id": participant_id, "link_nonce": nonce, "name": row.name,
         "email": row.email, "la_code": row.la_code, "service_area": row.service_area, "agency": row.agency,
         "role": row.role, "preferred_language": row.preferred_language, "created_at": now, "updated_at": now}
        for row, participant_id, nonce in zip(chunk, participant_ids, nonces, strict=True)])
    return participant_ids


class Importer:
    """Adds nominees a chunk at a time (INSERT with many rows, no ORM objects, no flush per
    row), in the caller's transaction: all or nothing is the caller's one commit or rollback.
    ``add`` takes one row and writes when a chunk is full; ``finish`` writes the rest."""

    def __init__(self, study: Study, link_key: str, *, progress: Callable[[int], None] | None = None,
                 chunk_rows: int = CHUNK_ROWS):
        self.study, self.link_key, self.progress, self.chunk_rows = study, link_key, progress, chunk_rows
        self.taken = set(existing_emails(study))
        self.ids: list[int] = []
        self.now = utcnow()
        self._chunk: list[NomineeData] = []

    def add(self, row, *, clean: bool = True) -> None:
        """One row (a NomineeRow or NomineeData), cleaned once more unless it comes straight
        from this pass's NomineeCheck (``clean=False``). Raises DuplicateNominee, text.TextRefused."""
        data = NomineeData(row.name, row.email, row.la_code, row.service_area, row.agency, row.role,
                           row.preferred_language)
        if clean:
            data = _cleaned(data)
        if data.email in self.taken:
            raise DuplicateNominee(data.email)
        self.taken.add(data.email)
        self._chunk.append(data)
        if len(self._chunk) >= self.chunk_rows:
            self._write()

    def _write(self) -> None:
        if self._chunk:
            self.ids += _insert(self.study, self._chunk, self.link_key, self.now)
            self._chunk = []
            if self.progress:
                self.progress(len(self.ids))

    def finish(self) -> Imported:
        self._write()
        return Imported(self.ids)


def import_nominees(study: Study, rows, link_key: str, *,
                    progress: Callable[[int], None] | None = None) -> Imported:
    """Add every row (already validated by the importer); all or nothing, the caller commits.
    ``progress`` is called with the number added so far after each chunk."""
    importer = Importer(study, link_key, progress=progress)
    for row in rows:
        importer.add(row)
    return importer.finish()


@dataclass
class ImportOutcome:
    """What import_file did: ``imported`` rows added (0 when refused), and the check's
    ``problems`` (as parse_nominees reports them), ``total_lines`` and ``valid_lines``."""

    imported: int
    problems: list
    total_lines: int
    valid_lines: int
    refused: bool  # nothing may be kept: the caller rolls back

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems if p.line > 0})


def import_file(study: Study, filename: str, data: bytes, link_key: str, *, valid_only: bool = False,
                progress: Callable[[int], None] | None = None, max_rows: int = 100_000) -> ImportOutcome:
    """Check a nominee file and add its rows in one streaming pass: each row is checked, and a
    row without problems is added with its chunk (nothing holds the whole list).

    All or nothing: when the file has any problem (and ``valid_only`` is not asked for), or a
    problem with the whole file, the outcome is ``refused`` and the caller must roll back
    what was added (it was added in the caller's transaction, never committed). With
    ``valid_only``, the rows without problems are kept. ``progress`` gets the rows checked.
    """
    check = NomineeCheck(filename, data, existing_emails=existing_emails(study), max_rows=max_rows)
    importer = Importer(study, link_key)
    for count, (row, ok) in enumerate(check, start=1):
        if ok and (valid_only or not check.problems):  # a refused file: check on, add no more
            importer.add(row, clean=False)
        if progress and count % CHUNK_ROWS == 0:
            progress(count)
    imported = len(importer.finish())
    refused = check.whole_file or (bool(check.problems) and not valid_only) or not imported
    if progress:
        progress(check.total_lines)
    return ImportOutcome(imported=0 if refused else imported, problems=check.problems,
                         total_lines=check.total_lines, valid_lines=0 if check.whole_file else check.valid_lines,
                         refused=refused)


def update_nominee(nominee: Nominee, data: NomineeData) -> None:
    data = _cleaned(data)
    email = data.email
    clash = db.session.scalar(sa.select(Nominee.id).where(
        Nominee.study_id == nominee.study_id, Nominee.email == email, Nominee.id != nominee.id))
    if clash is not None:
        raise DuplicateNominee(email)
    nominee.name, nominee.email = data.name, email
    nominee.la_code, nominee.service_area, nominee.agency = data.la_code, data.service_area, data.agency
    nominee.role, nominee.preferred_language = data.role, data.preferred_language
    if nominee.participant.language is None and data.preferred_language in ("cy", "en"):
        nominee.participant.language = data.preferred_language
    db.session.flush()


def mark_declined(nominee: Nominee, reason: str, by_user_id: int) -> bool:
    """A researcher records that the nominee said no (by email, by phone), why, and who
    recorded it. Compare-and-swap: False, and nothing changed, when the nominee has already
    declined (from their own link, or marked by someone else first). Flushes."""
    reason, now = text.clean_text(reason.strip(), max_length=DECLINED_REASON_LENGTH), utcnow()
    marked = db.session.execute(
        sa.update(Nominee).where(Nominee.id == nominee.id, Nominee.declined_at.is_(None))
        .values(declined_at=now, declined_reason=reason, declined_by_id=by_user_id, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(nominee)
    return marked


# -- imports run by the worker (large files uploaded from the web) -----------------------------

def start_import(study: Study, filename: str, data: bytes, created_by_id: int | None) -> NomineeImport:
    """A job for the worker to check and import ``data``; the caller commits and queues it."""
    job = NomineeImport(study_id=study.id, created_by_id=created_by_id, filename=filename, content=data,
                        status=ImportStatus.QUEUED.value)
    db.session.add(job)
    db.session.flush()
    return job


def retry_valid_rows(job: NomineeImport) -> bool:
    """Queue again, to add only the valid rows, a job that found problems (compare-and-swap:
    False when it is no longer waiting for that choice). The caller commits and queues it."""
    return db.session.execute(
        sa.update(NomineeImport).where(NomineeImport.id == job.id,
                                       NomineeImport.status == ImportStatus.PROBLEMS.value,
                                       NomineeImport.content.is_not(None), NomineeImport.valid_lines > 0)
        .values(status=ImportStatus.QUEUED.value, valid_only=True)
        .execution_options(synchronize_session=False)).rowcount == 1


def run_import(job_id: int, link_key: str, progress: Callable[[int], None] | None = None) -> NomineeImport | None:
    """The worker's part: take a queued job (compare-and-swap), then check and add its rows in
    one transaction that also marks it done, so a crash part-way adds nothing (the job then
    stays ``running``; nothing was added and the file can be uploaded again). A file with
    problems adds nothing (unless the job is for the valid rows only) and keeps its problems
    for the researcher. Commits."""
    taken = db.session.execute(
        sa.update(NomineeImport).where(NomineeImport.id == job_id, NomineeImport.status == ImportStatus.QUEUED.value)
        .values(status=ImportStatus.RUNNING.value, started_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    job = db.session.get(NomineeImport, job_id)
    if not taken or job is None:
        return job
    try:
        study = db.session.get(Study, job.study_id)
        outcome = import_file(study, job.filename, job.content or b"", link_key, valid_only=job.valid_only,
                              progress=progress)
    except BaseException:
        db.session.rollback()
        _finish(job, ImportStatus.FAILED, content=None)
        db.session.commit()
        raise
    if outcome.refused:
        db.session.rollback()  # nothing of this file is kept
    job.total_lines, job.valid_lines = outcome.total_lines, outcome.valid_lines
    job.problems = [problem.as_json() for problem in outcome.problems] or None
    if outcome.refused:
        _finish(job, ImportStatus.PROBLEMS, content=job.content if outcome.valid_lines else None)
    else:
        job.imported = outcome.imported
        _finish(job, ImportStatus.DONE, content=None)  # the file is no longer needed
    db.session.commit()
    return job


IMPORT_STALE_AFTER = timedelta(minutes=30)  # 100,000 rows take well under a minute


def import_stopped(job: NomineeImport, now=None) -> bool:
    """A job still ``running`` long after it started: its worker died. Its rows were never
    committed (one transaction), so nothing of it is in the list."""
    return (job.status == ImportStatus.RUNNING and job.started_at is not None
            and (now or utcnow()) - job.started_at > IMPORT_STALE_AFTER)


def _finish(job: NomineeImport, status: ImportStatus, *, content: bytes | None) -> None:
    job.status, job.content, job.finished_at = status.value, content, utcnow()


def import_problems(job: NomineeImport) -> list:
    return [RowProblem.from_json(kept) for kept in job.problems or []]
