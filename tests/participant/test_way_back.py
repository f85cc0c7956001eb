"""What a participant needs to trust the study and find their way back: contacts everywhere,
a time estimate, the link kept and emailed, the done page, answers filled in from the
invitation, returning to the review page, numbers as people type them."""

from __future__ import annotations

import html
import re
from email.utils import parseaddr
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml

from surveyapp.db import db
from surveyapp.instruments.loader import read_catalogue
from surveyapp.instruments.services import load_catalogue
from surveyapp.participant.models import LinkEmail, Participant
from surveyapp.participant.services import hash_token
from surveyapp.responses.models import Answer, Response
from surveyapp.studies.models import Study
from tests.conftest import Browser

TEAM = "front-door-research@example.org"
COMPLAINTS = "research-ethics@example.org"
DPO = "data-protection@example.org"


def _participant(token: str) -> Participant:
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))


def _answers(token: str) -> dict:
    participant = _participant(token)
    rows = db.session.scalars(sa.select(Answer).join(Response).where(Response.participant_id == participant.id))
    return {a.question_key: a.value for a in rows}


def _consented(browser, study, language="en") -> str:
    token = browser.start(study, language)
    assert browser.consent(token, study).status_code == 302
    return token


def _has_contacts(page: str) -> bool:
    return all(f'href="mailto:{address}"' in page for address in (TEAM, COMPLAINTS, DPO))


# -- contacts and notices ------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["cy", "en"])
def test_contacts_are_on_every_participant_page_in_its_language(browser, study, app, language):
    _consented(browser, study, language)
    pages = {name: browser.get(f"/survey/{name}").get_data(as_text=True)
             for name in ("information", "consent", "section/1", "saved", "review")}
    browser.post("/survey/section/1", {"role": "Arweinydd", "la_code": "GWN", "service_area": "children"})
    browser.post("/survey/review", {})
    pages["done"] = browser.get("/survey/done").get_data(as_text=True)
    heading = "Â phwy i gysylltu" if language == "cy" else "Who to contact"
    complaints = ("Pryderon neu gwynion" if language == "cy"
                  else "Concerns or complaints, to someone outside the research team")
    for name, page in pages.items():
        assert _has_contacts(page), name
        assert heading in page and complaints in page, name
        assert 'href="tel:+' not in page and 'href="tel:01514960000"' in page, name
    # The sheet itself lists them, not only the footer.
    main = pages["information"].split("<footer")[0]
    assert _has_contacts(main)
    assert "(cyswllt enghreifftiol)" in pages["information"] if language == "cy" \
        else "(demonstration contact)" in pages["information"]


def test_declined_pages_show_contacts_and_do_not_say_answers_are_kept(browser, study):
    browser.start(study, "en")
    response = browser.post("/survey/consent", {"decline": "1"})
    assert response.location.endswith("/declined")
    page = browser.get("/survey/declined").get_data(as_text=True)
    assert "None of your answers have been kept" in page
    assert "Your answers are kept" not in page
    assert _has_contacts(page)
    # Someone who declines from the email before starting: the same.
    other_browser = Browser(browser.app)
    other = other_browser.start(study, "en")
    page = other_browser.get(f"/p/{other}/decline").get_data(as_text=True)
    assert "Your answers are kept" not in page and _has_contacts(page)


def test_the_sheet_and_the_first_section_give_the_estimated_time(browser, study):
    _consented(browser, study)
    minutes = study.survey.estimated_minutes
    expected = f"The online survey takes about {minutes} minutes."
    assert expected in browser.get("/survey/information").get_data(as_text=True)
    assert expected in browser.get("/survey/section/1").get_data(as_text=True)
    assert expected not in browser.get("/survey/section/2").get_data(as_text=True)
    welsh = html.unescape(browser.get("/survey/section/1?lang=cy", follow_redirects=True).get_data(as_text=True))
    assert f"Mae'r arolwg ar-lein yn cymryd tua {minutes} munud." in welsh


