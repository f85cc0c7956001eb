"""Splitting a transcript into per-question answers (issue 12, point 3), and reading uploads."""

from __future__ import annotations

import io
import random
import zipfile

import docx
import pytest
from flask_babel import force_locale

from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.instruments.loader import read_instrument
from surveyapp.instruments.model import Survey
from surveyapp.interviews import docx_text as docx_module
from surveyapp.interviews.transcript import (
    ANSWER,
    HEADING,
    UNPLACED,
    TranscriptRefused,
    normalise_newlines,
    question_numbers,
    read_transcript,
    split_transcript,
)

SCHEDULE = INSTRUMENTS_DIR / "phase1-front-door" / "2.yaml"


@pytest.fixture(scope="module")
def survey() -> Survey:
    return Survey(read_instrument(SCHEDULE).text_content)


def answer_for(key: str, language: str) -> str:
    interviewer = "Cyfwelydd" if language == "cy" else "Interviewer"
    return f"{interviewer}: and {key}?\nP1: About {key}, ŵ ŷ â.\n\nP1: Still {key}."


def joined(split) -> str:
    return "".join(p.text for p in split.pieces)


@pytest.mark.parametrize("language", ["en", "cy"])
def test_question_text_headings_split_into_the_right_questions(survey, language):
    text = "\n".join(f"{q.text[language]}\n{answer_for(key, language)}\n" for key, q in survey.questions.items())
    for limit in (language, None):
        split = split_transcript(text, survey, language=limit)
        assert split.answers == {key: answer_for(key, language) for key in survey.questions}
        assert split.unplaced == ""
        assert joined(split) == text
        assert [p.key for p in split.pieces if p.kind == HEADING] == list(survey.questions)


def test_headings_may_be_shortened_restyled_or_numbered_by_text(survey):
    text = ("**WHAT IS YOUR JOB TITLE**\nP1: Manager\n"
            "3. who does the arrangement cover\nP1: Both\n"
            "## Which of these are aims of your ‘Front Door’?\nP1: All\n"  # first sentence, curly quotes
            "What are the aims of your Front Door safeguarding\nP1: Safety\n"  # the first words only
            "Pwy sydd yn y tim:\nP1: Tîm\n")  # Welsh, no circumflex
    split = split_transcript(text, survey)
    assert split.answers == {"role": "P1: Manager", "service_area": "P1: Both", "aims_themes": "P1: All",
                             "aims": "P1: Safety", "team_makeup": "P1: Tîm"}


def test_welsh_texts_are_not_headings_when_english_is_asked_for(survey):
    text = "What is your job title?\nManager\nBeth yw teitl eich swydd?\nRheolwr\n"
    in_english = split_transcript(text, survey, language="en")
    assert in_english.answers == {"role": "Manager\nBeth yw teitl eich swydd?\nRheolwr"}
    assert split_transcript(text, survey, language="cy").answers == {"role": "Rheolwr"}
    with pytest.raises(ValueError):
        split_transcript(text, survey, language="fr")


def test_numbered_headings(survey):
    numbers = question_numbers(survey)
    assert numbers[1] == "role" and numbers[3] == "service_area" and len(numbers) == len(survey.questions)
    text = ("Q1\nManager\n"
            "Cwestiwn 2\nCaerdydd\n"
            "Question 3: the schedule's words, shortened\nBoth\n"
            "q.4 -\nSocial services\n"
            "5.\nTo keep people safe\n"
            "6)\nAll of them\n"
            "CWESTIWN 44\nDim byd arall\n")
    split = split_transcript(text, survey)
    assert split.answers == {"role": "Manager", "la_code": "Caerdydd", "service_area": "Both",
                             "agency": "Social services", "aims": "To keep people safe", "aims_themes": "All of them",
                             "anything_else": "Dim byd arall"}
    assert split.unplaced == ""


def test_answer_lines_that_look_like_headings_stay_in_the_answer(survey):
    answer = ("1. We have a MASH\n2. It works\n15\n18.5 FTE\nQ: What is your job title?\n"
              "Interviewer: What is your job title?\nWhich of these are\nWhat is your job\nQuality matters\n"
              "Does your 'Front Door' deal")
    split = split_transcript(f"Q1\n{answer}\n", survey)
    assert split.answers == {"role": answer}
    assert [p.kind for p in split.pieces] == [HEADING, ANSWER]


