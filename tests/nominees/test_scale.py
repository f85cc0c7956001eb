"""Importing at scale: a streaming check and inserts in chunks (all or nothing), and large web
uploads checked and imported by the worker, with a progress page. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.db import db, utcnow
from surveyapp.nominees import services
from surveyapp.nominees.importer import parse_nominees
from surveyapp.nominees.models import Nominee, NomineeImport
from surveyapp.participant.models import Participant
from surveyapp.participant.services import derive_token, hash_token
from surveyapp.studies.models import Study
from surveyapp.tasks import get_huey, read_progress
from tests.conftest import EXAMPLE_NOMINEES, Browser

LINK_KEY = "scale-test-link-key"
PASSWORD = "a-long-password-123"
HEADER = "name,email,la_code,service_area,agency,role,preferred_language"
LAS = ("CAY", "RCT", "CGN", "GWN", "POW", "CRF", "SWA", "NTL")
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def generated(n: int, *, bad: dict[int, str] | None = None) -> bytes:
    """``n`` nominees; ``bad`` replaces the email on some rows (by 0-based row)."""
    bad = bad or {}
    lines = [HEADER] + [
        f"Enw {i} Ŵyn,{bad.get(i, f'person{i}@example.org')},{LAS[i % len(LAS)]},children,local_authority,"
        f"Safeguarding lead,{('cy', 'en', 'unknown')[i % 3]}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def scale_app(make_app):
    return make_app(LINK_KEY=LINK_KEY, RATELIMIT_ENABLED=False)


def _study(study_info) -> Study:
    return db.session.get(Study, study_info.id)


def _stored(app) -> list[tuple]:
    """Every nominee with its participant: (email, nonce, token hash, participant's study, language)."""
    with app.app_context():
        return db.session.execute(
            sa.select(Nominee.email, Nominee.link_nonce, Participant.token_hash, Participant.study_id,
                      Participant.language, Nominee.preferred_language, Participant.source)
            .join(Participant, Participant.id == Nominee.participant_id).order_by(Nominee.id)).all()


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Nominee)),
                db.session.scalar(sa.select(sa.func.count()).select_from(Participant)))


def _check_links(rows, study_id) -> None:
    """Each nominee's personal link re-derives from its own nonce to its participant's hash."""
    nonces = [r.link_nonce for r in rows]
    assert len(set(nonces)) == len(nonces) and all(re.fullmatch(r"[0-9a-f]{32}", n) for n in nonces)
    for row in rows:
        assert row.token_hash == hash_token(derive_token(LINK_KEY, row.link_nonce))
        assert row.study_id == study_id and row.source == "invited"
        assert row.language == (row.preferred_language if row.preferred_language in ("cy", "en") else None)


def test_the_shared_list_is_inserted_in_chunks_with_a_link_each(scale_app, study):
    data = EXAMPLE_NOMINEES.read_bytes()
    expected = parse_nominees(EXAMPLE_NOMINEES.name, data)
    with scale_app.app_context():
        outcome = services.import_file(_study(study), EXAMPLE_NOMINEES.name, data, LINK_KEY)
        assert (outcome.refused, outcome.imported, outcome.total_lines, outcome.problems) == (False, 33, 33, [])
        db.session.commit()
    rows = _stored(scale_app)
    assert [r.email for r in rows] == [r.email for r in expected.rows]  # every row, in file order
    _check_links(rows, study.id)


def test_import_nominees_keeps_its_answer_a_sequence_of_nominees(scale_app, study):
    """The old call (the CLI's and the tests'): rows in, the new nominees out, in order."""
    result = parse_nominees(EXAMPLE_NOMINEES.name, EXAMPLE_NOMINEES.read_bytes())
    with scale_app.app_context():
        added = services.import_nominees(_study(study), result.rows, LINK_KEY)
        db.session.commit()
        assert len(added) == 33
        assert [n.email for n in added] == [r.email for r in result.rows]
        assert added[2].name == result.rows[2].name and added[-1].email == result.rows[-1].email
        first, *_rest = added
        assert first.participant.token_hash == hash_token(derive_token(LINK_KEY, first.link_nonce))


