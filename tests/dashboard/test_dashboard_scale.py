"""The dashboard counts in the database: its statements do not grow with the nominees, an
administrator sees it too (without the researchers' nominee links), and the one status
function agrees with a nominee's own record."""

from __future__ import annotations

from surveyapp.access import Role
from surveyapp.db import db, utcnow
from surveyapp.nominees import status as nominee_status
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee
from surveyapp.nominees.services import import_nominees
from surveyapp.studies.models import Study
from tests.sql_statements import Statements

from .test_dashboard import (
    RESEARCHER,
    add_user,
    dashboard,
    import_example,
    progress,
    sign_in,
    status_table,
    summary,
)

HEADER = "name,email,la_code,service_area,agency,role,preferred_language\n"



def add_many(app, study, count: int, start: int) -> None:
    lines = [f"Person {i},person.{i}@example.org,CAY,adults,local_authority,Lead,en"
             for i in range(start, start + count)]
    with app.app_context():
        result = parse_nominees("more.csv", (HEADER + "\n".join(lines) + "\n").encode())
        assert result.ok
        import_nominees(db.session.get(Study, study.id), result.rows, app.config["LINK_KEY"])
        db.session.commit()


def test_dashboard_statements_do_not_grow_with_the_nominees(app, study):
    add_user(app, RESEARCHER, {Role.RESEARCHER}, "en")
    nominees = import_example(app, study)
    progress(app, study, "sian.morgan@example.org", consent=True, answers={"role": "Rheolwr"})
    browser = sign_in(app)
    dashboard(browser)  # the first request warms per-process caches
    statements = Statements(app)
    with statements:
        dashboard(browser)
    small = statements.count

    add_many(app, study, 300, 0)
    progress(app, study, "catrin.hughes@example.org", consent=True, submitted=True,
             answers={"role": "Lead", "la_code": "RCT", "service_area": "children"})
    with statements:
        page = dashboard(browser)
    assert statements.count == small, (small, statements.count)
    assert summary(page)["nominated"] == len(nominees) + 300
    assert status_table(page)["not_invited"][1] == len(nominees) + 300 - 2


def test_an_administrator_sees_the_dashboard_without_the_nominee_links(app, study):
    add_user(app, "admin@example.org", {Role.ADMIN}, "en")
    import_example(app, study)
    browser = sign_in(app, "admin@example.org")
    page = dashboard(browser)
    assert summary(page)["nominated"] == 33
    assert not [a for a in page.all("a") if (a.get("href") or "").startswith("/researcher/nominees")]
    assert browser.get("/researcher/nominees/").status_code == 403


def test_status_of_one_nominee_agrees_with_the_list(app, study):
    nominees = import_example(app, study)
    progress(app, study, "sian.morgan@example.org", consent=True, answers={"role": "Rheolwr"})
    with app.app_context():
        row = db.session.get(Study, study.id)
        every = nominee_status.statuses(row)
        for pk in (nominees["sian.morgan@example.org"], nominees["catrin.hughes@example.org"]):
            assert nominee_status.status_of(db.session.get(Nominee, pk)) == every[pk]
        assert every[nominees["sian.morgan@example.org"]] == nominee_status.NomineeStatus.IN_PROGRESS
        # A nominee who opened their link, then declined from it, is declined, not "opened".
        nominee = db.session.get(Nominee, nominees["catrin.hughes@example.org"])
        nominee.participant.opened_at = utcnow()
        db.session.flush()
        assert nominee_status.status_of(nominee) == nominee_status.NomineeStatus.OPENED
        nominee.declined_at = utcnow()
        db.session.flush()
        assert nominee_status.status_of(nominee) == nominee_status.NomineeStatus.DECLINED
        counts = nominee_status.status_counts(row)
        assert sum(counts.values()) == 33 and counts[nominee_status.NomineeStatus.DECLINED] == 1
