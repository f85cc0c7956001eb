"""The participant journey through the real app, database and forms (CSRF on)."""

from __future__ import annotations

import markupsafe
import sqlalchemy as sa

from surveyapp.consent.models import ConsentItemAnswer, ConsentRecord
from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.participant.services import hash_token
from surveyapp.responses.models import Answer, Response


def _participant(token) -> Participant:
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))


def _answers(token) -> dict:
    participant = _participant(token)
    rows = db.session.scalars(
        sa.select(Answer).join(Response).where(Response.participant_id == participant.id)
    )
    return {a.question_key: a.value for a in rows}


def test_open_link_offers_both_languages_welsh_first(browser, study):
    page = browser.get(f"/s/{study.slug}").get_data(as_text=True)
    page = page[page.index("<main"):]
    assert page.index('lang="cy"') < page.index('lang="en"')
    assert page.index(">Cymraeg<") < page.index(">English<")
    assert study.survey.title["cy"] not in page  # the study title, not the survey's
    assert "Dewiswch" in page and "Choose the language" in page


def test_token_is_stored_only_as_a_hash(browser, study, app):
    token = browser.start(study)
    assert len(token) >= 40
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT token_hash FROM participant")).scalars().all()
    assert rows == [hash_token(token)]
    assert token not in rows[0]


def test_unknown_token_is_404(browser, study):
    assert browser.get("/p/not-a-real-token-at-all/consent").status_code == 404


def test_full_journey_in_english_records_consent_and_submission(browser, study, app):
    token = browser.start(study, "en")
    info = browser.get("/survey/information").get_data(as_text=True)
    # The shipped texts are reconstructions: no ethics reference, a demonstration notice.
    assert "20/LAW/005" not in info and "Demonstration study" in info
    assert f"/p/{token}" in info  # the personal link is shown to keep

    response = browser.consent(token, study, optional=False)
    assert response.status_code == 302 and response.location.endswith("/section/1")

    page = browser.get("/survey/section/1").get_data(as_text=True)
    assert "Section 1 of 6" in page
    response = browser.post("/survey/section/1",
                            {"role": "Head of Safeguarding", "la_code": "GWN", "service_area": "children",
                             "action": "next"})
    assert response.location.endswith("/section/2")
    browser.post("/survey/section/2", {"aims": "Cadw pobl yn ddiogel – ŵ ŷ â ô", "action": "next"})
    browser.post("/survey/section/3",
                 {"front_door_model": ["IAA", "_other"], "front_door_model__other": "Hwb Diogelu",
                  "referrals_children_per_year": "4,200", "team_size_fte": "5.5", "action": "next"})
    review = browser.get("/survey/review").get_data(as_text=True)
    assert "Gwynedd" in review and "Hwb Diogelu" in review
    response = browser.post("/survey/review", {}, fetch=False)
    assert response.status_code == 302 and response.location.endswith("/done")
    done = browser.get("/survey/done").get_data(as_text=True)

    with app.app_context():
        participant = _participant(token)
        assert participant.status == "submitted" and participant.reference in done
        record = db.session.scalar(sa.select(ConsentRecord).where(ConsentRecord.participant_id == participant.id))
        assert record.given and record.method == "online" and record.language == "en"
        assert record.content_hash == participant.study.consent_form.content_hash
        assert record.recorded_at.utcoffset().total_seconds() == 0
        items = {i.item_id: i.agreed for i in record.items}
        assert items["audio_recording"] is False and items["agree_to_take_part"] is True
        assert set(items) == {i.id for i in study.consent_form.items}
        answers = _answers(token)
        assert answers["la_code"] == "GWN"
        assert answers["aims"] == "Cadw pobl yn ddiogel – ŵ ŷ â ô"
        assert answers["front_door_model"] == {"choices": ["IAA"], "other": "Hwb Diogelu"}
        assert answers["referrals_children_per_year"] == 4200 and answers["team_size_fte"] == 5.5
        response_row = db.session.scalar(sa.select(Response))
        assert response_row.content_hash == participant.study.survey.content_hash


