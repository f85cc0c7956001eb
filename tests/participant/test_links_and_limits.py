"""Personal links exchanged for a session (no token in any address after the first), the way
back from a new browser, one participant per browser, and the per-address budgets for the open
link, failed token look-ups and autosave, on memory and on Redis storage."""

from __future__ import annotations

import json
import logging
import re

import pytest
import redis
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.participant.services import hash_token
from surveyapp.responses.models import Answer, Response
from tests.conftest import Browser

REDIS_URL = "redis://127.0.0.1:6379/13"  # this file's own database, flushed around each test
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{40,}")


@pytest.fixture(params=["memory://", REDIS_URL], ids=["memory", "redis"])
def storage(request):
    if request.param.startswith("redis://"):
        client = redis.Redis.from_url(request.param)
        client.flushdb()
        yield request.param
        client.flushdb()
        client.close()
    else:
        yield request.param


def _events(caplog, kind):
    return [json.loads(r.getMessage()) for r in caplog.records
            if r.name == "surveyapp.security" and json.loads(r.getMessage())["event"] == kind]


def _participants(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Participant.id)))


def _answer(app, token, key):
    with app.app_context():
        participant = db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))
        return db.session.scalar(sa.select(Answer.value).join(Response).where(
            Response.participant_id == participant.id, Answer.question_key == key))


# -- the exchange --------------------------------------------------------------------------------

def test_the_open_link_never_puts_the_token_in_an_address(browser, study):
    response = browser.post(f"/s/{study.slug}", {"language": "en"})
    assert response.status_code == 302 and response.location == "/survey/information"
    token = browser.start(study)  # a second participant in this browser, read from the page
    page = browser.get("/survey/information").get_data(as_text=True)
    # The token is on the page only as the personal link shown to keep.
    assert TOKEN_RE.findall(page) == [token, token]
    assert f'href="http://survey.test/p/{token}"' in page


def test_first_get_of_a_personal_link_redirects_to_an_address_without_it(browser, study, new_browser):
    token = browser.start(study)
    browser.consent(token, study)
    client = new_browser().client  # a new device: the link is all it has
    response = client.get(f"/p/{token}/section/2?return=review")
    assert response.status_code == 302
    assert response.location == "/survey/section/2?return=review"
    assert token not in response.location
    page = client.get(response.location)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert token not in html
    assert 'action="/survey/section/2"' in html and 'data-autosave-url="/survey/section/2/autosave"' in html
    # Later pages work without the token, and show it only as the personal link.
    saved = client.get("/survey/saved").get_data(as_text=True)
    assert saved.count(token) == 2 and saved.count("/p/") == 2
    assert client.get("/survey/review").status_code == 200


def test_the_personal_link_is_the_way_back_from_a_new_browser(browser, study, new_browser):
    token = browser.start(study)
    browser.consent(token, study)
    browser.post("/survey/section/2", {"aims": "Saved on the first device", "action": "later"})
    other = new_browser()
    assert other.client.get("/survey/section/2").status_code == 404  # no session yet
    first = other.client.get(f"/p/{token}")
    assert first.status_code == 302 and first.location == "/survey"
    where = other.client.get(first.location)
    assert where.status_code == 302 and where.location == "/survey/section/2"
    page = other.get(where.location).get_data(as_text=True)
    assert "Saved on the first device" in page and token not in page


def test_a_post_to_an_old_token_address_is_saved_not_redirected_away(browser, study, app):
    token = browser.start(study)
    browser.consent(token, study)
    browser.get("/survey/section/2")
    # A page opened before the change posts its form to /p/<token>/...: handled in place.
    response = browser.client.post(f"/p/{token}/section/2",
                                   data={"csrf_token": browser.csrf(), "aims": "Posted to the old address"})
    assert response.status_code == 302 and response.location == "/survey/section/3"
    assert _answer(app, token, "aims") == "Posted to the old address"
    autosave = browser.client.post(f"/p/{token}/section/2/autosave", data={
        "csrf_token": browser.csrf(), "_question": "aims", "_rev_aims": "1", "aims": "Autosaved the old way"})
    assert autosave.status_code == 200 and autosave.get_json()["status"] == "saved"


def test_the_newest_link_wins_and_a_page_of_the_previous_one_saves_nothing(study, app):
    browser = Browser(app)
    first = browser.start(study)
    browser.consent(first, study)
    browser.get("/survey/section/2")
    first_page, csrf = browser.page, browser.csrf()
    bound = re.search(r'name="_participant" value="(\w+)"', first_page).group(1)

    second = Browser(app).start(study)
    browser.consent(second, study)  # this browser now acts for the second participant
    response = browser.client.post("/survey/section/2", data={
        "csrf_token": csrf, "_participant": bound, "aims": "Typed on the first participant's page"})
    assert response.status_code == 409
    assert "different link" in response.get_data(as_text=True)
    autosave = browser.client.post("/survey/section/2/autosave", data={
        "csrf_token": csrf, "_participant": bound, "_question": "aims", "_rev_aims": "0", "aims": "x"})
    assert autosave.status_code == 409 and autosave.get_json()["status"] == "session"
    assert _answer(app, second, "aims") is None and _answer(app, first, "aims") is None
    # The second participant's own page saves.
    assert browser.post("/survey/section/2", {"aims": "Second"}).status_code == 302
    assert _answer(app, second, "aims") == "Second"


