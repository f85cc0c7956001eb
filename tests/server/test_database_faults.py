"""Item 12: the database down or locked gives a 503 that says nothing was lost."""

from __future__ import annotations

import pytest

from tests.conftest import BASE_CONFIG

# Nothing listens on port 1; a SQLite file in a folder that does not exist cannot be opened.
UNREACHABLE = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
    "sqlite": "sqlite:////nonexistent-folder/for/surveyapp/tests.sqlite3",
}


@pytest.fixture(params=sorted(UNREACHABLE))
def down_app(request):
    from surveyapp import create_app

    return create_app({**BASE_CONFIG, "DATABASE_URL": UNREACHABLE[request.param]})


@pytest.mark.parametrize("language,words", [("en", "Nothing you saved has been lost"),
                                            ("cy", "Nid oes dim a gadwyd gennych")])
def test_database_down_gives_503_in_the_users_language(down_app, language, words):
    response = down_app.test_client().get("/s/front-door-phase1", headers={"Accept-Language": language})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert words in page
    assert f'lang="{language}"' in page


def test_database_down_answers_autosave_in_json(down_app):
    response = down_app.test_client().get("/s/front-door-phase1", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_healthz_reports_the_database_unreachable(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
