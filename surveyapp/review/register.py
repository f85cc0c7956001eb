"""The consent register, built in the database: one row per participant who has a consent
record, the latest record deciding the row.

What the reviewer chose is in the URL's query (``version``, ``method``, ``language``, ``la``,
``status``, ``page``); a value the register does not know is ignored, never an error. A page
costs a fixed number of statements, at 3 participants or 3,000: the count, the rows (with their
nominee, users and withdrawal joined), the instrument versions they point at, and their items.
Nothing here reads an answer: only consent records, withdrawals and audit events.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from surveyapp.accounts.models import User
from surveyapp.audit.models import AuditEvent
from surveyapp.consent.models import ConsentItemAnswer, ConsentMethod, ConsentRecord
from surveyapp.db import db
from surveyapp.i18n import tr
from surveyapp.instruments.model import paragraphs
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.nominees.models import Nominee
from surveyapp.paging import Page, page_to_show
from surveyapp.participant.models import Participant, format_pid
from surveyapp.reference import local_authorities
from surveyapp.review.records import ConsentView, ItemView, WithdrawalView
from surveyapp.studies.models import Study
from surveyapp.withdrawal.models import Withdrawal

PAGE_SIZE = 50
LANGUAGES = ("cy", "en")
STATUSES = ("consented", "older_version", "refused", "withdrew")

RecordedBy = aliased(User, name="consent_recorder")
WithdrawalBy = aliased(User, name="withdrawal_recorder")
DecidedBy = aliased(User, name="withdrawal_decider")
Form = aliased(InstrumentVersion, name="consent_form")


@dataclass(frozen=True)
class Filters:
    """What the reviewer asked for, every value already checked ("" or 0 when not given)."""

    version: int = 0
    method: str = ""
    language: str = ""
    la: str = ""
    status: str = ""
    page: int = 1

    def args(self, **changes) -> dict[str, str]:
        """The query for a link to the register with ``changes``, leaving out the defaults."""
        chosen, defaults = replace(self, **changes), Filters()
        return {f.name: str(getattr(chosen, f.name)) for f in fields(self)
                if getattr(chosen, f.name) != getattr(defaults, f.name)}

    def audit(self) -> dict[str, str]:
        """The filters in force, for the export's audit event (never the page)."""
        return self.args(page=1)

    @property
    def narrowed(self) -> bool:
        return any((self.version, self.method, self.language, self.la, self.status))


def _number(value: str | None, most: int = 10**9) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 9:
        return 0
    return min(int(value), most)


def parse(args) -> Filters:
    """Filters from a request's query: unknown values are dropped."""

    def known(name: str, allowed) -> str:
        value = args.get(name, "")
        return value if value in allowed else ""

    return Filters(
        version=_number(args.get("version")),
        method=known("method", {m.value for m in ConsentMethod}),
        language=known("language", LANGUAGES),
        la=known("la", local_authorities()),
        status=known("status", STATUSES),
        page=max(_number(args.get("page")), 1),
    )


def _latest_record_id() -> sa.ScalarSelect:
    """The id of the participant's most recent consent record (correlated with Participant)."""
    newer = aliased(ConsentRecord)
    return (sa.select(newer.id).where(newer.participant_id == Participant.id)
            .order_by(newer.recorded_at.desc(), newer.id.desc()).limit(1)
            .correlate(Participant).scalar_subquery())


def status_expression(study: Study) -> sa.ColumnElement[str]:
    return sa.case(
        (Withdrawal.id.is_not(None), "withdrew"),
        (sa.not_(ConsentRecord.given), "refused"),
        (ConsentRecord.consent_form_id != study.consent_form_id, "older_version"),
        else_="consented",
    )


