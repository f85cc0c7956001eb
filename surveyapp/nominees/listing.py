"""The nominee list as it scales: filtered, searched, sorted and paged in the database.

Everything the researcher chose is in the URL's query (``la``, ``region``, ``service``,
``status``, ``language``, ``q``, ``sort``, ``dir``, ``page``), so a list can be bookmarked,
shared and reached from the dashboard (``?status=failed``). A value the list does not know
(a made-up code, a page of ``abc`` or ``10**30``) is ignored rather than refused: the
researcher sees the list without that filter, never an error. A page costs two queries,
the rows with their status and the count, at 33 nominees or 10,000.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from surveyapp.db import UTCDateTime, db
from surveyapp.invitations.models import Message
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import NomineeStatus, select_with_status, status_expression
from surveyapp.paging import Page, page_to_show
from surveyapp.participant.models import Participant
from surveyapp.reference import LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities, regions
from surveyapp.responses.models import Response
from surveyapp.studies.models import Study

PAGE_SIZE = 50
SEARCH_LENGTH = 200  # longer than any name or address could match
SORTS = ("name", "la", "service", "status", "changed")
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class Filters:
    """What the researcher asked for, every value already checked ("" when not given)."""

    la: str = ""
    region: str = ""
    service: str = ""
    status: str = ""
    language: str = ""
    q: str = ""
    sort: str = "name"
    dir: str = "asc"
    page: int = 1

    def args(self, **changes) -> dict[str, str]:
        """The query for a link to this list with ``changes`` (a sort, a page), leaving out
        what is at its default, so the addresses stay short."""
        chosen = replace(self, **changes)
        defaults = Filters()
        return {f.name: str(getattr(chosen, f.name)) for f in fields(self)
                if getattr(chosen, f.name) != getattr(defaults, f.name)}

    @property
    def narrowed(self) -> bool:
        return any((self.la, self.region, self.service, self.status, self.language, self.q))


def _search_text(value: str) -> str:
    """The search as typed, made comparable with stored names and addresses (NFC, lower
    case, no control characters); the empty string when there is nothing to look for."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(c for c in value if unicodedata.category(c)[0] != "C")
    return " ".join(value.split())[:SEARCH_LENGTH].lower()


def _page_number(value: str | None) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 9:
        return 1
    return max(int(value), 1)


def parse(args) -> Filters:
    """Filters from a request's query (a MultiDict or a dict): unknown values are dropped."""

    def known(name: str, allowed) -> str:
        value = args.get(name, "")
        return value if value in allowed else ""

    region_names = {en for en, _cy in regions()}
    return Filters(
        la=known("la", local_authorities()),
        region=known("region", region_names),
        service=known("service", SERVICE_AREAS),
        status=known("status", {s.value for s in NomineeStatus}),
        language=known("language", LANGUAGE_PREFERENCES),
        q=_search_text(args.get("q", "")),
        sort=known("sort", SORTS) or "name",
        dir=known("dir", DIRECTIONS) or "asc",
        page=_page_number(args.get("page")),
    )


class latest(GenericFunction):
    """The latest of several times: GREATEST on PostgreSQL, the many-argument MAX on SQLite.
    Each argument must not be NULL (PostgreSQL skips NULLs; SQLite would return NULL)."""

    type = UTCDateTime()
    inherit_cache = True
    name = "greatest"


@compiles(latest, "sqlite")
def _latest_sqlite(element, compiler, **kw):
    return f"max({compiler.process(element.clauses, **kw)})"


def last_change() -> sa.ColumnElement[datetime]:
    """When anything last happened to the nominee in the row: an edit, an email, the link
    opened, an answer saved, a submission or a refusal."""
    since = Nominee.updated_at
    message = (sa.select(sa.func.max(Message.attempted_at)).where(Message.nominee_id == Nominee.id)
               .correlate(Nominee).scalar_subquery())
    answered = (sa.select(sa.func.max(Response.updated_at)).where(Response.participant_id == Participant.id)
                .correlate(Participant).scalar_subquery())
    moments = (Participant.opened_at, Participant.submitted_at, Nominee.declined_at, message, answered)
    return latest(since, *(sa.func.coalesce(moment, since) for moment in moments))


def _filtered(study: Study, filters: Filters, *columns) -> sa.Select:
    query = select_with_status(study, *columns)
    if filters.la:
        query = query.where(Nominee.la_code == filters.la)
    if filters.region:
        codes = [la.code for la in local_authorities().values() if la.region_en == filters.region]
        query = query.where(Nominee.la_code.in_(codes))
    if filters.service:
        query = query.where(Nominee.service_area == filters.service)
    if filters.language:
        query = query.where(Nominee.preferred_language == filters.language)
    if filters.status:
        query = query.where(status_expression() == filters.status)
    if filters.q:
        query = query.where(sa.or_(_contains(Nominee.name, filters.q), _contains(Nominee.email, filters.q)))
    return query


def _contains(column, search: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``search`` (lower case), whatever the case of either, ``%`` and ``_``
    taken as themselves. SQLite's lower() and LIKE fold only ASCII letters ("Ŵyn" would not
    be found by "ŵyn"), so there each cased letter becomes a GLOB class of both its cases."""
    if db.session.get_bind().dialect.name == "sqlite":
        return column.op("GLOB")("*" + "".join(_glob_char(c) for c in search) + "*")
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.func.lower(column).like(pattern, escape="\\")


def _glob_char(c: str) -> str:
    lower, upper = c.lower(), c.upper()
    if lower != upper and len(lower) == len(upper) == 1:
        return f"[{lower}{upper}]"
    return f"[{c}]" if c in "*?[" else c


def filtered(study: Study, filters: Filters) -> sa.Select:
    """``select_with_status`` narrowed by the filters (for ``status_counts``)."""
    return _filtered(study, filters, Nominee.id)


def _order(filters: Filters, locale: str) -> list:
    """The sort column in the reader's terms: authorities by their name in the page's
    language, statuses in the order a nominee moves through them."""
    authorities = local_authorities()
    by = {
        "name": sa.func.lower(Nominee.name),
        "la": sa.case({code: la.name(locale).lower() for code, la in authorities.items()},
                      value=Nominee.la_code, else_=Nominee.la_code),
        "service": sa.case({code: position for position, code in enumerate(SERVICE_AREAS)},
                           value=Nominee.service_area, else_=len(SERVICE_AREAS)),
        "status": sa.case({status.value: position for position, status in enumerate(NomineeStatus)},
                          value=status_expression(), else_=len(NomineeStatus)),
        "changed": last_change(),
    }[filters.sort]
    direction = sa.desc if filters.dir == "desc" else sa.asc
    return [direction(by), direction(Nominee.id)]


@dataclass(frozen=True)
class Row:
    nominee: Nominee
    status: NomineeStatus
    changed: datetime


def page(study: Study, filters: Filters, locale: str, size: int = PAGE_SIZE) -> Page:
    """One page of the filtered list: a count, then the rows with their status (a page past
    the end shows the last page)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(
        _filtered(study, filters, Nominee.id).with_only_columns(Nominee.id).subquery()))
    number = page_to_show(filters.page, total, size)
    filters = replace(filters, page=number)
    query = (_filtered(study, filters, Nominee, last_change().label("changed"))
             .order_by(*_order(filters, locale)).limit(size).offset((number - 1) * size))
    rows = [Row(nominee, NomineeStatus(status), changed) for nominee, changed, status in db.session.execute(query)]
    return Page(rows=rows, total=total, filters=filters, size=size)
