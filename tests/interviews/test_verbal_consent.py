"""Consent taken verbally and recorded by a researcher (issue 12, point 1): the page, through
the app, makes the same consent record the online page makes, so it gates interview answers
exactly as online consent gates survey answers; and it stores nothing when it should not."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from surveyapp.audit import kinds
from surveyapp.audit.chain import verify
from surveyapp.audit.models import AuditEvent
from surveyapp.consent.models import ConsentMethod, ConsentRecord
from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.errors import ConsentRequired
from surveyapp.nominees.models import Nominee
from surveyapp.participant.models import Participant
from surveyapp.responses import services as responses
from surveyapp.responses.models import Answer
from surveyapp.studies.models import Study
from tests.review.conftest import PASSWORD, rows, sign_in  # noqa: F401 (PASSWORD: the accounts' password)

HEADER = "name,email,la_code,service_area,agency,role,preferred_language\n"
ANSWER = {"aims": "Keep children safe"}


def url(nominee_id: int) -> str:
    return f"/researcher/interviews/nominees/{nominee_id}/consent"


def add_nominees(app, study, *languages: str) -> list[int]:
    from surveyapp.nominees.importer import parse_nominees
    from surveyapp.nominees.services import import_nominees

    csv = HEADER + "".join(f"Interviewee {i},interviewee{i}@example.org,CAY,children,local_authority,Lead,{lang}\n"
                           for i, lang in enumerate(languages))
    with app.app_context():
        result = parse_nominees("n.csv", csv.encode())
        assert result.ok, [p.message for p in result.problems]
        added = import_nominees(db.session.get(Study, study.id), result.rows, app.config["LINK_KEY"])
        db.session.commit()
        return [n.id for n in added]


def answers(study, *, required: bool = True, optional: bool = True, skip: int = 0) -> dict[str, str]:
    """The form data: every item answered (a required one not agreed unless ``required``), then
    the sheet and the confirmation; ``skip`` leaves out the first ``skip`` items."""
    data = {f"item_{i.id}": "agreed" if (required if i.required else optional) else "not_agreed"
            for i in study.consent_form.items[skip:]}
    return {"language": "cy", "shown": "cy", **data, "sheet_sent_on": "2026-11-20", "sheet_language": "cy",
            "confirm": "y"}


def participant_of(app, nominee_id: int) -> Participant:
    return db.session.get(Nominee, nominee_id).participant


def records() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord))


def answer_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Answer))


def in_language(app, locale: str, message, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values) if isinstance(message, str) else str(message)


@pytest.fixture
def researcher(app, study):
    return sign_in(app, "researcher")


@pytest.fixture
def nominee(app, study):
    return add_nominees(app, study, "cy")[0]


def test_verbal_consent_gates_interview_answers_as_online_consent_gates_survey_answers(app, study, researcher,
                                                                                          nominee):
    with app.app_context():
        with pytest.raises(ConsentRequired):
            responses.save_answers(participant_of(app, nominee), ANSWER)
        assert answer_count() == 0

    response = researcher.post(url(nominee), answers(study))
    assert response.status_code == 302 and response.location == f"/researcher/nominees/{nominee}"
    researcher.get(response.location)
    assert "Consent given by" in unescape(researcher.page) and "P1" in researcher.page

    with app.app_context():
        participant = participant_of(app, nominee)
        assert participant.status == "consented" and participant.pid_label == "P1"
        responses.save_answers(participant, ANSWER)
        db.session.commit()
        assert answer_count() == 1


def test_a_required_item_not_agreed_records_a_refusal_that_keeps_the_gate_shut(app, study, researcher, nominee):
    response = researcher.post(url(nominee), answers(study, required=False))
    assert response.status_code == 302
    researcher.get(response.location)
    assert "did not agree to every required statement" in unescape(researcher.page)
    with app.app_context():
        participant = participant_of(app, nominee)
        assert participant.status == "refused" and participant.pid is None
        [record] = db.session.scalars(sa.select(ConsentRecord)).all()
        assert record.given is False and record.method == ConsentMethod.VERBAL
        with pytest.raises(ConsentRequired):
            responses.save_answers(participant, ANSWER)
        assert answer_count() == 0


def test_the_record_says_how_who_when_and_which_sheet_and_the_chain_verifies(app, study, researcher, nominee):
    before = datetime.now(UTC)
    assert researcher.post(url(nominee), answers(study, optional=False)).status_code == 302
    with app.app_context():
        researcher_id = db.session.scalar(sa.text("select id from user_account where email = :e"),
                                          {"e": "researcher-en@example.org"})
        study_row = db.session.get(Study, study.id)
        [record] = db.session.scalars(sa.select(ConsentRecord)).all()
        assert record.method == "verbal_recorded_by_researcher" and record.recorded_by_id == researcher_id
        assert record.language == "cy" and record.given is True
        assert before <= record.recorded_at <= datetime.now(UTC)
        assert record.sheet_sent_at == datetime(2026, 11, 20, tzinfo=UTC) and record.sheet_sent_language == "cy"
        assert record.consent_form_id == study_row.consent_form_id
        assert record.information_sheet_id == study_row.information_sheet_id
        assert record.information_sheet_hash == study_row.information_sheet.content_hash
        agreed = {item.item_id: item.agreed for item in record.items}
        assert agreed == {i.id: i.required for i in study.consent_form.items}

        assert verify().ok
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == kinds.CONSENT_GIVEN)).all()
        assert event.actor_id == researcher_id and event.participant_id == record.participant_id


def test_the_register_shows_the_row_as_verbal_with_the_researchers_name(app, study, researcher, nominee):
    assert researcher.post(url(nominee), answers(study)).status_code == 302
    reviewer = sign_in(app, "reviewer")
    with app.app_context():
        participant_id = participant_of(app, nominee).id
    assert rows(reviewer, "?method=verbal_recorded_by_researcher") == {participant_id: "consented"}
    page = unescape(reviewer.page)
    assert "Verbal, recorded by researcher" in page and "recorded by Researcher Prawf" in page


def test_nothing_answered_is_a_400_naming_every_problem_and_stores_nothing(app, study, researcher, nominee):
    researcher.get(url(nominee))
    response = researcher.post(url(nominee), {"shown": "cy"}, fetch=False)
    assert response.status_code == 400
    page = unescape(researcher.page)
    assert 'class="error-summary"' in page
    for number in range(1, len(study.consent_form.items) + 1):
        assert f"Statement {number}: choose agreed or not agreed." in page
    for message in ("Enter the date the information sheet was sent.", "Choose the language of the information "
                    "sheet sent.", "Confirm that you read each statement and recorded the answers at the time."):
        assert message in page
    with app.app_context():
        assert records() == 0 and participant_of(app, nominee).status != "consented"


def test_one_item_left_unanswered_is_named_and_nothing_is_stored(app, study, researcher, nominee):
    response = researcher.post(url(nominee), answers(study, skip=1))
    assert response.status_code == 400
    page = unescape(researcher.page)
    assert "Statement 1: choose agreed or not agreed." in page
    assert "Statement 2: choose agreed or not agreed." not in page
    with app.app_context():
        assert records() == 0


def test_a_missing_csrf_token_is_a_400_and_stores_nothing(app, study, researcher, nominee):
    researcher.get(url(nominee))
    response = researcher.client.post(url(nominee), data=answers(study))
    assert response.status_code == 400
    with app.app_context():
        assert records() == 0


@pytest.mark.parametrize("sent_on", [(date.today() + timedelta(days=2)).isoformat(), "2026-02-30", "yesterday"])
def test_a_sheet_date_in_the_future_or_not_a_date_is_refused(app, study, researcher, nominee, sent_on):
    response = researcher.post(url(nominee), {**answers(study), "sheet_sent_on": sent_on})
    assert response.status_code == 400
    page = unescape(researcher.page)
    expected = ("The date the information sheet was sent cannot be in the future." if sent_on[0] == "2"
                and sent_on != "2026-02-30" else "Enter a real date, for example 2026-11-30.")
    assert expected in page
    with app.app_context():
        assert records() == 0


def test_the_statements_are_shown_in_the_language_used_and_a_mismatch_is_refused(app, study, researcher):
    english, welsh = add_nominees(app, study, "en", "cy")
    item = study.consent_form.items[0]
    researcher.get(url(welsh))
    assert item.text["cy"] in unescape(researcher.page) and item.text["en"] not in unescape(researcher.page)
    assert 'lang="cy"' in researcher.page
    researcher.get(url(english))
    assert item.text["en"] in unescape(researcher.page) and item.text["cy"] not in unescape(researcher.page)
    researcher.get(url(english) + "?language=cy")
    assert item.text["cy"] in unescape(researcher.page)
    # read in Welsh but recorded as English: refused, nothing stored
    response = researcher.post(url(english) + "?language=cy", {**answers(study), "language": "en"})
    assert response.status_code == 400
    assert "The statements were shown in the other language." in unescape(researcher.page)
    with app.app_context():
        assert records() == 0


def test_consent_already_given_is_refused_saying_when_and_how(app, study, researcher, nominee):
    researcher.get(url(nominee))  # the page open while the participant consents online
    with app.app_context():
        participant = participant_of(app, nominee)
        record_consent(participant, {i.id: True for i in study.consent_form.items}, language="en")
        db.session.commit()
    response = researcher.post(url(nominee), answers(study), fetch=False)
    assert response.status_code == 302
    researcher.get(response.location)
    page = unescape(researcher.page)
    assert "already gave consent to the current consent form on" in page and "(Online)" in page
    assert researcher.get(url(nominee)).status_code == 302
    with app.app_context():
        assert records() == 1


@pytest.mark.parametrize("status", ["submitted", "withdrawn"])
def test_a_participant_who_submitted_or_withdrew_is_refused(app, study, researcher, nominee, status):
    researcher.get(url(nominee))
    with app.app_context():
        participant_of(app, nominee).status = status
        db.session.commit()
    response = researcher.post(url(nominee), answers(study), fetch=False)
    assert response.status_code == 302
    researcher.get(response.location)
    assert "Nothing was recorded." in unescape(researcher.page)
    assert researcher.get(url(nominee)).status_code == 302
    with app.app_context():
        assert records() == 0


def test_a_nominee_of_another_study_is_not_found(app, study, researcher, nominee):
    with app.app_context():
        mine = db.session.get(Study, study.id)
        other = Study(slug="another-study", title={"en": "Another", "cy": "Arall"},
                      information_sheet_id=mine.information_sheet_id, consent_form_id=mine.consent_form_id,
                      survey_id=mine.survey_id)
        db.session.add(other)
        db.session.flush()
        db.session.get(Nominee, nominee).study_id = other.id
        db.session.commit()
    assert researcher.get(url(nominee)).status_code == 404
    assert researcher.client.post(url(nominee), data=answers(study)).status_code in (400, 404)
    with app.app_context():
        assert records() == 0


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_and_admins_are_forbidden(app, study, nominee, role):
    browser = sign_in(app, role)
    assert browser.get(url(nominee)).status_code == 403
    assert browser.client.post(url(nominee), data=answers(study)).status_code in (400, 403)
    with app.app_context():
        assert records() == 0


def test_signed_out_is_sent_to_sign_in(app, study, nominee):
    from tests.conftest import Browser

    response = Browser(app).get(url(nominee))
    assert response.status_code == 302 and "/login" in response.location


WELSH_STRINGS = ("Record consent taken verbally", "Language used", "Agreed", "Not agreed",
                 "Date the information sheet was sent", "Language of the information sheet sent",
                 "I read each statement to the participant and recorded the answers they gave, at the time.",
                 "Record consent", "Cancel and go back", "The information sheet")


def test_the_page_in_welsh_has_no_english(app, study, nominee):
    """Needs the lead's merge of .welsh/verbal.po into the catalogue."""
    browser = sign_in(app, "researcher", "cy")
    browser.get(url(nominee))
    page = unescape(browser.page)
    for msgid in WELSH_STRINGS:
        welsh = in_language(app, "cy", msgid)
        assert welsh != msgid, f"not translated: {msgid}"
        assert welsh in page
        assert msgid not in page.replace(welsh, "")
    assert in_language(app, "cy", "Statement %(number)d", number=1) in page
    browser.post(url(nominee), {"shown": "cy"}, fetch=False)
    page = unescape(browser.page)
    assert in_language(app, "cy", "Statement %(number)d: choose agreed or not agreed.", number=1) in page
    assert "choose agreed or not agreed" not in page
    assert re.search(r"<html[^>]*lang=\"cy\"", browser.page)