def test_extra_text_before_between_and_after_keeps_every_character(survey):
    text = ("Transcript, LA 7, 3 March\r\n\r\nPresent: two leads\r"
            "Q1\r\nP1: Manager\r\n\r\n  (laughs)  \r\n"
            "Q99\r\nTalk about the weather\r\n"
            "What is your job title?\nP1: Still a manager\n"
            "Q2\nP2: Cardiff\n\nEnd of recording.\n\n\n   ")
    split = split_transcript(text, survey)
    assert joined(split) == normalise_newlines(text)
    assert "\r" not in joined(split)
    assert split.unplaced == "Transcript, LA 7, 3 March\n\nPresent: two leads\n\nQ99\nTalk about the weather"
    assert split.answers == {"role": "P1: Manager\n\n  (laughs)\n\nP1: Still a manager",
                             "la_code": "P2: Cardiff\n\nEnd of recording."}
    assert [(p.kind, p.key) for p in split.pieces] == [
        (UNPLACED, None), (HEADING, "role"), (ANSWER, "role"), (HEADING, None), (UNPLACED, None),
        (HEADING, "role"), (ANSWER, "role"), (HEADING, "la_code"), (ANSWER, "la_code")]


def test_duplicate_heading_appends_the_second_block(survey):
    text = "Q1\nfirst part\nQ2\nCardiff\nWhat is your job title?\nsecond part\nQ1\n\nQ1\nthird part"
    split = split_transcript(text, survey)
    assert split.answers["role"] == "first part\n\nsecond part\n\nthird part"
    assert split.answers["la_code"] == "Cardiff"


def test_a_heading_with_nothing_under_it_is_found_and_empty(survey):
    assert split_transcript("Q1\nQ2\nCardiff", survey).answers == {"role": "", "la_code": "Cardiff"}
    assert split_transcript("", survey).pieces == []


def test_random_text_never_loses_a_character(survey):
    rng = random.Random(20261202)
    questions = list(survey.questions.values())
    fragments = ["\n", "\r\n", "\r", " ", "\t", "  ", ":", "?", ".", ")", "*", "#", "Q", "Q1", "q 12", "Question 3",
                 "Cwestiwn 4", "99.", "3.", "7)", "P1:", "Cyfwelydd:", "Interviewer:", "ŵ", "ŷ", "â", "w\u0302",
                 "\u2028", "\x0b", "\x00", "\u202e", "\ufeff", "é", "🙂", "yes", "na", "MASH", "Front Door"]
    for _ in range(400):
        parts = []
        for _ in range(rng.randrange(0, 40)):
            roll = rng.random()
            if roll < 0.15:
                q = rng.choice(questions)
                parts.append(q.text[rng.choice(["en", "cy"])] + rng.choice(["\n", "\r\n", "\r", ""]))
            else:
                parts.append(rng.choice(fragments))
        text = "".join(parts)
        split = split_transcript(text, survey, language=rng.choice([None, "en", "cy"]))
        assert joined(split) == text.replace("\r\n", "\n").replace("\r", "\n"), repr(text)
        for piece in split.pieces:  # and every placed line is in the answer or unplaced text shown
            lines = [line for line in piece.text.split("\n") if line.strip()]
            shown = split.unplaced if piece.kind == UNPLACED or piece.key is None else split.answers[piece.key]
            if piece.kind != HEADING or piece.key is None:
                assert all(line.rstrip() in shown for line in lines), repr(text)


# Reading uploads


