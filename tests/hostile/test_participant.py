"""Every payload into every participant form, in English and Welsh: the open link's language
choice, an invited participant's first choice, consent, every kind of question on a section
page, autosave, and "email me my link". Each participant is reached as a person reaches them
(the open link, then the pages' own forms and redirects), so the cases hold whether the pages
live under /p/<token>/... or a session's /survey/...; answers are read back from the database."""

from __future__ import annotations

import re

import pytest

from .kit import FEW, LANGUAGES, PAYLOADS, email_with, join, multi_line, one_line, row, stored_answer

pytestmark = pytest.mark.parametrize("language", LANGUAGES)
payloads = pytest.mark.parametrize("payload", PAYLOADS, ids=[p.id for p in PAYLOADS])
few = pytest.mark.parametrize("payload", FEW, ids=[p.id for p in FEW])

# What is posted, to which section, and what is stored: "line" and "text" are stored cleaned
# (one line, or multi-line text); "other" is the multiple-choice "please say" box; a number or
# a choice code takes none of the payloads.
SECTION = {
    "short-text": (1, "role", "line"),
    "single-choice": (1, "la_code", "choice"),
    "long-text": (2, "aims", "text"),
    "other-box": (2, "aims_themes__other", "other"),
    "multiple-choice": (2, "aims_themes", "choice"),
    "integer": (3, "referrals_children_per_year", "number"),
    "decimal": (3, "team_size_fte", "number"),
}
WARM = {1: {"role": "Warm"}, 2: {"aims": "Warm", "aims_themes": "_other", "aims_themes__other": "Warm"},
        3: {"front_door_name": "Warm", "referrals_children_per_year": "5", "team_size_fte": "2.5"}}
LONG_TEXT_SECTIONS = {2, 3}  # their pages show long answers back, bidi controls and all


def targets(*names: str):
    """Every payload into a free-text target; one of each family into a number or a choice."""
    cases = [(t, p) for t in names for p in (PAYLOADS if SECTION[t][2] in ("line", "text", "other") else FEW)]
    return pytest.mark.parametrize(("target", "payload"), cases, ids=[f"{t}-{p.id}" for t, p in cases])


@pytest.fixture(scope="module")
def people(world):
    """Participants shared by a module's cases, one set per language, made on first use."""
    made = {}

    def person(kind: str, language: str):
        if (kind, language) not in made:
            participant = join(world.app, world.slug, language, consent=kind != "unconsented")
            if kind == "answering":
                for number, data in WARM.items():  # every answer a case may change exists already
                    response = participant.visitor.submit(participant.url(f"/section/{number}"),
                                                          {**data, "action": "later"}, form_id="survey-form")
                    assert response.status_code == 302, response.status_code
            made[kind, language] = participant
        return made[kind, language]

    return person


def _stored_key(field: str) -> str:
    return field.removesuffix("__other")


def _expected(kind: str, value: str):
    if kind == "line":
        return one_line(value)
    if kind == "text":
        return multi_line(value)
    return {"choices": [], "other": one_line(value)}


def _refused(payload, kind: str) -> bool:
    return payload.refuse_text if kind == "text" else payload.refuse_line if kind in ("line", "other") else True


@targets(*SECTION)
def test_section_page(world, people, language, payload, target):
    number, field, kind = SECTION[target]
    participant = people("answering", language)
    key = _stored_key(field)
    data = {field: payload.value, "action": "later"}
    if kind == "other":
        data["aims_themes"] = "_other"
    before, old = world.audit.counts(), stored_answer(world.app, participant.id, key)
    response = participant.visitor.submit(participant.url(f"/section/{number}"), data, form_id="survey-form")
    answer = world.check(participant.visitor.client, response, language, allowed={302, 400, 413},
                         bidi_may_show=number in LONG_TEXT_SECTIONS)
    world.settle(before)
    now = stored_answer(world.app, participant.id, key)
    if answer.status == 302:
        assert not _refused(payload, kind), f"stored {now!r}, which must be refused"
        assert now == _expected(kind, payload.value)
    else:
        assert now == old


def _autosave(participant, number: int, data: dict):
    visitor = participant.visitor
    visitor.open(participant.url(f"/section/{number}"))
    form = visitor.form("survey-form")
    return visitor.client.post(form["attrs"]["data-autosave-url"], data={**form["hidden"], **data})


