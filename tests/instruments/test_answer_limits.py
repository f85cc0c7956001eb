"""Answer limits: stated in the instrument (or the type's default), checked by
``instruments check``, enforced by the service for every save and at submit, and shown as
``maxlength``; and "answered" means visible characters."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from flask_babel import force_locale

from surveyapp.cli import main
from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.consent.services import record_consent
from surveyapp.db import db
from surveyapp.instruments.loader import read_catalogue
from surveyapp.instruments.model import NUMBER_LIMIT, Question
from surveyapp.participant.models import Participant
from surveyapp.participant.services import create_participant
from surveyapp.responses import services as responses
from surveyapp.responses.answers import answer_problem, is_blank
from surveyapp.responses.models import Answer, Response
from surveyapp.studies.models import Study
from tests.conftest import HIDDEN_RE

AUTOSAVE_RE = re.compile(r'data-autosave-url="([^"]+)"')

# Characters that show nothing: answers made only of these answer nothing.
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "byte order mark": "\ufeff",
    "no-break space": "\u00a0",
    "word joiner": "\u2060",
    "ideographic space": "\u3000",
    "Hangul filler": "\u3164",
    "Braille blank": "\u2800",
    "line separator": "\u2028",
    "a mixture with ordinary white space": " \u00a0\u200b\t\n\u200d ",
}
# C0 and C1 control characters, which nobody types (PostgreSQL cannot store NUL at all).
CONTROLS = {"NUL": "\x00", "escape": "\x1b", "bell": "\x07", "DEL": "\x7f", "C1 next line": "\x85"}


# -- the instrument ------------------------------------------------------------------------------

def _question(**raw) -> Question:
    return Question({"key": "q", "text": {"en": "Q", "cy": "C", "status": "draft"}, **raw})


def test_each_type_has_a_default_limit_a_question_may_state_its_own():
    assert _question(type="short_text").max_length == 500
    assert _question(type="long_text").max_length == 100_000  # the 90,000 the browser tests type fit
    assert _question(type="multiple_choice", other=True).max_length == 500  # "please say" box
    assert _question(type="multiple_choice").max_length is None
    assert _question(type="single_choice").max_length is None
    assert _question(type="short_text", max_length=40).max_length == 40
    number = _question(type="integer")
    assert (number.lowest, number.highest) == (-NUMBER_LIMIT, NUMBER_LIMIT)
    assert NUMBER_LIMIT < 2**53  # exact wherever the JSON is read
    bounded = _question(type="integer", min=0, max=10)
    assert (bounded.lowest, bounded.highest) == (0, 10)


# The hashes of the shipped survey versions before limits existed: the defaults are applied when
# a question is read, never written into the content, so versions already answered keep theirs.
SHIPPED_SURVEY_HASHES = {
    1: "18032985784069e644a8a67c356ac22d87e855d074f7b93974b0cb5f7bd22343",
    2: "b82fb70f69fb0b901dc928e3b6e7dc03e9019bc20421653bca8e7f246ea0f1aa",
}


def test_default_limits_leave_the_hash_of_every_shipped_version_alone(app, study):
    catalogue = read_catalogue(INSTRUMENTS_DIR)
    for version, expected in SHIPPED_SURVEY_HASHES.items():
        item = catalogue.find("phase1-front-door", version)
        assert item.content_hash == expected
        assert "max_length" not in str(item.text_content)
    with app.app_context():
        stored = db.session.get(Study, study.id).survey
        assert stored.content_hash == SHIPPED_SURVEY_HASHES[2]
        assert "max_length" not in str(stored.content)
        assert stored.as_survey().questions["role"].max_length == 500


def _edit_question(root: Path, key: str, change) -> Path:
    path = root / "phase1-front-door" / "2.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    question = next(q for s in data["sections"] for q in s["questions"] if q["key"] == key)
    change(question)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _check(root: Path):
    return CliRunner().invoke(main, ["instruments", "check", str(root)])


def test_a_stated_limit_passes_the_check_and_is_part_of_the_text(instruments_copy):
    before = read_catalogue(instruments_copy).find("phase1-front-door", 2).content_hash
    _edit_question(instruments_copy, "role", lambda q: q.update(max_length=80))
    _edit_question(instruments_copy, "aims_themes", lambda q: q.update(max_length=200))
    result = _check(instruments_copy)
    assert result.exit_code == 0, result.output
    item = read_catalogue(instruments_copy).find("phase1-front-door", 2)
    assert item.content_hash != before
    survey = item.text_content
    questions = {q["key"]: Question(q) for s in survey["sections"] for q in s["questions"]}
    assert questions["role"].max_length == 80 and questions["aims_themes"].max_length == 200


@pytest.mark.parametrize(("key", "change", "where", "says"), [
    ("role", {"max_length": 5000}, "questions[role].max_length", "more than a short_text answer may allow (2000"),
    ("aims", {"max_length": 100_001}, "max_length", "100000"),
    ("aims", {"max_length": 0}, "max_length", "0 is less than the minimum of 1"),
    ("referrals_children_per_year", {"max_length": 10}, "referrals_children_per_year", "should not be valid"),
    ("la_code", {"max_length": 10}, "la_code", "should not be valid"),
    ("referrals_children_per_year", {"max": 10**16}, "questions[referrals_children_per_year].max",
     "beyond the largest number"),
    ("team_size_fte", {"min": -10**16}, "questions[team_size_fte].min", "beyond the largest number"),
])
def test_the_check_refuses_limits_that_do_not_fit(instruments_copy, key, change, where, says):
    path = _edit_question(instruments_copy, key, lambda q: q.update(change))
    result = _check(instruments_copy)
    assert result.exit_code == 1
    line = next((line for line in result.output.splitlines() if line.startswith(f"error: {path}")), "")
    assert where in line and says in line, result.output


def test_a_length_limit_on_a_multiple_choice_needs_its_other_box(instruments_copy):
    path = _edit_question(instruments_copy, "aims_themes", lambda q: (q.pop("other"), q.update(max_length=100)))
    result = _check(instruments_copy)
    assert result.exit_code == 1 and f"error: {path}" in result.output, result.output


# -- the service ---------------------------------------------------------------------------------

@pytest.fixture
def ctx(app, study):
    """A request (messages are translated for one) and a participant who has consented (and
    answered nothing)."""
    with app.test_request_context():
        row = db.session.get(Study, study.id)
        participant, _ = create_participant(row, source="open", language="en")
        record_consent(participant, {i.id: True for i in row.consent_form.as_consent_form().items},
                       language="en")
        db.session.commit()
        yield participant


def _stored(key):
    db.session.expire_all()
    return db.session.scalar(sa.select(Answer.value).where(Answer.question_key == key))


def _refused(participant, values) -> dict[str, str]:
    with pytest.raises(responses.AnswerRejected) as refused:
        responses.save_answers(participant, values)
    db.session.rollback()
    return refused.value.problems


def test_a_5_mb_short_answer_is_refused_and_the_saved_answer_kept(ctx):
    responses.save_answers(ctx, {"role": "Team manager"})
    db.session.commit()
    problems = _refused(ctx, {"role": "x" * 5_000_000})
    assert problems["role"] == "Use no more than 500 characters."
    assert _stored("role") == "Team manager"


@pytest.mark.parametrize(("key", "limit", "value"), [
    ("role", 500, lambda text: text),
    ("aims", 100_000, lambda text: text),
    ("aims_themes", 500, lambda text: {"choices": ["SAFEGUARDING"], "other": text}),
])
def test_each_type_takes_its_limit_and_not_one_character_more(ctx, key, limit, value):
    responses.save_answers(ctx, {key: value("ŵ" * limit)})
    db.session.commit()
    assert _refused(ctx, {key: value("ŵ" * (limit + 1))})[key] == f"Use no more than {limit} characters."
    assert _stored(key) == value("ŵ" * limit)


def test_characters_are_counted_as_seen_after_nfc(ctx):
    decomposed = "w\u0302" * 500  # 1,000 code points as typed, 500 letters ŵ as seen
    responses.save_answers(ctx, {"role": decomposed})
    db.session.commit()
    assert _stored("role") == "ŵ" * 500 == unicodedata.normalize("NFC", decomposed)


def test_a_refused_answer_saves_nothing_of_its_batch(ctx):
    assert set(_refused(ctx, {"role": "Team manager", "aims": "Fine", "front_door_name": "y" * 501})) \
        == {"front_door_name"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0


@pytest.mark.parametrize("name", CONTROLS)
@pytest.mark.parametrize("key", ["role", "aims", "aims_themes"])
def test_control_characters_are_refused_with_a_message(ctx, key, name):
    text = f"Before{CONTROLS[name]}after"
    value = {"choices": [], "other": text} if key == "aims_themes" else text
    message = _refused(ctx, {key: value})[key]
    assert "control character" in message and "U+" in message
    assert _stored(key) is None


def test_long_text_keeps_line_breaks_and_tabs_short_text_is_one_line(ctx):
    responses.save_answers(ctx, {"aims": "One\r\n\tTwo\rThree"})
    db.session.commit()
    assert _stored("aims") == "One\n\tTwo\nThree"
    assert "one line" in _refused(ctx, {"role": "Team\nmanager"})["role"]


@pytest.mark.parametrize("name", INVISIBLE)
def test_an_answer_of_invisible_characters_is_stored_as_empty(ctx, name):
    responses.save_answers(ctx, {"role": INVISIBLE[name], "aims": "Real words",
                                 "aims_themes": {"choices": ["SAFEGUARDING"], "other": INVISIBLE[name]}})
    db.session.commit()
    assert _stored("role") is None
    assert _stored("aims_themes") == {"choices": ["SAFEGUARDING"], "other": ""}
    assert "role" not in responses.saved_answers(ctx)
    # and typing one over a saved answer clears it
    responses.save_answers(ctx, {"aims": INVISIBLE[name], "aims_themes": {"choices": [], "other": INVISIBLE[name]}})
    db.session.commit()
    assert _stored("aims") is None and _stored("aims_themes") is None


def test_visible_text_with_invisible_characters_counts(ctx):
    assert not is_blank("\u200bA\u200b") and not is_blank("·") and not is_blank("🏴")
    responses.save_answers(ctx, {"role": "\u00a0Rheolwr\u200d"})
    db.session.commit()
    assert _stored("role") == "\u00a0Rheolwr\u200d"


def test_an_invisible_answer_stored_before_the_rule_is_not_an_answer(ctx):
    responses.save_answers(ctx, {"aims": "Real words"})
    response = db.session.scalar(sa.select(Response))
    db.session.add(Answer(response=response, question_key="role", value="\u200b"))  # as stored before
    db.session.commit()
    assert "role" not in responses.saved_answers(ctx) and "aims" in responses.saved_answers(ctx)


@pytest.mark.parametrize(("key", "value"), [
    ("referrals_children_per_year", 10**20),
    ("referrals_children_per_year", -1),
    ("referrals_children_per_year", True),
    ("referrals_children_per_year", "12"),
    ("referrals_children_per_year", 1.5),
    ("team_size_fte", float("nan")),
    ("team_size_fte", 5.555),
    ("la_code", "NOT_A_CODE"),
    ("aims_themes", {"choices": ["SAFEGUARDING"], "other": "x", "extra": 1}),
    ("aims", ["a", "list"]),
    ("aims_themes", {"choices": [], "other": 5}),
    ("aims_themes", {"choices": "SAFEGUARDING"}),
])
def test_values_a_question_cannot_take_are_refused(ctx, key, value):
    assert _refused(ctx, {key: value})[key]


def test_numbers_without_bounds_stay_within_the_platform_bound():
    number = _question(type="integer")
    assert answer_problem(number, NUMBER_LIMIT) is None
    assert answer_problem(number, NUMBER_LIMIT + 1) is not None
    assert answer_problem(number, -NUMBER_LIMIT - 1) is not None


def test_the_message_is_in_the_participants_language(ctx):
    problems = _refused(ctx, {"role": "x" * 501})
    with force_locale("cy"):
        assert str(problems["role"]) == "Peidiwch â defnyddio mwy na 500 nod."
    with force_locale("en"):
        assert str(problems["role"]) == "Use no more than 500 characters."


def test_submit_refuses_an_answer_over_its_limit_stored_before_limits(ctx):
    responses.save_answers(ctx, {"aims": "Real words"})
    response = db.session.scalar(sa.select(Response))
    db.session.add(Answer(response=response, question_key="role", value="x" * 600))  # as stored before
    db.session.commit()
    with pytest.raises(responses.AnswerRejected) as refused:
        responses.submit(ctx)
    db.session.rollback()
    assert set(refused.value.problems) == {"role"}
    assert db.session.scalar(sa.select(Response.submitted_at)) is None
    assert db.session.get(Participant, ctx.id).reference is None


# -- the pages -----------------------------------------------------------------------------------

@pytest.fixture
def on_section_1(browser, study):
    token = browser.start(study, "en")
    browser.consent(token, study)
    browser.get(f"/p/{token}/section/1")
    return token


def _autosave(browser, key, value, **fields):
    """What the page's script sends: the page's hidden fields, the CSRF token and one answer."""
    url = AUTOSAVE_RE.search(browser.page).group(1)
    data = {**dict(HIDDEN_RE.findall(browser.page)), "csrf_token": browser.csrf(), "_question": key,
            key: value, **fields}
    return browser.client.post(url, data=data)


def _answer(app, key):
    with app.app_context():
        return db.session.scalar(sa.select(Answer.value).where(Answer.question_key == key))


def test_the_boxes_say_their_limits(browser, on_section_1):
    assert re.search(r'<input [^>]*id="role"[^>]*maxlength="500"', browser.page)
    browser.get(f"/p/{on_section_1}/section/2")
    assert re.search(r'<textarea [^>]*id="aims"[^>]*maxlength="100000"', browser.page)
    assert re.search(r'<input [^>]*id="aims_themes__other"[^>]*maxlength="500"', browser.page)
    browser.get(f"/p/{on_section_1}/section/3")
    assert re.search(r'<input [^>]*id="referrals_children_per_year"[^>]*maxlength="40"', browser.page)


def test_autosaving_5_mb_into_a_short_answer_is_refused_and_keeps_the_saved_one(app, browser, on_section_1):
    assert _autosave(browser, "role", "Team manager").get_json()["status"] == "saved"
    response = _autosave(browser, "role", "x" * 5_000_000)
    assert response.status_code == 400
    assert response.get_json() == {"status": "invalid", "message": "Use no more than 500 characters."}
    assert _answer(app, "role") == "Team manager"


def test_a_too_long_other_text_is_refused_at_autosave(app, browser, on_section_1):
    browser.get(f"/p/{on_section_1}/section/2")
    response = _autosave(browser, "aims_themes", "_other", aims_themes__other="y" * 501)
    assert response.status_code == 400 and response.get_json()["status"] == "invalid"
    assert _answer(app, "aims_themes") is None


@pytest.mark.parametrize("key", ["role", "agency"])
def test_a_nul_byte_gets_a_message_never_a_500(app, browser, on_section_1, key):
    response = _autosave(browser, key, "Team\x00manager")
    assert response.status_code == 400 and response.get_json()["status"] == "invalid"
    response = browser.post(f"/p/{on_section_1}/section/1", {key: "Team\x00manager", "action": "later"})
    assert response.status_code == 400
    assert _answer(app, key) is None


def test_saving_the_page_with_an_answer_too_long_keeps_the_saved_one(app, browser, on_section_1):
    browser.post(f"/p/{on_section_1}/section/1", {"role": "Team manager", "action": "later"})
    response = browser.post(f"/p/{on_section_1}/section/1", {"role": "z" * 501, "action": "later"})
    assert response.status_code == 400
    assert "Use no more than 500 characters." in response.get_data(as_text=True)
    assert _answer(app, "role") == "Team manager"


def test_a_zero_width_space_does_not_answer_a_required_question(app, browser, on_section_1):
    response = browser.post(f"/p/{on_section_1}/section/1", {"role": "\u200b", "action": "later"})
    assert response.status_code == 302
    assert _answer(app, "role") is None
    page = browser.get(f"/p/{on_section_1}/review").get_data(as_text=True)
    assert "#q-role" in page  # listed as still to answer


def test_submitting_an_answer_stored_before_limits_names_it_on_the_review_page(app, browser, study):
    token = browser.start(study, "en")
    browser.consent(token, study)
    browser.post("/survey/section/1", {"role": "Team manager", "la_code": "GWN",
                                       "service_area": "children", "action": "next"})
    with app.app_context():  # as an older version of the app, with no limit, could have kept it
        db.session.execute(sa.update(Answer).where(Answer.question_key == "role").values(value="r" * 600))
        db.session.commit()
    browser.get("/survey/review")
    response = browser.post("/survey/review", {}, fetch=False)
    assert response.status_code == 400
    assert re.search(r'href="/survey/section/1\?return=review#q-role"', browser.page)
    assert "500" in browser.page  # the limit, in the message
    with app.app_context():
        assert db.session.scalar(sa.select(Response.submitted_at)) is None
        assert db.session.scalar(sa.select(Answer.value).where(Answer.question_key == "role")) == "r" * 600
