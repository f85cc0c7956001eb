"""Keyboard-only driving and database read-back for the browser tests."""

from __future__ import annotations

import re

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.participant.services import hash_token
from surveyapp.responses.models import Answer, Response

MAX_TABS = 300


def tab_to(page, selector: str) -> None:
    """Press Tab until the focused element matches ``selector`` (as a keyboard user would)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"could not reach {selector} with the Tab key")


def activate(page, selector: str, key: str = "Enter") -> None:
    """Tab to a link or button and press a key on it, waiting for the page it opens."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press(key)


def token_of(page) -> str:
    """The personal token, read from the personal link the page shows (no address holds it)."""
    assert "/p/" not in page.url, page.url
    match = re.search(r"/p/([^/?#]+)$", page.inner_text(".personal-link__url"))
    assert match, page.url
    return match.group(1)


def stored_answers(app, token: str) -> dict:
    with app.app_context():
        participant = db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))
        rows = db.session.scalars(
            sa.select(Answer).join(Response).where(Response.participant_id == participant.id))
        return {a.question_key: a.value for a in rows}


def participant_of(app, token: str) -> Participant:
    with app.app_context():
        participant = db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))
        db.session.expunge(participant)
        return participant


SAVED = r"^(Saved|Wedi'i gadw am) \d\d:\d\d$"


def wait_saved(page, key: str | None = None) -> None:
    """Until the page says a save went through: beside the question (``key``, or any), where
    the status stays; the live region's "saved" leaves the screen after a few seconds."""
    where = f'[data-question="{key}"] [data-field-status]' if key else "[data-field-status]"
    page.wait_for_function(
        "([pattern, where]) => Array.from(document.querySelectorAll(where))"
        ".some((el) => new RegExp(pattern).test(el.textContent))", arg=[SAVED, where])


def start_consented(page, base_url: str, study, language: str = "en") -> str:
    """Reach section 1 quickly (by mouse); the keyboard journey is tested on its own."""
    page.goto(f"{base_url}/s/{study.slug}")
    page.click(f"button[value={language}]")
    page.wait_for_url("**/survey/information")
    token = token_of(page)
    page.goto(page.url.replace("/information", "/consent"))
    for item in study.consent_form.items:
        if item.required:
            page.check(f"#item_{item.id}")
    page.click("button[name=consent]")
    page.wait_for_url("**/section/1")
    return token