def docx_bytes(build) -> bytes:
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_reads_back_paragraphs_and_tables_in_order(survey):
    def build(document):
        document.add_heading("Cyfweliad ALl 3", level=1)
        document.add_paragraph("Q1")
        document.add_paragraph("Cyfwelydd: Beth yw teitl eich swydd?")
        document.add_paragraph("P1: Rheolwr gwasanaeth, ŵ ŷ â")
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text = "Q2"
        table.cell(0, 1).text = "Caerdydd"
        merged = table.cell(1, 0).merge(table.cell(1, 1))
        merged.text = "Q3"
        document.add_paragraph("Y ddau\tplant ac oedolion")

    text = read_transcript("Cyfweliad.DOCX", docx_bytes(build))
    assert text == ("Cyfweliad ALl 3\nQ1\nCyfwelydd: Beth yw teitl eich swydd?\nP1: Rheolwr gwasanaeth, ŵ ŷ â\n"
                    "Q2\nCaerdydd\nQ3\nY ddau\tplant ac oedolion")
    split = split_transcript(text, survey)
    assert split.answers == {"role": "Cyfwelydd: Beth yw teitl eich swydd?\nP1: Rheolwr gwasanaeth, ŵ ŷ â",
                             "la_code": "Caerdydd", "service_area": "Y ddau\tplant ac oedolion"}
    assert split.unplaced == "Cyfweliad ALl 3"


def test_txt_in_utf8_with_or_without_bom_keeps_welsh_letters():
    text = "Q1\r\nP1: Rheolwr, ŵ ŷ â Ŵ Ŷ Â\r\n"
    assert read_transcript("t.txt", text.encode()) == "Q1\nP1: Rheolwr, ŵ ŷ â Ŵ Ŷ Â\n"
    assert read_transcript("t.TXT", b"\xef\xbb\xbf" + text.encode()) == "Q1\nP1: Rheolwr, ŵ ŷ â Ŵ Ŷ Â\n"
    assert read_transcript("t.txt", "w\u0302y\u0302a\u0302".encode()) == "ŵŷâ"  # typed as letter + accent: NFC


def refusal(filename: str, data: bytes) -> TranscriptRefused:
    with pytest.raises(TranscriptRefused) as caught:
        read_transcript(filename, data)
    return caught.value


def test_latin1_txt_is_refused_naming_the_problem():
    refused = refusal("t.txt", "P1: Rheolwr, café, â\n".encode("latin-1"))
    assert refused.code == "not_utf8"
    assert refused.message == ("This text file is not saved as UTF-8, so its letters cannot be read reliably "
                               "(byte 17 is not UTF-8). Save it again as UTF-8 text and upload it again.")
    assert refusal("t.txt", "Q1".encode("utf-16")).code == "not_utf8"


def test_other_uploads_are_refused(monkeypatch):
    assert refusal("t.pdf", b"%PDF-1.7").code == "file_type"
    assert refusal("transcript", b"Q1").code == "file_type"
    assert refusal("t.txt", b"Q1\n" + b"x" * (5 * 1024 * 1024)).code == "too_large"
    assert refusal("t.docx", b"Q1 not a zip").code == "not_docx"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("hello.txt", "not a Word document")
    assert refusal("t.docx", zipped.getvalue()).code == "not_docx"
    refused = refusal("t.txt", b"P1: yes\x00")
    assert (refused.code, refused.params) == ("control_character", {"code": "U+0000"})
    assert "U+0000" in refused.message
    assert refusal("t.txt", b" \r\n\t").code == "no_text"
    small = docx_bytes(lambda d: d.add_paragraph("Q1"))
    monkeypatch.setattr(docx_module, "MAX_UNPACKED_BYTES", 1000)  # a zip bomb, in miniature
    assert refusal("t.docx", small).code == "too_large"


def test_bidi_controls_are_kept_as_in_any_long_answer():
    assert read_transcript("t.txt", "P1: \u202ename\u202c".encode()) == "P1: \u202ename\u202c"


def test_the_stored_survey_version_splits_the_same(study):
    text = "Q1\nManager\nPa awdurdod lleol rydych chi'n ei gynrychioli?\nCaerdydd"
    assert split_transcript(text, study.survey).answers == {"role": "Manager", "la_code": "Caerdydd"}


def test_a_refusal_reads_in_welsh(app):
    with app.test_request_context(), force_locale("cy"):
        message = refusal("t.txt", "café".encode("latin-1")).message
    assert message.startswith("Nid yw'r ffeil destun hon wedi'i chadw fel UTF-8")