def test_five_thousand_rows_all_present_with_their_links(scale_app, study):
    seen = []
    with scale_app.app_context():
        outcome = services.import_file(_study(study), "n.csv", generated(5000), LINK_KEY, progress=seen.append)
        assert (outcome.refused, outcome.imported) == (False, 5000)
        db.session.commit()
    assert seen == [1000, 2000, 3000, 4000, 5000, 5000]
    rows = _stored(scale_app)
    assert [r.email for r in rows] == [f"person{i}@example.org" for i in range(5000)]
    _check_links(rows, study.id)
    assert _counts(scale_app) == (5000, 5000)


def test_one_bad_row_late_in_the_file_imports_nothing_and_is_reported_as_before(scale_app, study):
    """Row 4,601 is bad (after four chunks were written): nothing stays, and the problems are
    exactly the ones the plain check reports."""
    data = generated(5000, bad={4600: "not an address", 4700: "person3@example.org"})
    expected = parse_nominees("n.csv", data)
    with scale_app.app_context():
        outcome = services.import_file(_study(study), "n.csv", data, LINK_KEY)
        assert outcome.refused and outcome.imported == 0
        db.session.rollback()
    assert _counts(scale_app) == (0, 0)
    got = [(p.line, p.column, p.code, p.message) for p in outcome.problems]
    assert got == [(p.line, p.column, p.code, p.message) for p in expected.problems]
    assert [(p.line, p.code) for p in outcome.problems] == [(4602, "bad_email"), (4702, "duplicate_in_file")]
    assert outcome.valid_lines == 4998 == len(expected.valid_rows)

    with scale_app.app_context():  # only the valid rows, when asked for
        outcome = services.import_file(_study(study), "n.csv", data, LINK_KEY, valid_only=True)
        assert (outcome.refused, outcome.imported) == (False, 4998)
        db.session.commit()
    assert _counts(scale_app) == (4998, 4998)


def test_a_problem_with_the_whole_file_found_part_way_imports_nothing(scale_app, study):
    with scale_app.app_context():
        outcome = services.import_file(_study(study), "n.csv", generated(2500), LINK_KEY, max_rows=2400,
                                       valid_only=True)
        assert outcome.refused and [p.code for p in outcome.problems] == ["too_many_rows"]
        db.session.rollback()
        unreadable = generated(1500) + b'"an unmatched quote,\n'
        outcome = services.import_file(_study(study), "n.csv", unreadable, LINK_KEY, valid_only=True)
        assert outcome.refused and [p.code for p in outcome.problems] == ["unreadable"]
        db.session.rollback()
    assert _counts(scale_app) == (0, 0)


# -- the worker's import job --------------------------------------------------------------------

def _sign_in(app, role: Role) -> Browser:
    address = f"{role.value}@example.org"
    with app.app_context():
        create_user(address, "Prawf", PASSWORD, {role}, "en")
        db.session.commit()
    browser = Browser(app)
    assert browser.post("/login", {"email": address, "password": PASSWORD}).status_code == 302
    return browser


