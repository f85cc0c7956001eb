"""Saving as they type, on the server: revisions, conflicts, expiry, restarts, big answers."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.responses.models import Answer
from tests.sql_statements import Statements

from .test_journey import _answers

WELSH_90K = ("Mae'r ŵyn yn chwarae ar y bryniau; ŷd, â, ô 🐑🏴 " * 2200)[:90_000]


@pytest.fixture
def consented(browser, study):
    token = browser.start(study, "cy")
    browser.consent(token, study)
    browser.get("/survey/section/2")
    return token


def _autosave(browser, token, key, value, rev, number=2, **extra):
    data = {"csrf_token": browser.csrf(), "_participant": browser.bound(), "_question": key, key: value,
            f"_rev_{key}": str(rev), **extra}
    return browser.client.post(f"/survey/section/{number}/autosave", data=data)


def test_autosave_stores_the_answer_and_returns_the_revision(browser, consented, app):
    response = _autosave(browser, consented, "aims", "Cadw plant yn ddiogel", 0)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "saved" and body["revision"] == 1
    assert re.fullmatch(r"Wedi'i gadw am \d\d:\d\d", body["message"])  # Welsh, in the page's language
    response = _autosave(browser, consented, "aims", "Cadw plant ac oedolion yn ddiogel", 1)
    assert response.get_json()["revision"] == 2
    with app.app_context():
        assert _answers(consented)["aims"] == "Cadw plant ac oedolion yn ddiogel"


def test_stale_tab_is_refused_and_shown_both_versions(browser, consented, app):
    _autosave(browser, consented, "aims", "From tab A", 0)
    response = _autosave(browser, consented, "aims", "From tab B, based on nothing", 0)
    assert response.status_code == 409
    body = response.get_json()
    assert body["status"] == "conflict" and body["theirs"] == "From tab A" and body["revision"] == 1
    assert body["theirs_data"] == {"aims": "From tab A"}
    with app.app_context():
        assert _answers(consented)["aims"] == "From tab A"
    # Choosing "keep mine" overwrites deliberately.
    response = _autosave(browser, consented, "aims", "From tab B, based on nothing", 0, _keep="mine")
    assert response.get_json()["status"] == "saved"
    with app.app_context():
        assert _answers(consented)["aims"] == "From tab B, based on nothing"


def test_saves_arriving_out_of_order_never_replace_newer_text(browser, consented, app):
    assert _autosave(browser, consented, "aims", "first draft", 0).get_json()["revision"] == 1
    assert _autosave(browser, consented, "aims", "second, longer draft", 1).get_json()["revision"] == 2
    late = _autosave(browser, consented, "aims", "first draft, retried late", 1)  # based on rev 1
    assert late.status_code == 409
    with app.app_context():
        assert _answers(consented)["aims"] == "second, longer draft"


def test_the_same_text_twice_is_not_a_conflict(browser, consented):
    _autosave(browser, consented, "aims", "same", 0)
    response = _autosave(browser, consented, "aims", "same", 0)  # a retried request
    assert response.status_code == 200 and response.get_json()["revision"] == 1


def test_full_page_save_from_a_stale_tab_shows_both_versions(browser, new_browser, consented, study, app):
    stale = new_browser()
    stale.get(f"/p/{consented}/section/2")  # rendered with revision 0
    _autosave(browser, consented, "aims", "Newer text from the first tab", 0)
    response = stale.post(f"/p/{consented}/section/2", {"aims": "Older tab's text", "action": "next"},
                          fetch=False)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Newer text from the first tab" in page and "Older tab&#39;s text" in page
    with app.app_context():
        assert _answers(consented)["aims"] == "Newer text from the first tab"
    response = stale.post(f"/p/{consented}/section/2",
                          {"aims": "Older tab's text", "_keep": "aims:theirs"}, fetch=False)
    assert response.status_code == 200
    assert "Newer text from the first tab</textarea>" in response.get_data(as_text=True)
    with app.app_context():
        assert _answers(consented)["aims"] == "Newer text from the first tab"


def test_expired_csrf_on_autosave_hands_out_a_new_token(browser, consented, app):
    data = {"csrf_token": "stale", "_participant": browser.bound(), "_question": "aims", "aims": "Testun",
            "_rev_aims": "0"}
    response = browser.client.post("/survey/section/2/autosave", data=data)
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == "csrf" and body["csrf_token"]
    data["csrf_token"] = body["csrf_token"]
    assert browser.client.post("/survey/section/2/autosave", data=data).status_code == 200
    with app.app_context():
        assert _answers(consented)["aims"] == "Testun"


def test_secret_key_rotation_and_restart_lose_nothing(make_app, study, browser):
    token = browser.start(study, "en")
    browser.consent(token, study)
    browser.get("/survey/section/2")
    old_page = browser.page
    # The server restarts with a new key: old cookies and tokens are now worthless.
    from tests.conftest import Browser

    restarted = make_app(SECRET_KEY="a-completely-different-key")
    after = Browser(restarted)
    after.client = restarted.test_client()
    after.page = old_page
    text = "Ateb hir a ysgrifennwyd cyn i'r gweinydd ailgychwyn – ŵ ŷ"
    response = after.post(f"/p/{token}/section/2", {"aims": text}, fetch=False)
    assert response.status_code == 400
    assert text.replace("'", "&#39;") in response.get_data(as_text=True)
    response = after.post(f"/p/{token}/section/2", {"aims": text}, fetch=False)
    assert response.status_code == 302
    with restarted.app_context():
        assert _answers(token)["aims"] == text


def test_a_90000_character_welsh_answer_with_emoji_round_trips(browser, consented, app):
    assert len(WELSH_90K) == 90_000
    response = _autosave(browser, consented, "aims", WELSH_90K, 0)
    assert response.status_code == 200, response.status_code
    response = browser.post("/survey/section/2", {"aims": WELSH_90K + "!", "action": "later"})
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalar(sa.select(Answer.value).where(Answer.question_key == "aims"))
    assert stored == WELSH_90K + "!"
    page = browser.get("/survey/section/2").get_data(as_text=True)
    assert WELSH_90K.replace("'", "&#39;") + "!</textarea>" in page


def test_a_body_over_the_limit_gets_a_clear_welsh_page_and_keeps_the_saved_text(make_app, study, browser):
    token = browser.start(study, "cy")
    browser.consent(token, study)
    browser.post("/survey/section/2", {"aims": "Testun wedi'i gadw", "action": "later"})
    small = make_app(MAX_CONTENT_LENGTH=10_000)
    client = small.test_client()
    browser.get("/survey/section/2")
    # From a page with the token in its address (a POST there is handled in place).
    response = client.post(f"/p/{token}/section/2", data={"csrf_token": browser.csrf(), "aims": "x" * 20_000})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert '<html lang="cy">' in page and "Mynd yn ôl at eich atebion" in page
    assert 'href="/survey/section/2"' in page and token not in page
    with small.app_context():
        assert _answers(token)["aims"] == "Testun wedi'i gadw"


def test_clearing_an_answer_keeps_its_revision(browser, consented, app):
    _autosave(browser, consented, "aims", "something", 0)
    response = _autosave(browser, consented, "aims", "", 1)
    assert response.get_json()["revision"] == 2
    stale = _autosave(browser, consented, "aims", "stale text", 1)
    assert stale.status_code == 409
    with app.app_context():
        assert _answers(consented)["aims"] is None  # cleared, row kept with its revision


def test_autosave_without_consent_stores_nothing(browser, study, app):
    browser.start(study)
    browser.get("/survey/consent")
    data = {"csrf_token": browser.csrf(), "_participant": browser.bound(), "_question": "aims", "aims": "x",
            "_rev_aims": "0"}
    response = browser.client.post("/survey/section/2/autosave", data=data)
    assert response.status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0



def test_hot_paths_run_no_more_statements_than_they_did(browser, consented, app):
    """A ceiling, so a regression fails: one autosave of an existing answer is the statement
    that reads the participant with their study, consent and response, and the conditional
    UPDATE that returns the new revision (it took 10 before the performance issue). Reading a
    section again is that first statement and the answers (7 before, with a commit)."""
    _autosave(browser, consented, "aims", "first", 0)
    statements = Statements(app)
    with statements:
        assert _autosave(browser, consented, "aims", "second", 1).status_code == 200
    assert statements.count <= 2, statements.count
    with statements:  # a first answer to another question: an INSERT that skips a row already there
        assert _autosave(browser, consented, "role", "Rheolwr", 0, number=1).status_code == 200
    assert statements.count <= 2, statements.count
    with statements:
        assert browser.get("/survey/section/2").status_code == 200
    assert statements.count <= 2, statements.count


def test_autosave_after_refusing_consent_stores_nothing(browser, study, app):
    browser.start(study, "cy")
    browser.get("/survey/consent")  # a page's token and tag, kept from before refusing
    data = {"csrf_token": browser.csrf(), "_participant": browser.bound(), "_question": "aims", "aims": "x",
            "_rev_aims": "0"}
    assert browser.post("/survey/consent", {"decline": "1"}).location == "/survey/declined"
    response = browser.client.post("/survey/section/2/autosave", data=data)
    assert response.status_code == 409 and response.get_json()["status"] == "closed"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0


def test_autosave_checks_only_the_posted_question(browser, consented, app):
    """Another question's bad value on the page does not stop this one being saved, and the
    posted question gets its own field's message."""
    response = _autosave(browser, consented, "aims", "Cadw plant yn ddiogel", 0, role="x" * 600)
    assert response.status_code == 200, response.get_json()
    response = _autosave(browser, consented, "aims", "a\x00b", 1)
    assert response.status_code == 400 and response.get_json()["status"] == "invalid"
    with app.app_context():
        assert _answers(consented)["aims"] == "Cadw plant yn ddiogel"


def test_reading_a_section_again_writes_nothing_and_the_link_still_resumes_there(browser, consented, app):
    """No commit in a page GET that changes nothing; the section someone moves to is still
    where their personal link takes them back."""
    commits = []

    def count(connection):
        commits.append(connection)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "commit", count)
    try:
        assert browser.get("/survey/section/2").status_code == 200
        assert commits == []
        assert browser.get("/survey/section/3").status_code == 200
        assert len(commits) == 1
    finally:
        sa.event.remove(engine, "commit", count)
    response = browser.get(f"/p/{consented}")
    assert response.status_code == 302 and response.location == "/survey/section/3"
