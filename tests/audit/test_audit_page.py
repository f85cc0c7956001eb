"""The reviewer's audit page: the verification result, the head to note down, the events a
page at a time; read-only, and not for researchers."""

from __future__ import annotations

import re

import sqlalchemy as sa

from surveyapp.access import Role

from .helpers import DISTINCTIVE, EVENTS, add_user, events, execute, journey, login, record_events

REVIEWER, RESEARCHER, ADMIN = "reviewer@example.org", "researcher@example.org", "admin@example.org"


def signed_in(app, email, roles, name="Staff Member"):
    add_user(app, email, roles, name=name)
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def rows(page: str) -> list[tuple[int, str]]:
    return [(int(seq), kind) for seq, kind in re.findall(r'<tr data-seq="(\d+)" data-kind="(\w+)">', page)]


def test_a_reviewer_sees_a_whole_chain_its_head_and_the_events(app, study, browser):
    journey(browser, study)
    client = signed_in(app, REVIEWER, {Role.REVIEWER}, name="Eira Adolygydd")
    response = client.get("/review/audit/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    stored = events(app)
    head = stored[-1]
    assert 'data-ok="yes"' in page and "The chain is whole: 4 events checked." in page
    assert f'<dd id="head-seq">{head["seq"]}</dd>' in page
    assert f'<code id="head-hash" class="hash">{head["hash"]}</code>' in page
    assert rows(page) == [(4, "login_succeeded"), (3, "account_created"), (2, "submitted"), (1, "consent_given")]
    assert "Signed in" in page and "Answers submitted" in page and "Consent given" in page
    assert "<bdi>Eira Adolygydd</bdi>" in page  # the actor of the sign-in
    assert re.search(r'data-kind="submitted">.*?<td>P1</td>', page, re.S)  # the participant's P-ID
    assert DISTINCTIVE not in page
    assert 'method="post"' not in page.split("<main", 1)[1].split("</main>")[0].lower()  # nothing to change


def test_times_are_shown_in_london_time(app):
    record_events(app, 1)
    from datetime import UTC, datetime
    execute(app, sa.update(EVENTS).values(occurred_at=datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC)))
    page = signed_in(app, ADMIN, {Role.ADMIN}).get("/review/audit/").get_data(as_text=True)
    assert "1 July 2026, 13:30:05" in page  # BST


def test_a_broken_chain_is_shown_with_the_event_and_what_is_wrong(app):
    record_events(app, 3)
    client = signed_in(app, REVIEWER, {Role.REVIEWER})
    execute(app, sa.update(EVENTS).where(EVENTS.c.seq == 2).values(details={"rows": 99}))
    page = client.get("/review/audit/").get_data(as_text=True)
    assert 'data-ok="no"' in page
    assert "The chain is broken at event 2." in page
    assert 'data-code="altered" data-seq="2"' in page
    assert "Event 2 does not match its hash (it was edited, or the chain was rebuilt without the key)." in page


def test_events_are_paged_fifty_at_a_time_newest_first(app):
    record_events(app, 120)
    client = signed_in(app, ADMIN, {Role.ADMIN})  # 121 events with the sign-in, 122 with the account
    first = client.get("/review/audit/").get_data(as_text=True)
    assert [seq for seq, _ in rows(first)] == list(range(122, 72, -1))
    assert "Page 1 of 3" in first and 'rel="next" href="/review/audit/?page=2"' in first
    last = client.get("/review/audit/?page=3").get_data(as_text=True)
    assert [seq for seq, _ in rows(last)] == list(range(22, 0, -1))
    assert "<code>rows</code>: <bdi>0</bdi>" in last and "<code>filters</code>: <bdi>la=GWN</bdi>" in last
    assert rows(client.get("/review/audit/?page=99").get_data(as_text=True)) == rows(last)


def test_researchers_and_strangers_cannot_see_it(app):
    record_events(app, 1)
    assert signed_in(app, RESEARCHER, {Role.RESEARCHER}).get("/review/audit/").status_code == 403
    anonymous = app.test_client().get("/review/audit/")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    assert "Audit trail" not in anonymous.get_data(as_text=True)


def test_it_is_read_only(app):
    client = signed_in(app, REVIEWER, {Role.REVIEWER})
    assert client.post("/review/audit/").status_code in (400, 405)


def test_it_renders_for_a_welsh_reader(app):
    """The page in Welsh (its sentences read Welsh once the lead merges .welsh/audit.po)."""
    from surveyapp.accounts import services as accounts
    from surveyapp.db import db

    record_events(app, 2)
    with app.app_context():
        accounts.create_user(REVIEWER, "Eira", "correct horse battery staple", {Role.REVIEWER}, "cy")
        db.session.commit()
    client = app.test_client()
    assert login(client, REVIEWER).status_code == 302
    response = client.get("/review/audit/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="cy"' in page and 'data-ok="yes"' in page and len(rows(page)) == 4