def _query(study: Study, filters: Filters, *columns, every_record: bool = False) -> sa.Select:
    """The register's rows: each participant's latest consent record (or, ``every_record``, each
    of their records), with its form, nominee and withdrawal, narrowed by ``filters``."""
    record = (ConsentRecord.participant_id == Participant.id) if every_record \
        else (ConsentRecord.id == _latest_record_id())
    query = (sa.select(*columns).select_from(Participant)
             .join(ConsentRecord, record)
             .join(Form, Form.id == ConsentRecord.consent_form_id)
             .outerjoin(Nominee, Nominee.participant_id == Participant.id)
             .outerjoin(Withdrawal, Withdrawal.participant_id == Participant.id)
             .where(Participant.study_id == study.id))
    if filters.version:
        query = query.where(Form.version == filters.version)
    if filters.method:
        query = query.where(ConsentRecord.method == filters.method)
    if filters.language:
        query = query.where(ConsentRecord.language == filters.language)
    if filters.la:
        query = query.where(Nominee.la_code == filters.la)
    if filters.status:
        query = query.where(status_expression(study) == filters.status)
    return query


def _rows_query(study: Study, filters: Filters, every_record: bool = False) -> sa.Select:
    """What ``_views`` is built from: the rows with the names of the staff involved, unordered."""
    return (_query(study, filters, Participant.id, Participant.pid, Nominee.la_code, Nominee.service_area,
                   ConsentRecord, Withdrawal, RecordedBy.name, WithdrawalBy.name, DecidedBy.name,
                   every_record=every_record)
            .outerjoin(RecordedBy, RecordedBy.id == ConsentRecord.recorded_by_id)
            .outerjoin(WithdrawalBy, WithdrawalBy.id == Withdrawal.recorded_by_id)
            .outerjoin(DecidedBy, DecidedBy.id == Withdrawal.decided_by_id))


REGISTER_ORDER = (sa.case((Participant.pid.is_(None), 1), else_=0), Participant.pid, Participant.id)


def _withdrawal(row: Withdrawal | None, recorded_by: str | None, decided_by: str | None) -> WithdrawalView | None:
    if row is None:
        return None
    return WithdrawalView(requested_at=row.requested_at, scope=row.scope, channel=row.channel, outcome=row.outcome,
                          recorded_by=recorded_by, cutoff_at=row.cutoff_at, decided_at=row.decided_at,
                          decided_by=decided_by, decision_reason=row.decision_reason, erased_at=row.erased_at)


def _views(study: Study, rows, history: list | None = None) -> list[ConsentView]:
    """ConsentViews for result rows (participant id, pid, la, service, record, withdrawal, three
    names): two statements whatever the number of rows, for the versions and the items."""
    records = [row[4] for row in rows]
    version_ids = {r.consent_form_id for r in records} | {r.information_sheet_id for r in records} - {None}
    versions = ({v.id: v for v in db.session.scalars(
        sa.select(InstrumentVersion).where(InstrumentVersion.id.in_(version_ids)))} if version_ids else {})
    items: dict[int, list[ConsentItemAnswer]] = {}
    if records:
        for item in db.session.scalars(sa.select(ConsentItemAnswer).where(
                ConsentItemAnswer.record_id.in_([r.id for r in records])).order_by(ConsentItemAnswer.position)):
            items.setdefault(item.record_id, []).append(item)
    current = study.consent_form
    views = []
    for (participant_id, pid, la, service, record, withdrawal, recorded_by, withdrawal_by, decided_by) in rows:
        form = versions[record.consent_form_id]
        sheet = versions.get(record.information_sheet_id)
        texts = {item["id"]: item["text"] for item in form.content["items"]}
        views.append(ConsentView(
            participant_id=participant_id, pid=format_pid(pid), local_authority=la, service_area=service,
            record_id=record.id, recorded_at=record.recorded_at, given=record.given, method=record.method,
            recorded_by=recorded_by, language=record.language, form_key=form.key, form_version=form.version,
            form_hash=record.content_hash, form_title=tr(form.content["title"], record.language),
            form_intro=paragraphs(tr(form.content["intro"], record.language)),
            items=[ItemView(item_id=a.item_id, text=tr(texts.get(a.item_id), record.language), required=a.required,
                            agreed=a.agreed) for a in items.get(record.id, [])],
            sheet_version=sheet.version if sheet else None, sheet_hash=record.information_sheet_hash,
            current_form_version=current.version if form.key == current.key else form.version,
            withdrawal=_withdrawal(withdrawal, withdrawal_by, decided_by),
            history=history if history is not None else [],
        ))
    return views