@targets("short-text", "long-text", "other-box", "integer")
def test_autosave(world, people, language, payload, target):
    number, field, kind = SECTION[target]
    participant = people("answering", language)
    key = _stored_key(field)
    data = {"_question": key, field: payload.value}
    if kind == "other":
        data["aims_themes"] = "_other"
    before, old = world.audit.counts(), stored_answer(world.app, participant.id, key)
    response = _autosave(participant, number, data)
    answer = world.check(participant.visitor.client, response, language, allowed={200, 400, 413},
                         bidi_may_show=kind == "text")
    world.settle(before)
    now = stored_answer(world.app, participant.id, key)
    if answer.status == 200:
        assert answer.json["status"] == "saved", answer.json
        assert not _refused(payload, kind), f"stored {now!r}, which must be refused"
        assert now == _expected(kind, payload.value)
    else:
        assert now == old


@few
@pytest.mark.parametrize("part", ["question", "revision"])
def test_autosave_bookkeeping(world, people, language, payload, part):
    """The hidden fields autosave sends (which question, which revision) hold the payload."""
    participant = people("answering", language)
    uid = world.next_uid()
    if part == "question":
        data = {"_question": payload.value, payload.value: "text"}
    else:
        data = {"_question": "role", "role": f"Role {uid}", "_rev_role": payload.value}
    before, old = world.audit.counts(), stored_answer(world.app, participant.id, "role")
    response = _autosave(participant, 1, data)
    answer = world.check(participant.visitor.client, response, language, allowed={200, 400, 409})
    world.settle(before)
    assert stored_answer(world.app, participant.id, "role") == (f"Role {uid}" if answer.status == 200 else old)


@payloads
def test_email_me_my_link(world, people, language, payload):
    participant = people("answering", language)
    address = email_with(payload, world.next_uid())
    before, sent = world.audit.counts(), len(world.smtp.handler.received)
    response = participant.visitor.submit(participant.url("/saved"), {"email": address})
    answer = world.check(participant.visitor.client, response, language, allowed={302, 400})
    world.settle(before, {"link_email": 1} if answer.status == 302 else {})
    arrived = world.smtp.handler.received[sent:]
    assert len(arrived) == (1 if answer.status == 302 else 0)
    for message in arrived:
        assert not payload.refuse_line
        assert not any("evil" in to for to in message.rcpt_tos), message.rcpt_tos
        assert message.rcpt_tos == (one_line(address).lower(),) or \
            [to.lower() for to in message.rcpt_tos] == [one_line(address).lower()]
        headers = message.raw.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"^(bcc|cc):", headers, re.I | re.M), headers


@few
def test_open_link_language(world, language, payload):
    visitor = world.visitor(language)
    before = world.audit.counts()
    response = visitor.submit(f"/s/{world.slug}", {"language": payload.value})
    world.check(visitor.client, response, language, allowed={200, 400})
    world.settle(before)


@few
def test_first_language_choice_from_an_invitation(world, language, payload):
    victim = world.victims[language]
    visitor = world.visitor(language)
    before = world.audit.counts()
    response = visitor.submit(f"/p/{victim['token']}", {"language": payload.value})
    world.check(visitor.client, response, language, allowed={200, 400})
    world.settle(before)
    assert row(world.app, "SELECT language FROM participant WHERE id = :i", i=victim["participant"]) == \
        {"language": None}


@few
def test_consent(world, people, language, payload):
    """Every box "ticked" with the payload instead of its own value."""
    participant = people("unconsented", language)
    visitor = participant.visitor
    visitor.open(participant.url("/consent"))
    boxes = dict.fromkeys(re.findall(r'name="(item_[^"]+)"', visitor.page), payload.value)
    assert boxes
    form = visitor.form()
    before = world.audit.counts()
    response = visitor.client.post(visitor.action(form), data={**form["hidden"], **boxes, "consent": "1"})
    answer = world.check(visitor.client, response, language, allowed={302, 400})
    accepted = answer.status == 302
    world.settle(before, {"consent_record": 1, "consent_item_answer": len(boxes), "audit_event": 1}
                 if accepted else {})