def test_estimate_grows_with_the_questions(study):
    """Open questions take longer than ticks: the estimate is worked out, not written in."""
    from surveyapp.instruments.model import Survey

    raw = study.survey.raw
    only_ticks = {**raw, "sections": [{**s, "questions": [q for q in s["questions"] if q["type"] == "single_choice"]}
                                      for s in raw["sections"]]}
    only_ticks["sections"] = [s for s in only_ticks["sections"] if s["questions"]]
    assert Survey(only_ticks).estimated_minutes < study.survey.estimated_minutes
    assert study.survey.estimated_minutes % 5 == 0


# -- the information sheet says only what can be known, plainly ------------------------------

def _served_text(study_file_kind: str) -> dict:
    from surveyapp.config import INSTRUMENTS_DIR

    catalogue = read_catalogue(INSTRUMENTS_DIR)
    study = catalogue.studies[0].content
    ref = study[study_file_kind]
    return catalogue.find(ref["key"], ref["version"]).content


def _all_text(node, lang) -> str:
    if isinstance(node, dict):
        if "status" in node and lang in node:
            return node[lang] + "\n"
        return "".join(_all_text(v, lang) for v in node.values())
    if isinstance(node, list):
        return "".join(_all_text(v, lang) for v in node)
    return ""


def test_sheet_has_no_results_and_says_pseudonymised_and_video():
    sheet = _served_text("information_sheet")
    english, welsh = _all_text(sheet, "en"), _all_text(sheet, "cy")
    assert "34" not in english and "100 minutes" not in english
    assert "pseudonymised" in english and "ffugenwi" in welsh
    assert not re.search(r"\banonymi[sz]ed\b", english) and "dienw" not in welsh
    assert "video" in english.lower() and "fideo" in welsh.lower()
    assert "20/LAW/005" not in english + welsh  # the app shows it only once approved
    assert "invitation email" not in english


def test_consent_items_do_not_say_optional_twice(browser, study):
    browser.start(study, "en")
    page = browser.get("/survey/consent").get_data(as_text=True)
    assert "(Optional:" not in page and "(optional)" in page
    welsh = browser.get("/survey/consent?lang=cy", follow_redirects=True).get_data(as_text=True)
    assert "(Dewisol:" not in welsh


# -- schedule version 2 --------------------------------------------------------------------------

def test_schedule_v2_asks_what_the_reports_tables_need(study):
    questions = study.survey.questions
    assert study.survey.raw["version"] == 2
    features = {o.code for o in questions["front_door_features"].options}
    assert {"SEPARATE_SAFEGUARDING_TEAM", "LEADERSHIP_QA"} <= features
    for key in ("safeguarding_team", "front_door_with_safeguarding", "children_adults_together",
                "early_intervention", "information_system_change"):
        assert questions[key].type == "single_choice" and questions[key].options, key
    assert questions["early_intervention"].show_if is None  # asked of everyone
    assert questions["referrals_children_per_year"].type == "integer"
    assert questions["referrals_adults_per_year"].type == "integer"
    assert {o.code for o in questions["referral_sources"].options} >= {"PUBLIC", "POLICE", "HEALTH", "EDUCATION"}
    assert questions["referral_sources"].other
    assert questions["team_size_fte"].type == "decimal" and questions["team_size_fte"].places >= 1