def test_unticked_required_item_is_not_consent(browser, study, app):
    token = browser.start(study)
    response = browser.consent(token, study, required=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Statement 1: to take part you need to tick it" in page
    assert page.count("Tick this statement to take part.") == sum(i.required for i in study.consent_form.items)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0
    assert browser.get("/survey/section/1").status_code == 302


def test_refusing_ends_politely_and_stores_no_answers(browser, study, app):
    token = browser.start(study)
    data = {"item_read_information": "y", "decline": "1"}
    response = browser.post("/survey/consent", data)
    assert response.location.endswith("/declined")
    assert "chosen not to take part" in browser.get(response.location).get_data(as_text=True)

    # Posting answers anyway (an old tab, a crafted request) stores nothing.
    browser.get("/survey/consent")
    csrf = browser.csrf()
    response = browser.client.post("/survey/section/2", data={"csrf_token": csrf, "_participant": browser.bound(),
                                                                   "aims": "secret"})
    assert response.status_code == 302
    with app.app_context():
        participant = _participant(token)
        assert participant.status == "refused"
        record = db.session.scalar(sa.select(ConsentRecord))
        assert record.given is False
        agreed = dict(db.session.execute(sa.select(ConsentItemAnswer.item_id, ConsentItemAnswer.agreed)).all())
        assert agreed["read_information"] is True and agreed["agree_to_take_part"] is False
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_resume_from_the_link_on_a_new_device(browser, new_browser, study, app):
    token = browser.start(study, "cy")
    browser.consent(token, study)
    browser.post("/survey/section/1", {"role": "Rheolwr", "la_code": "ANG", "action": "next"})
    browser.post("/survey/section/2", {"aims": "Nodau hir iawn…", "action": "next"})
    browser.post("/survey/section/3", {"front_door_name": "Drws Ffrynt Môn", "action": "later"})

    other = new_browser()
    response = other.get(f"/p/{token}")
    assert response.status_code == 302 and response.location.endswith("/section/3")
    page = other.get(response.location).get_data(as_text=True)
    assert 'lang="cy"' in page.split(">")[1]  # <html lang="cy">: the stored choice
    assert 'value="Drws Ffrynt Môn"' in page
    page = other.get(f"/p/{token}/section/2").get_data(as_text=True)
    assert "Nodau hir iawn…" in page
    page = other.get(f"/p/{token}/section/1").get_data(as_text=True)
    assert 'value="ANG" checked' in page


def test_double_submit_records_one_submission(browser, new_browser, study, app):
    token = browser.start(study)
    browser.consent(token, study)
    browser.post("/survey/section/1", {"role": "Lead", "la_code": "CRF", "service_area": "adults"})
    browser.get("/survey/review")
    csrf = browser.csrf()
    bound = browser.bound()
    first = browser.client.post("/survey/review", data={"csrf_token": csrf, "_participant": bound})
    second = browser.client.post("/survey/review", data={"csrf_token": csrf, "_participant": bound})
    assert first.status_code == second.status_code == 302
    with app.app_context():
        reference = _participant(token).reference
        submitted = db.session.scalars(sa.select(Response.submitted_at)).all()
    assert len(submitted) == 1 and submitted[0] is not None
    # A second tab submitting later changes nothing either.
    tab = new_browser()
    tab.get(f"/p/{token}/review")
    with app.app_context():
        assert _participant(token).reference == reference
    # And answers can no longer be changed.
    response = browser.client.post("/survey/section/1", data={"csrf_token": csrf, "_participant": bound,
                                                                   "role": "Changed"})
    assert response.status_code == 302
    with app.app_context():
        assert _answers(token)["role"] == "Lead"


def test_required_questions_block_submit_with_links(browser, study, app):
    token = browser.start(study)
    browser.consent(token, study)
    browser.post("/survey/section/2", {"aims": "Something"})
    response = browser.post("/survey/review", {})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "/survey/section/1?return=review#q-la_code" in page
    with app.app_context():
        assert _participant(token).status == "consented"


def test_language_switch_keeps_typed_text(browser, study, app):
    token = browser.start(study, "en")
    browser.consent(token, study)
    typed = "Rydym yn cydweithio’n agos â’r heddlu – ŵ ŷ"
    response = browser.post("/survey/section/2", {"aims": typed, "_switch_lang": "cy"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="cy">' in page
    assert typed in page
    assert str(markupsafe.escape(study.survey.sections[1].title["cy"])) in page
    with app.app_context():
        assert _participant(token).language == "cy"
        assert _answers(token)["aims"] == typed


def test_language_switch_on_consent_keeps_ticks(browser, study, app):
    browser.start(study, "en")
    response = browser.post("/survey/consent", {"item_voluntary": "y", "_switch_lang": "cy"})
    page = response.get_data(as_text=True)
    assert '<html lang="cy">' in page
    assert 'id="item_voluntary" name="item_voluntary" value="y" checked' in page
    assert 'id="item_read_information" name="item_read_information" value="y">' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0


def test_language_link_goes_to_the_same_page(browser, study, app):
    token = browser.start(study, "en")
    response = browser.get("/survey/information?lang=cy")
    assert response.status_code == 302 and response.location == "/survey/information"
    page = browser.get(response.location).get_data(as_text=True)
    assert '<html lang="cy">' in page
    with app.app_context():
        assert _participant(token).language == "cy"
    # From the personal link with ?lang=, the same: ends on the page without the token.
    other = app.test_client()
    response = other.get(f"/p/{token}/information?lang=en", follow_redirects=True)
    assert response.request.path == "/survey/information" and '<html lang="en">' in response.get_data(as_text=True)


def test_expired_csrf_token_shows_the_text_again_and_saves_nothing_yet(browser, study, app):
    token = browser.start(study)
    browser.consent(token, study)
    long_text = "Mae’r drws ffrynt yn gweithio’n dda. " * 200
    browser.get("/survey/section/2")
    response = browser.client.post("/survey/section/2", data={"csrf_token": "expired", "aims": long_text,
                                                                  "_participant": browser.bound()})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert long_text.strip() in page
    assert "nothing was saved yet" in page
    browser.page = page
    response = browser.post("/survey/section/2", {"aims": long_text}, fetch=False)
    assert response.status_code == 302
    with app.app_context():
        assert _answers(token)["aims"] == long_text


def test_bad_number_gets_a_clear_error_and_other_answers_are_kept(browser, study, app):
    token = browser.start(study)
    browser.consent(token, study)
    response = browser.post("/survey/section/3",
                            {"referrals_children_per_year": "lots", "front_door_name": "SPOA"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter a number using digits, for example 12 or 2,500." in page
    assert 'href="#referrals_children_per_year"' in page
    assert 'value="lots"' in page
    with app.app_context():
        answers = _answers(token)
    assert answers == {"front_door_name": "SPOA"}


def test_show_if_hides_a_question_until_its_condition_holds(browser, study, app):
    conditional = [(n, q) for n, s in enumerate(study.survey.sections, 1) for q in s.questions if q.show_if]
    assert conditional, "the shipped survey uses show_if"
    number, question = conditional[0]
    source = study.survey.questions[question.show_if["question"]]
    source_number = next(n for n, s in enumerate(study.survey.sections, 1) if source in s.questions)
    token = browser.start(study)
    browser.consent(token, study)
    assert f'id="q-{question.key}"' not in browser.get(f"/survey/section/{number}").get_data(as_text=True)
    browser.post(f"/survey/section/{source_number}", {source.key: question.show_if["equals"]})
    assert f'id="q-{question.key}"' in browser.get(f"/survey/section/{number}").get_data(as_text=True)
