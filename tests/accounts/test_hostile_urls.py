"""Addresses an attacker or an unlucky link writes: where signing in may send you back to, and
ids in URLs. (Issue "Hold under hostile input and faults", items 2 and 4.)"""

from __future__ import annotations

import pytest

from surveyapp.access import Role
from surveyapp.accounts import services
from surveyapp.db import db

from .test_accounts import CSRF, PASSWORD


@pytest.fixture
def researcher(app, study):
    with app.app_context():
        services.create_user("lead@example.org", "Rhiannon Ŵyn", PASSWORD, {Role.RESEARCHER}, "en")
        db.session.commit()


def _login(client, next_value: str):
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", query_string={"next": next_value},
                       data={"csrf_token": csrf, "email": "lead@example.org", "password": PASSWORD})


@pytest.mark.parametrize("next_value", [
    "/\t/evil.test", "/\r/evil.test", "/\n/evil.test", "//evil.test", "/\\evil.test", "\\\\evil.test",
    "https://evil.test/", "/ /evil.test", "/\x00/evil.test", "javascript:alert(1)", "evil.test", "",
])
def test_after_signing_in_nobody_is_sent_to_another_site(app, researcher, next_value):
    response = _login(app.test_client(), next_value)
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert location == "/researcher" or location.startswith("/account") or location.startswith("/researcher"), location
    assert "evil" not in location and not location.startswith("//")


def test_a_plain_path_on_this_site_is_kept(app, researcher):
    response = _login(app.test_client(), "/researcher/nominees?region=north")
    assert response.headers["Location"] == "/researcher/nominees?region=north"


@pytest.mark.parametrize("id_part", [
    "99999999999999999999", "2147483648", "١٢", "00012", "012", "+12", "-1", "0", "12.0", "1e3", "%EF%BC%91%EF%BC%92",
])
def test_ids_are_canonical_ascii_integers_in_range_or_404(app, researcher, id_part):
    from tests.invitations.conftest import csv_of, load_nominees

    ids = load_nominees(app, _study_id(app), csv_of(*[(f"Person {n}", f"p{n}@example.org", "en") for n in range(12)]))
    client = app.test_client()
    _login(client, "")
    assert client.get(f"/researcher/nominees/{ids[-1]}").status_code == 200
    for path in (f"/researcher/nominees/{id_part}", f"/admin/users/{id_part}",
                 f"/researcher/invitations/batches/{id_part}", f"/researcher/invitations/batches/{id_part}/progress"):
        assert client.get(path).status_code == 404, path


def _study_id(app) -> int:
    import sqlalchemy as sa

    from surveyapp.studies.models import Study

    with app.app_context():
        return db.session.scalar(sa.select(Study.id))


def test_section_numbers_are_canonical_too(browser, study):
    token = browser.start(study, "en")
    browser.consent(token, study)
    assert browser.get(f"/p/{token}/section/1").status_code == 200
    for number in ("01", "١", "0", "99999999999"):
        assert browser.get(f"/p/{token}/section/{number}").status_code == 404, number


@pytest.mark.parametrize("slug", ["\x00", "front-door\x00", "FRONT-DOOR-PHASE1", "ŵ", "x" * 101, "a b"])
def test_a_study_named_in_a_query_or_path_that_no_study_could_have_is_not_found(app, researcher, slug):
    client = app.test_client()
    _login(client, "/researcher")
    assert client.get("/researcher/nominees/", query_string={"study": slug}).status_code == 404
    assert client.get("/s/" + slug.replace("\x00", "%00")).status_code == 404