def test_a_v1_respondent_keeps_v1_when_the_study_moves_to_v2(make_app, instruments_copy):
    study_file = instruments_copy / "studies" / "front-door-phase1.yaml"
    # Before the glossary existed, v1 was what participants were shown.
    (instruments_copy / "glossary.yaml").unlink()
    data = yaml.safe_load(study_file.read_text("utf-8"))
    v2 = dict(data)
    for kind in ("information_sheet", "consent_form", "survey"):
        data[kind] = {**data[kind], "version": 1}
    study_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    app = make_app()

    def load():
        with app.app_context():
            load_catalogue(read_catalogue(instruments_copy))
            db.session.commit()
            row = db.session.scalar(sa.select(Study))
            return row.slug, row.consent_form.as_consent_form()

    slug, consent_v1 = load()
    browser = Browser(app)
    token = browser.start(SimpleNamespace(slug=slug))
    browser.post("/survey/consent", {f"item_{i.id}": "y" for i in consent_v1.items})
    browser.post("/survey/section/3", {"referrals_per_year": "1200", "front_door_name": "SPOA"})

    study_file.write_text(yaml.safe_dump(v2, allow_unicode=True, sort_keys=False), "utf-8")
    slug, consent_v2 = load()
    # The consent form changed, so they are asked again (to v2); their schedule does not change.
    assert browser.get("/survey/section/3").location.endswith("/information")
    browser.post("/survey/consent", {f"item_{i.id}": "y" for i in consent_v2.items})
    page = browser.get("/survey/section/3").get_data(as_text=True)
    assert 'id="referrals_per_year"' in page and 'value="1,200"' not in page and 'value="1200"' in page
    assert 'id="referrals_children_per_year"' not in page
    browser.post("/survey/section/3", {"referrals_per_year": "1,300", "front_door_name": "SPOA"})
    with app.app_context():
        participant = _participant(token)
        response = db.session.scalar(sa.select(Response).where(Response.participant_id == participant.id))
        assert response.survey.version == 1
        assert _answers(token)["referrals_per_year"] == 1300
    # Someone new gets v2.
    newcomer = Browser(app)
    other = newcomer.start(SimpleNamespace(slug=slug))
    newcomer.post(f"/p/{other}/consent", {f"item_{i.id}": "y" for i in consent_v2.items})
    assert 'id="referrals_children_per_year"' in newcomer.get(f"/p/{other}/section/3").get_data(as_text=True)


# -- finishing later -----------------------------------------------------------------------------

def test_saved_page_gives_the_link_as_a_link_with_a_copy_button(browser, study):
    token = _consented(browser, study)
    response = browser.post("/survey/section/1", {"action": "later"})
    assert response.location.endswith("/saved")
    page = browser.get("/survey/saved").get_data(as_text=True)
    link = f"http://survey.test/p/{token}"
    assert f'<a href="{link}" class="personal-link__url" data-copy-source>{link}</a>' in page
    assert "data-copy-button" in page and 'aria-live="polite"' in page


@pytest.mark.parametrize("language", ["cy", "en"])
def test_email_me_my_link_sends_one_message_and_keeps_no_address(make_app, smtp, study, language):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT=10)
    browser = Browser(app)
    token = _consented(browser, study, language)
    address = "rhywun.arall@example.net"
    browser.get("/survey/saved")
    response = browser.post("/survey/email-link", {"email": address}, fetch=False)
    assert response.status_code == 302 and response.location.endswith("/saved?sent=1")
    assert len(smtp.handler.received) == 1
    received = smtp.handler.received[0]
    message = received.message
    assert received.rcpt_tos == (address,)
    assert message["Reply-To"] == TEAM
    assert message["Content-Language"] == language
    body = message.get_content()
    assert f"http://survey.test/p/{token}" in body and TEAM in body and COMPLAINTS in body
    sender = parseaddr(message["From"])[0]
    if language == "cy":
        assert sender == "Ymchwil ar ddiogelu yng Nghymru" and "Eich dolen" in message["Subject"]
        assert "Your personal link" not in body and "Astudiaeth arddangos" in body
    else:
        assert sender == "Safeguarding research in Wales" and message["Subject"].strip().startswith("Your link")
    with app.app_context():
        participant = _participant(token)
        rows = db.session.scalars(sa.select(LinkEmail).where(LinkEmail.participant_id == participant.id)).all()
        assert [(r.language, r.sent_at is not None) for r in rows] == [(language, True)]
        # The address is in no table.
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).all():
                assert address not in repr(tuple(row)), table.name
    page = browser.get("/survey/saved?sent=1").get_data(as_text=True)
    assert ("Rydym wedi anfon eich dolen" if language == "cy" else "We have sent your link") in page


def test_email_me_my_link_is_rate_limited_per_participant(make_app, smtp, study):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, LINK_EMAIL_LIMIT=2)
    browser = Browser(app)
    _consented(browser, study)
    for _ in range(2):
        browser.get("/survey/saved")
        assert browser.post("/survey/email-link", {"email": "a@example.net"}, fetch=False).status_code == 302
    browser.get("/survey/saved")
    refused = browser.post("/survey/email-link", {"email": "a@example.net"}, fetch=False)
    assert refused.status_code == 400
    assert "several times in the last hour" in refused.get_data(as_text=True)
    assert len(smtp.handler.received) == 2
    # Another participant is not held back by the first one's count.
    other = Browser(app)
    token_2 = _consented(other, study)
    other.get(f"/p/{token_2}/saved")
    assert other.post(f"/p/{token_2}/email-link", {"email": "b@example.net"}, fetch=False).status_code == 302


