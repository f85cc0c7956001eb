"""The nominee list at scale, through the app: each filter narrows to exactly the nominees it
names, search finds part of a name or an address (``%`` and ``_`` taken literally), each sort
orders as a reader would expect, paging keeps the filters, nonsense in the query never gives
an error, and the page costs the same statements at 33 nominees and at 300."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, ngettext

from surveyapp.db import db, utcnow
from surveyapp.invitations import services as invitations
from surveyapp.invitations.models import MessageKind
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.status import statuses
from surveyapp.participant.models import Participant
from surveyapp.reference import local_authorities
from surveyapp.studies.models import Study
from tests.invitations.conftest import HEADER, load_nominees, mail_app, sign_in_researcher  # noqa: F401

LAS = ("CAY", "RCT", "GWN", "ANG", "SWA", "POW", "MON")
SERVICES = ("children", "adults", "whole_area")
LANGUAGES = ("cy", "en", "unknown")
ROW = re.compile(r'<tr data-nominee="(\d+)" data-status="(\w+)">')
LINK = re.compile(r'<a (?:rel="(?:prev|next)" )?href="(/researcher/nominees/\?[^"]*)"')
NAMES = ("Siân Hughes", "Gareth Price", "Ffion Ŵyn", "Alys Bevan", "Huw Davies", "Carys Môn", "Dafydd Llŷr",
         "Bethan Owen", "Rhodri Jones", "Elin Evans")


def people(n: int, start: int = 0) -> bytes:
    """``n`` nominees spread over authorities, services and languages; a few with ``_`` in
    their address and one with a literal ``%`` nowhere (so ``%`` must match nothing)."""
    lines = []
    for i in range(start, start + n):
        name = f"{NAMES[i % len(NAMES)]} {i}"
        local = f"person_{i}" if i % 11 == 0 else f"person{i}"
        lines.append(f"{name},{local}@example.org,{LAS[i % len(LAS)]},{SERVICES[i % 3]},local_authority,"
                     f"Lead,{LANGUAGES[(i // 3) % 3]}")
    return (HEADER + "\n".join(lines) + "\n").encode("utf-8")


def shown(browser, query: str = "") -> list[int]:
    response = browser.get(f"/researcher/nominees/{query}")
    assert response.status_code == 200, (query, response.status_code)
    return [int(pk) for pk, _status in ROW.findall(browser.page)]


def every_row(app) -> list[Nominee]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Nominee).order_by(Nominee.id)).all()
        db.session.expunge_all()
        return rows


@pytest.fixture
def listed(mail_app, study):  # noqa: F811
    load_nominees(mail_app, study, people(40))
    return mail_app, sign_in_researcher(mail_app)


@pytest.mark.parametrize(("query", "keep"), [
    ("?la=RCT", lambda n: n.la_code == "RCT"),
    ("?region=North Wales", lambda n: local_authorities()[n.la_code].region_en == "North Wales"),
    ("?service=adults", lambda n: n.service_area == "adults"),
    ("?language=unknown", lambda n: n.preferred_language == "unknown"),
    ("?language=cy&service=children&region=Gwent",
     lambda n: n.preferred_language == "cy" and n.service_area == "children"
     and local_authorities()[n.la_code].region_en == "Gwent"),
])
def test_each_filter_narrows_to_exactly_its_nominees(listed, query, keep):
    app, browser = listed
    expected = {n.id for n in every_row(app) if keep(n)}
    assert expected and len(expected) < 40
    assert set(shown(browser, query)) == expected


def _give_statuses(app, study) -> dict[str, int]:
    """One nominee declined, one who opened their link, the rest sent an invitation that one
    address refused (through the real batch and the loopback SMTP server)."""
    with app.app_context():
        ids = db.session.scalars(sa.select(Nominee.id).order_by(Nominee.id)).all()
        db.session.get(Nominee, ids[0]).declined_at = utcnow()
        db.session.get(Nominee, ids[1]).participant.opened_at = utcnow()
        db.session.commit()
    return {"declined": ids[0], "opened": ids[1]}


def test_the_status_filter_is_the_one_status_of_status_py(listed, study, smtp):
    app, browser = listed
    marked = _give_statuses(app, study)
    refused = every_row(app)[5].email
    smtp.handler.refuse[refused] = "550 5.1.1 <x>: Recipient address rejected"
    with app.app_context():
        batch = invitations.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        invitations.run_batch(batch.id)
        expected = statuses(db.session.get(Study, study.id))
    for status in ("declined", "opened", "failed", "invited"):
        wanted = {pk for pk, s in expected.items() if s == status}
        assert wanted, status
        assert set(shown(browser, f"?status={status}")) == wanted, status
    assert shown(browser, "?status=declined") == [marked["declined"]]
    assert [int(pk) for pk, s in ROW.findall(browser.page)] and all(
        s == "declined" for _pk, s in ROW.findall(browser.page))
    # The counts offered beside the list are those of the filtered set.
    shown(browser, "?la=CAY")
    cay = {n.id for n in every_row(app) if n.la_code == "CAY"}
    counts = dict(re.findall(r'<li data-status="(\w+)"><a href="[^"]*">[^<]*: (\d+)</a>', browser.page))
    assert sum(map(int, counts.values())) == len(cay)


@pytest.mark.parametrize(("q", "keep"), [
    ("hughes", lambda n: "hughes" in n.name.lower()),
    ("SIÂN", lambda n: "siân" in n.name.lower()),
    ("ŵyn 2", lambda n: "ŵyn 2" in n.name.lower()),
    ("son1", lambda n: "son1" in n.email),
    ("@EXAMPLE", lambda n: True),
    ("_", lambda n: "_" in n.email),
    ("n_1", lambda n: "n_1" in n.email),
    ("%", lambda n: False),
    ("person%1", lambda n: False),
])
def test_search_by_part_of_a_name_or_an_address(listed, q, keep):
    app, browser = listed
    expected = {n.id for n in every_row(app) if keep(n)}
    found = set(shown(browser, "?" + f"q={q}".replace("%", "%25")))
    assert found == expected, q
    if not expected:
        assert "No nominees match what you chose." in browser.page


def test_sort_orders(listed):
    app, browser = listed
    rows = every_row(app)
    by_name = [n.id for n in sorted(rows, key=lambda n: (n.name.lower(), n.id))]
    assert shown(browser) == by_name
    assert shown(browser, "?sort=name&dir=desc") == list(reversed(by_name))
    las = local_authorities()
    with app.test_request_context():
        for locale in ("en", "cy"):
            by_la = [n.id for n in sorted(rows, key=lambda n: (las[n.la_code].name(locale).lower(), n.id))]
            browser.get(f"/researcher/nominees/?lang={locale}")
            assert shown(browser, "?sort=la") == by_la, locale
    browser.get("/researcher/nominees/?lang=en")
    order = ("children", "adults", "whole_area")
    assert shown(browser, "?sort=service") == [n.id for n in sorted(rows, key=lambda n: (order.index(n.service_area),
                                                                                       n.id))]
    # Last change: the nominee edited most recently comes first, newest first.
    with app.app_context():
        latest = db.session.get(Nominee, rows[7].id)
        latest.role = "Changed just now"
        db.session.commit()
        db.session.get(Participant, rows[3].participant_id).opened_at = utcnow()
        db.session.commit()
    newest = shown(browser, "?sort=changed&dir=desc")
    assert newest[:2] == [rows[3].id, rows[7].id]
    assert shown(browser, "?sort=changed")[-2:] == [rows[7].id, rows[3].id]
    # The header link of the current sort turns it round, and says which way it is sorted.
    shown(browser, "?sort=la&la=&q=on")
    assert 'data-sort="la" aria-sort="ascending"' in browser.page


def test_status_sort_follows_the_journey(listed, study):
    app, browser = listed
    marked = _give_statuses(app, study)
    ids = shown(browser, "?sort=status")
    assert ids[-2:] == [marked["opened"], marked["declined"]]
    assert shown(browser, "?sort=status&dir=desc")[:2] == [marked["declined"], marked["opened"]]


def _links(page: str) -> list[dict[str, str]]:
    return [dict(parse_qsl(urlsplit(unescape(href)).query)) for href in LINK.findall(page)]


def test_paging_keeps_the_filters_in_every_link(mail_app, study):  # noqa: F811
    load_nominees(mail_app, study, people(160))
    browser = sign_in_researcher(mail_app)
    cy = {n.id for n in every_row(mail_app) if n.preferred_language == "cy"}
    assert len(cy) > 50
    query = "?language=cy&q=example&sort=name&dir=desc"
    first = shown(browser, query)
    assert len(first) == 50
    with mail_app.test_request_context(), force_locale("en"):
        assert ngettext("Showing %(first)s to %(last)s of %(total)s nominee",
                        "Showing %(first)s to %(last)s of %(total)s nominees", len(cy),
                        first="1", last="50", total=str(len(cy))) in browser.page
    links = _links(browser.page)
    following = [args for args in links if args.get("page") == "2"]
    assert following and all(args["language"] == "cy" and args["q"] == "example" and args["dir"] == "desc"
                             for args in following)
    # Every sort header keeps the filters too, and starts again at page 1.
    sorts = [args for args in links if "sort" in args and args.get("page") is None]
    assert {args["sort"] for args in sorts} >= {"la", "service", "status", "changed"}
    assert all(args["language"] == "cy" and args["q"] == "example" for args in sorts)
    # The filter form carries the sort as hidden fields.
    assert '<input type="hidden" name="dir" value="desc">' in browser.page

    pages = -(-len(cy) // 50)
    every_page = [shown(browser, f"{query}&page={number}") for number in range(1, pages + 1)]
    assert sum(map(len, every_page)) == len(cy) and set().union(*map(set, every_page)) == cy
    assert shown(browser, query + "&page=99") == every_page[-1]  # past the end: the last page
    assert f"Showing 51 to {min(len(cy), 100)} of {len(cy)} nominees" in shown_page(browser, query + "&page=2")


def shown_page(browser, query: str) -> str:
    browser.get(f"/researcher/nominees/{query}")
    return browser.page


@pytest.mark.parametrize("query", [
    "?la=ZZZ", "?la=rct", "?region=Mars", "?service=elderly", "?status=everything", "?language=fr",
    "?sort=password", "?sort=name;DROP TABLE nominee", "?dir=sideways", "?page=abc", "?page=-1", "?page=0",
    "?page=" + "1" + "0" * 30, "?page=%D9%A3", "?page=1.5", "?q=%00", "?q=" + "x" * 5000, "?q=%5C", "?q=%27%22",
    "?la=RCT&la=CAY", "?status=", "?q=%E2%80%AE", "?page=2147483648",
])
def test_hostile_query_values_never_give_an_error(listed, query):
    _app, browser = listed
    response = browser.get(f"/researcher/nominees/{query}")
    assert response.status_code == 200, query
    assert ROW.findall(browser.page) or "No nominees match what you chose." in browser.page


def _statements(app, browser, query: str = "") -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert browser.get(f"/researcher/nominees/{query}").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_list_costs_the_same_statements_at_33_and_300(mail_app, study):  # noqa: F811
    load_nominees(mail_app, study, people(33))
    browser = sign_in_researcher(mail_app)
    _statements(mail_app, browser)  # the first request of a process reads a few things once
    small = {q: _statements(mail_app, browser, q) for q in ("", "?sort=changed&dir=desc", "?status=not_invited&page=2")}
    load_nominees(mail_app, study, people(267, start=33))
    large = {q: _statements(mail_app, browser, q) for q in small}
    assert len(every_row(mail_app)) == 300
    assert large == small
    assert max(small.values()) <= 8, small