def _upload(browser: Browser, data: bytes, name: str = "nominees.csv"):
    browser.get("/researcher/nominees/import")
    return browser.client.post("/researcher/nominees/import", data={
        "csrf_token": browser.csrf(), "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


@pytest.fixture
def job_app(make_app):
    """Every upload goes to the worker (none is small enough to import in the request)."""
    app = make_app(LINK_KEY=LINK_KEY, RATELIMIT_ENABLED=False, NOMINEE_IMPORT_INLINE_BYTES=0)
    get_huey(app).flush()
    yield app
    get_huey(app).flush()


def _work(app) -> int:
    huey, ran = get_huey(app), 0
    while (task := huey.dequeue()) is not None:
        assert task.name == "import_nominees"
        huey.execute(task)
        ran += 1
    return ran


def test_a_large_upload_is_imported_by_the_worker_with_progress(job_app, study):
    researcher = _sign_in(job_app, Role.RESEARCHER)
    response = _upload(researcher, generated(5000))
    assert response.status_code == 302
    with job_app.app_context():
        job_id = db.session.scalars(sa.select(NomineeImport.id)).one()
    assert response.location.endswith(f"/researcher/nominees/import/jobs/{job_id}")
    assert _counts(job_app) == (0, 0), "the request only queues"
    assert get_huey(job_app).pending_count() == 1
    progress_url = f"/researcher/nominees/import/jobs/{job_id}/progress"
    assert researcher.client.get(progress_url).get_json()["status"] == "queued"
    researcher.get(response.location)
    assert f'data-import-progress="{progress_url}"' in researcher.page and 'data-finished="false"' in researcher.page

    assert _work(job_app) == 1
    progress = researcher.client.get(progress_url).get_json()
    assert progress == {"status": "done", "checked": 5000, "imported": 5000, "finished": True,
                        "message": "5000 nominees imported."}
    with job_app.app_context():
        assert read_progress("nominee-import", job_id) == 5000  # what the task last reported
        job = db.session.get(NomineeImport, job_id)
        assert job.content is None, "the file (personal data) is not kept once imported"
    rows = _stored(job_app)
    assert len(rows) == 5000
    _check_links(rows, study.id)
    researcher.get(f"/researcher/nominees/import/jobs/{job_id}")
    assert "5000 nominees imported." in researcher.page and 'data-finished="true"' in researcher.page


def test_progress_while_running_comes_from_the_task(job_app, study):
    researcher = _sign_in(job_app, Role.RESEARCHER)
    _upload(researcher, generated(10))
    with job_app.app_context():
        job = db.session.scalars(sa.select(NomineeImport)).one()
        job.status, job_id = "running", job.id
        db.session.commit()
        get_huey().put(f"nominee-import:{job_id}", 3000)
    progress = researcher.client.get(f"/researcher/nominees/import/jobs/{job_id}/progress").get_json()
    assert (progress["status"], progress["checked"], progress["finished"]) == ("running", 3000, False)
    assert progress["message"] == "3000 rows checked and added so far."


def test_a_large_file_with_problems_imports_nothing_then_only_its_valid_rows(job_app, study):
    researcher = _sign_in(job_app, Role.RESEARCHER)
    data = generated(3000, bad={10: "not an address", 2999: "person0@example.org"})
    response = _upload(researcher, data)
    _work(job_app)
    assert _counts(job_app) == (0, 0)
    researcher.get(response.location)
    found = re.findall(r'<li data-line="(\d+)" data-code="(\w+)">', researcher.page)
    assert found == [("12", "bad_email"), ("3001", "duplicate_in_file")]
    assert parse_nominees("n.csv", data).problems[0].message in html.unescape(researcher.page)
    assert "Import 2998 valid rows" in researcher.page

    action = re.search(r'<form method="post" action="([^"]+/valid-rows)"', researcher.page).group(1)
    token = CSRF.search(researcher.page).group(1)
    assert researcher.client.post(action).status_code == 400, "the choice needs its CSRF token"
    assert researcher.client.post(action, data={"csrf_token": token}).status_code == 302
    assert researcher.client.post(action, data={"csrf_token": token}).status_code == 302  # twice: queued once
    assert _work(job_app) == 1
    assert _counts(job_app) == (2998, 2998)
    progress = researcher.client.get(action.replace("/valid-rows", "/progress")).get_json()
    assert (progress["status"], progress["imported"]) == ("done", 2998)


def test_a_fault_part_way_through_a_job_leaves_nothing_half_imported(job_app, study):
    """The worker falls over after two chunks: the one transaction is rolled back; the job says
    it failed and nothing of the file is in the list."""
    researcher = _sign_in(job_app, Role.RESEARCHER)
    _upload(researcher, generated(3000))
    with job_app.app_context():
        job_id = db.session.scalars(sa.select(NomineeImport.id)).one()

    def fall_over(rows):
        if rows >= 2000:
            raise RuntimeError("the worker fell over")

    with job_app.app_context(), pytest.raises(RuntimeError):
        services.run_import(job_id, LINK_KEY, progress=fall_over)
    assert _counts(job_app) == (0, 0)
    progress = researcher.client.get(f"/researcher/nominees/import/jobs/{job_id}/progress").get_json()
    assert (progress["status"], progress["finished"], progress["imported"]) == ("failed", True, 0)
    with job_app.app_context():  # run again (a second delivery of the task): it is not taken again
        services.run_import(job_id, LINK_KEY)
    assert _counts(job_app) == (0, 0)


@pytest.mark.parametrize("who", ["anonymous", "reviewer", "admin", "no such job"])
def test_a_job_and_its_progress_are_for_researchers(job_app, study, who):
    researcher = _sign_in(job_app, Role.RESEARCHER)
    _upload(researcher, generated(5))
    with job_app.app_context():
        job_id = db.session.scalars(sa.select(NomineeImport.id)).one()
    urls = [f"/researcher/nominees/import/jobs/{job_id}", f"/researcher/nominees/import/jobs/{job_id}/progress"]
    if who == "no such job":
        missing = [url.replace(f"/jobs/{job_id}", f"/jobs/{job_id + 1000}") for url in urls]
        assert [researcher.client.get(url).status_code for url in missing] == [404, 404]
        return
    visitor = Browser(job_app) if who == "anonymous" else _sign_in(job_app, Role(who))
    for url in urls:
        response = visitor.client.get(url)
        assert response.status_code == (302 if who == "anonymous" else 403), (url, response.status_code)
        assert who != "anonymous" or "/login" in response.location
    response = visitor.client.post(f"/researcher/nominees/import/jobs/{job_id}/valid-rows")
    assert response.status_code in (302, 400, 403) and _counts(job_app) == (0, 0)
    assert [researcher.client.get(url).status_code for url in urls] == [200, 200]


def test_a_small_upload_is_still_imported_in_the_request(scale_app, study):
    researcher = _sign_in(scale_app, Role.RESEARCHER)
    response = _upload(researcher, EXAMPLE_NOMINEES.read_bytes())
    assert response.status_code == 302 and response.location.endswith("/researcher/nominees/")
    assert _counts(scale_app) == (33, 33)
    with scale_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NomineeImport)) == 0
    assert Counter(r.study_id for r in _stored(scale_app)) == Counter({study.id: 33})


def test_a_job_whose_worker_died_says_so_and_that_nothing_was_added(job_app, study):
    """The worker was killed mid-import: its transaction never committed, so the job is left
    ``running`` with nothing added. After a while the page says it stopped."""
    researcher = _sign_in(job_app, Role.RESEARCHER)
    _upload(researcher, generated(10))
    with job_app.app_context():
        job = db.session.scalars(sa.select(NomineeImport)).one()
        job.status, job.started_at, job_id = "running", utcnow() - timedelta(minutes=5), job.id
        db.session.commit()
    url = f"/researcher/nominees/import/jobs/{job_id}"
    assert researcher.client.get(f"{url}/progress").get_json()["status"] == "running"
    with job_app.app_context():
        db.session.get(NomineeImport, job_id).started_at = utcnow() - timedelta(minutes=31)
        db.session.commit()
    progress = researcher.client.get(f"{url}/progress").get_json()
    assert (progress["status"], progress["finished"]) == ("failed", True)
    assert "nothing has been imported" in progress["message"]
    researcher.get(url)
    assert "Upload the file again" in researcher.page and _counts(job_app) == (0, 0)