def test_email_me_my_link_refuses_a_bad_address_in_the_pages_language(make_app, smtp, study):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    browser = Browser(app)
    _consented(browser, study, "cy")
    browser.get("/survey/saved")
    response = browser.post("/survey/email-link", {"email": "nid cyfeiriad"}, fetch=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Rhowch gyfeiriad e-bost yn y fformat cywir" in page and 'href="#email"' in page
    assert smtp.handler.received == []


def test_email_me_my_link_with_the_mail_server_down_says_so_and_records_nothing(make_app, smtp, study):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT=5)
    smtp.stop()
    browser = Browser(app)
    _consented(browser, study)
    browser.get("/survey/saved")
    response = browser.post("/survey/email-link", {"email": "a@example.net"}, fetch=False)
    assert response.status_code == 400
    assert "We could not send the email just now" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LinkEmail.id))) == 0


# -- the done page -------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["cy", "en"])
def test_done_page_gives_reference_next_steps_contacts_and_withdrawal(browser, study, app, language):
    token = _consented(browser, study, language)
    browser.post("/survey/section/1", {"role": "Pennaeth", "la_code": "GWN", "service_area": "children"})
    browser.post("/survey/review", {})
    page = browser.get("/survey/done").get_data(as_text=True)
    with app.app_context():
        reference = _participant(token).reference
    assert reference and page.count(reference) >= 2  # shown, and quoted in how to withdraw
    if language == "cy":
        assert "Beth sy'n digwydd nesaf" in page and "tynnu'n ôl hyd at bythefnos" in page
    else:
        assert "What happens next" in page and "withdrawn up to two weeks after you submitted" in page
        assert "pseudonymised" in page
    assert _has_contacts(page)


# -- filled in from the invitation ---------------------------------------------------------------

def test_an_invited_nominee_finds_their_details_filled_in_and_can_change_them(make_app, study):
    from surveyapp.nominees.importer import parse_nominees
    from surveyapp.nominees.services import import_nominees
    from surveyapp.participant.services import derive_token

    app = make_app(LINK_KEY="k")
    csv = (b"name,email,la_code,service_area,agency,role,preferred_language\n"
           b"Nia Jones,nia@example.org,CGN,adults,police,Detective Inspector,en\n")
    with app.app_context():
        result = parse_nominees("n.csv", csv)
        nominee = import_nominees(db.session.get(Study, study.id), result.rows, "k")[0]
        db.session.commit()
        token = derive_token("k", nominee.link_nonce)
    browser = Browser(app)
    browser.get(f"/p/{token}")
    browser.consent(token, study)
    page = browser.get("/survey/section/1").get_data(as_text=True)
    assert 'value="CGN" checked' in page and 'value="adults" checked' in page
    assert 'value="Detective Inspector"' in page and 'value="Police"' in page
    assert "Filled in from your invitation" in page
    with app.app_context():
        assert _answers(token) == {}  # shown, not saved until they save the page
    browser.post("/survey/section/1", {"role": "Detective Sergeant", "la_code": "CGN",
                                           "service_area": "adults", "agency": "Police"})
    with app.app_context():
        answers = _answers(token)
    assert answers["role"] == "Detective Sergeant" and answers["la_code"] == "CGN"
    # Once saved, the saved answers show, not the record.
    assert 'value="Detective Sergeant"' in browser.get("/survey/section/1").get_data(as_text=True)


def test_open_link_participants_get_nothing_filled_in(browser, study):
    _consented(browser, study)
    page = browser.get("/survey/section/1").get_data(as_text=True)
    assert "Filled in from your invitation" not in page and " checked" not in page


# -- flow and input ------------------------------------------------------------------------------