def register_rows(study: Study, filters: Filters, size: int = PAGE_SIZE) -> Page:
    """One page of the register (a page past the end shows the last page)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(
        _query(study, filters, Participant.id).subquery()))
    number = page_to_show(filters.page, total, size)
    filters = replace(filters, page=number)
    rows = db.session.execute(_rows_query(study, filters).order_by(*REGISTER_ORDER)
                              .limit(size).offset((number - 1) * size)).all()
    return Page(rows=_views(study, rows), total=total, filters=filters, size=size)


def all_rows(study: Study, filters: Filters) -> list[ConsentView]:
    """Every row the filters select, unpaged (downloads and the register PDF)."""
    return _views(study, db.session.execute(_rows_query(study, filters).order_by(*REGISTER_ORDER)).all())


def consent_views(participant_id: int) -> list[ConsentView]:
    """Every consent record of one participant, newest first, each with the text as shown;
    the history (audit events about the participant, oldest first) on each. Empty when the
    participant has no consent record (or does not exist)."""
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        return []
    events = [(when, kind) for when, kind in db.session.execute(
        sa.select(AuditEvent.occurred_at, AuditEvent.kind).where(AuditEvent.participant_id == participant_id)
        .order_by(AuditEvent.seq))]
    query = (_rows_query(participant.study, Filters(), every_record=True)
             .where(Participant.id == participant_id)
             .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc()))
    return _views(participant.study, db.session.execute(query).all(), history=events)


def consent_view(participant_id: int) -> ConsentView | None:
    """The participant's latest consent record as shown, with its history."""
    views = consent_views(participant_id)
    return views[0] if views else None


@dataclass(frozen=True)
class Matrix:
    columns: list[tuple[int, str]]           # (consent-form version, language)
    rows: list[tuple[str | None, dict[tuple[int, str], int]]]  # (LA code or None, counts by column)
    totals: dict[tuple[int, str], int]
    older: int                               # consented to an older version, not withdrawn
    current_version: int


def version_matrix(study: Study) -> Matrix:
    """Consent given (latest record) by consent-form version x language x local authority."""
    query = (_query(study, Filters(), Form.version, ConsentRecord.language, Nominee.la_code, sa.func.count())
             .where(ConsentRecord.given).group_by(Form.version, ConsentRecord.language, Nominee.la_code))
    counts: dict[str | None, dict[tuple[int, str], int]] = {}
    totals: dict[tuple[int, str], int] = {}
    for version, language, la, n in db.session.execute(query):
        counts.setdefault(la, {})[version, language] = n
        totals[version, language] = totals.get((version, language), 0) + n
    older = db.session.scalar(sa.select(sa.func.count()).select_from(
        _query(study, Filters(status="older_version"), Participant.id).subquery()))
    order = list(local_authorities())
    rows = sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return Matrix(columns=sorted(totals), rows=rows, totals=totals, older=older,
                  current_version=study.consent_form.version)


def form_versions(study: Study) -> list[int]:
    """The consent-form versions participants of this study have records against (for the filter)."""
    return list(db.session.scalars(
        sa.select(Form.version).distinct().select_from(ConsentRecord)
        .join(Form, Form.id == ConsentRecord.consent_form_id)
        .join(Participant, Participant.id == ConsentRecord.participant_id)
        .where(Participant.study_id == study.id).order_by(Form.version)))

