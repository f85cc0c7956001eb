"""After withdrawing, the participant's link lands on the "you have withdrawn" page and saves
nothing more: not a section's form, not an autosave (a clear message, not a 500), not a
submission, not a new consent; and the done page links to withdrawing."""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.responses.models import Answer

from .helpers import WITHDRAWN_JSON_STATUS, answers_of, consented, marker, participant_of, withdraw_from_link


def _answer_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Answer))


def test_a_withdrawn_participant_can_save_nothing(browser, study, app):
    token = consented(browser, study)
    browser.post("/survey/section/1", {"role": "Pennaeth", "la_code": "GWN", "service_area": "children"})
    # A section page left open in another tab, from before the withdrawal.
    browser.get("/survey/section/2")
    open_page = browser.page
    csrf, bound = browser.csrf(), browser.bound()
    assert withdraw_from_link(browser, "participation").status_code == 302
    with app.app_context():
        before = answers_of(token)
        count = _answer_count()

    late = marker("AfterWithdrawing")
    # The open page's form.
    response = browser.client.post("/survey/section/2", data={"csrf_token": csrf, "_participant": bound,
                                                               "aims": late, "action": "next"})
    assert response.status_code == 302 and response.location == "/survey/withdrawn"
    # Its autosave: a clear message in JSON.
    response = browser.client.post("/survey/section/2/autosave", data={
        "csrf_token": csrf, "_participant": bound, "_question": "aims", "aims": late, "_rev_aims": "0"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["status"] == WITHDRAWN_JSON_STATUS and "withdrawn" in body["message"]
    # Submitting, consenting again, declining: refused or sent to the withdrawn page.
    for url in ("/survey/review", "/survey/consent", "/survey/decline"):
        browser.page = open_page
        response = browser.post(url, {"item_" + study.consent_form.items[0].id: "y"}, fetch=False)
        assert response.status_code == 302 and response.location == "/survey/withdrawn", url
    for url in ("/survey/section/1", "/survey/review", "/survey/done", "/survey/consent", "/survey/decline",
                "/survey"):
        response = browser.client.get(url)
        assert response.status_code == 302 and response.location.endswith("/survey/withdrawn"), url
    assert browser.get("/survey/withdrawn").status_code == 200

    with app.app_context():
        assert answers_of(token) == before and _answer_count() == count
        participant = participant_of(token)
        assert participant.status == "withdrawn" and participant.submitted_at is None


def test_the_done_page_links_to_withdrawing(browser, study, app):
    consented(browser, study)
    browser.post("/survey/section/1", {"role": "Pennaeth", "la_code": "GWN", "service_area": "children"})
    assert browser.post("/survey/review", {}).status_code == 302
    page = browser.get("/survey/done").get_data(as_text=True)
    assert 'href="/survey/withdraw" data-withdraw-link' in page
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    assert "No further participation: keep what I gave" in page and "Withdraw my answers" in page
    assert 'data-cutoff="open"' in page  # submitted just now: answers can still be withdrawn


def test_before_submitting_the_page_states_the_window(browser, study):
    consented(browser, study)
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    assert 'data-cutoff="window"' in page and "until 14 days after you submit them" in page


def test_the_personal_link_withdraw_address_works(browser, study, app):
    token = consented(browser, study)
    response = browser.client.get(f"/p/{token}/withdraw")
    assert response.status_code == 302 and response.location == "/survey/withdraw"


def test_someone_who_consented_before_and_refused_a_later_version_can_still_withdraw(browser, study, app):
    token = consented(browser, study)
    browser.post("/survey/section/1", {"role": "Pennaeth", "la_code": "GWN", "service_area": "children"})
    with app.app_context():
        participant_of(token).status = "refused"  # as a refusal of a new consent-form version leaves it
        db.session.commit()
    assert browser.get("/survey/withdraw").status_code == 200
    assert withdraw_from_link(browser, "answers").status_code == 302
    with app.app_context():
        assert answers_of(token) == {} and participant_of(token).status == "withdrawn"