def test_saving_a_question_reached_from_review_returns_to_review(browser, study, app):
    _consented(browser, study)
    browser.post("/survey/section/2", {"aims": "Something"})
    review = browser.post("/survey/review", {})
    link = re.search(r'href="(/survey/section/1\?return=review#q-role)"', review.get_data(as_text=True))
    assert link, "the missing answer links to its question"
    path = link.group(1).split("#")[0]
    page = browser.get(path).get_data(as_text=True)
    assert 'name="return" value="review"' in page and 'value="review"' in page
    response = browser.post(path, {"role": "Pennaeth", "la_code": "GWN", "service_area": "children",
                                   "action": "review"}, fetch=False)
    assert response.status_code == 302 and urlsplit(response.location).path == "/survey/review"
    # An invalid answer keeps them on the question, still on the way back to review.
    bad = browser.post("/survey/section/3?return=review", {"referrals_children_per_year": "lots",
                                                                "action": "review"})
    assert bad.status_code == 400 and 'name="return" value="review"' in bad.get_data(as_text=True)


@pytest.mark.parametrize(("typed", "stored"), [("2,500", 2500), ("2 500", 2500), ("2\u00a0500", 2500),
                                               ("123,456", 123456), (" 42 ", 42), ("7.0", 7)])
def test_whole_numbers_as_people_type_them(browser, study, app, typed, stored):
    token = _consented(browser, study)
    response = browser.post("/survey/section/3", {"referrals_children_per_year": typed})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        assert _answers(token)["referrals_children_per_year"] == stored


@pytest.mark.parametrize(("typed", "stored"), [("5.5", 5.5), ("12", 12), ("0.25", 0.25), ("1,000", 1000)])
def test_decimals_where_a_question_allows_them(browser, study, app, typed, stored):
    token = _consented(browser, study)
    assert browser.post("/survey/section/3", {"team_size_fte": typed}).status_code == 302
    with app.app_context():
        assert _answers(token)["team_size_fte"] == stored


@pytest.mark.parametrize(("key", "typed", "message"), [
    ("referrals_children_per_year", "5.5", "Enter a whole number, for example 12."),
    ("referrals_children_per_year", "2,50", "Enter a number using digits, for example 12 or 2,500."),
    ("referrals_children_per_year", "-3", "Enter a number from 0 to 1000000."),
    ("team_size_fte", "5.555", "Use no more than 2 decimal places, for example 5.5."),
])
def test_a_number_error_names_its_question_once_in_the_summary_and_beside_the_field(
        browser, study, app, key, typed, message):
    token = _consented(browser, study)
    response = browser.post("/survey/section/3", {key: typed, "front_door_name": "SPOA"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    question = study.survey.questions[key].text["en"]
    summary = page.split('data-error-summary>')[1].split("</div>")[0]
    assert f'href="#{key}">{question}: {message}</a>' in summary.replace("&#39;", "'")
    beside = page.split(f'id="q-{key}"')[1].split('class="field-status"')[0]
    assert message in beside and question not in beside.split("</label>")[1]
    assert page.count(message) == 2
    with app.app_context():
        assert _answers(token) == {"front_door_name": "SPOA"}


def test_welsh_number_error_is_welsh(browser, study):
    _consented(browser, study, "cy")
    page = browser.post("/survey/section/3", {"referrals_children_per_year": "llawer"}).get_data(as_text=True)
    assert "Rhowch rif gan ddefnyddio digidau, er enghraifft 12 neu 2,500." in page


def test_a_lone_carriage_return_is_stored_as_a_line_feed(browser, study, app):
    token = _consented(browser, study)
    browser.post("/survey/section/2", {"aims": "Un\rDau\r\nTri\n\rPedwar"})
    with app.app_context():
        assert _answers(token)["aims"] == "Un\nDau\nTri\n\nPedwar"


def test_an_empty_section_introduction_leaves_no_empty_element(browser, study):
    _consented(browser, study)
    for number, section in enumerate(study.survey.sections, 1):
        page = browser.get(f"/survey/section/{number}").get_data(as_text=True)
        assert ('class="section-intro"' in page) == bool(section.intro and section.intro.get("en")), number
        assert "<p></p>" not in page and "<p> </p>" not in page