def test_a_reissued_link_ends_the_sessions_of_the_old_one(browser, study, app):
    token = browser.start(study)
    assert browser.client.get("/survey/information").status_code == 200
    with app.app_context():
        participant = db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))
        participant.token_hash = hash_token("a-new-link-" + "x" * 40)
        db.session.commit()
    assert browser.client.get("/survey/information").status_code == 404


def test_an_unknown_token_is_a_404_logged_without_the_token(browser, study, caplog):
    caplog.set_level(logging.WARNING, logger="surveyapp.security")
    guess = "not-a-real-link-" + "q" * 30
    assert browser.client.get(f"/p/{guess}/section/1").status_code == 404
    [event] = _events(caplog, "token_failure")
    assert event["path"] == "/p/<token>/section/1" and event["request_id"]
    assert guess not in caplog.text


# -- budgets -------------------------------------------------------------------------------------

def test_token_guesses_are_throttled_per_address(make_app, study, storage, caplog):
    caplog.set_level(logging.WARNING, logger="surveyapp.security")
    app = make_app(RATELIMIT_STORAGE_URI=storage, PARTICIPANT_TOKEN_FAILURE_LIMIT="5 per minute")
    browser = Browser(app)
    token = browser.start(study)
    for _ in range(20):  # look-ups that succeed do not count
        assert browser.client.get(f"/p/{token}/information").status_code == 302
    statuses = [browser.client.get(f"/p/guess-{n:04d}-{'z' * 40}").status_code for n in range(8)]
    assert statuses == [404] * 5 + [429] * 3
    # Throttled means throttled: a right link from this address learns nothing either.
    assert browser.client.get(f"/p/{token}/information").status_code == 429
    assert _events(caplog, "rate_limited")[0]["budget"] == "token"
    assert len(_events(caplog, "token_failure")) == 5
    assert token not in caplog.text
    # The session already held, another address, and autosave are not held up.
    assert browser.client.get("/survey/information").status_code == 200
    elsewhere = app.test_client()
    assert elsewhere.get(f"/p/{token}", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 302


def test_the_open_link_is_throttled_per_address_in_the_users_language(make_app, study, storage, caplog):
    caplog.set_level(logging.WARNING, logger="surveyapp.security")
    app = make_app(RATELIMIT_STORAGE_URI=storage)  # the shipped budget: 10 a minute
    before = _participants(app)
    client = app.test_client()
    page = client.get(f"/s/{study.slug}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    statuses = [client.post(f"/s/{study.slug}", data={"csrf_token": csrf, "language": "cy"},
                            headers={"Accept-Language": "cy"}).status_code for _ in range(12)]
    assert statuses == [302] * 10 + [429] * 2
    assert _participants(app) == before + 10
    refused = client.post(f"/s/{study.slug}", data={"csrf_token": csrf, "language": "cy"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    text = refused.get_data(as_text=True)
    assert '<html lang="cy">' in text and "Gormod o ymdrechion" in text
    assert _events(caplog, "rate_limited")[0]["budget"] == "open_link"
    # Reading the page is not limited, and another address may still start.
    assert client.get(f"/s/{study.slug}").status_code == 200
    other = app.test_client()
    page = other.get(f"/s/{study.slug}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert other.post(f"/s/{study.slug}", data={"csrf_token": csrf, "language": "en"},
                      environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302


def test_autosave_has_its_own_budget_and_a_retry_answer(make_app, study, storage, caplog):
    caplog.set_level(logging.WARNING, logger="surveyapp.security")
    app = make_app(RATELIMIT_STORAGE_URI=storage, PARTICIPANT_AUTOSAVE_LIMIT="3 per minute",
                   PARTICIPANT_TOKEN_FAILURE_LIMIT="2 per minute")
    browser = Browser(app)
    token = browser.start(study)
    browser.consent(token, study)
    for n in range(3):  # used-up token budget does not touch autosave
        browser.client.get(f"/p/guess-{n}-{'y' * 40}")
    browser.get("/survey/section/2")
    bound = re.search(r'name="_participant" value="(\w+)"', browser.page).group(1)

    def save(text, rev):
        return browser.client.post("/survey/section/2/autosave", data={
            "csrf_token": browser.csrf(), "_participant": bound, "_question": "aims",
            "_rev_aims": str(rev), "aims": text})

    assert [save(f"draft {n}", n).status_code for n in range(3)] == [200, 200, 200]
    limited = save("draft 3", 3)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["status"] == "rate_limited" and limited.get_json()["retry_after"] > 0
    assert _answer(app, token, "aims") == "draft 2"
    assert {e["budget"] for e in _events(caplog, "rate_limited")} == {"token", "autosave"}
    # Saving the page itself still works, so nothing typed is lost.
    assert browser.post("/survey/section/2", {"aims": "saved with the button"}).status_code == 302
    assert _answer(app, token, "aims") == "saved with the button"
