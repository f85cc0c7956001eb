"""A section shown for reading is built without a WTForms form (``forms.ShownSection``); it must
be the very page the section's form gives: same ids, labels, values, aria attributes."""

from __future__ import annotations

import pytest
from flask import g

from surveyapp.participant import services
from surveyapp.participant.forms import ShownSection, form_data_for, section_form_class
from surveyapp.participant.survey_pages import _render_section
from surveyapp.responses import services as responses


def _answer_everything(survey) -> dict:
    """An answer of every kind to most questions (every third left empty), with text that
    needs escaping, Welsh characters, and stored white space a one-line box folds."""
    answers = {}
    for index, question in enumerate(survey.questions.values()):
        if index % 3 == 2:
            continue
        codes = [o.code for o in question.options]
        answers[question.key] = {
            "short_text": "  Tîm ‘Drws Ffrynt’ <b>&amp;</b>  ",
            "long_text": "Llinell un & <i>dau</i>\n\n  Line \"three\"\twith a tab",
            "integer": 2500,
            "decimal": 5.5,
            "single_choice": codes[-1] if codes else None,
            "multiple_choice": {"choices": codes[:2], "other": "Rhywbeth arall <b>" if question.other else ""},
        }[question.type]
    return answers


@pytest.mark.parametrize("language", ["cy", "en"])
def test_a_shown_section_is_the_page_its_form_gives(app, browser, study, language):
    token = browser.start(study, language)
    browser.consent(token, study)
    with app.test_request_context("/survey/section/1"):
        g.participant, g.token = services.find_by_token(token), token
        survey = responses.survey_for(g.participant)
        answers = _answer_everything(survey)
        for number, section in enumerate(survey.sections, start=1):
            for saved in (answers, {}):
                data = form_data_for(section, saved)
                prefilled = {section.questions[0].key: "x"}
                args = (survey, section, number)
                from_form = _render_section(*args, section_form_class(section)(data=data), saved, {},
                                            prefilled=prefilled)
                shown = _render_section(*args, ShownSection(section, data), saved, {}, prefilled=prefilled)
                assert shown == from_form, f"section {number}"
                assert 'aria-describedby="None"' not in shown
