"""The consent gate lives in the service layer: no view can get round it."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from surveyapp.consent.services import record_consent, require_consent
from surveyapp.db import db
from surveyapp.errors import ConsentRequired
from surveyapp.instruments.loader import content_hash
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.participant.services import create_participant, find_by_token
from surveyapp.responses import services as responses
from surveyapp.responses.models import Answer
from surveyapp.studies.models import Study


def _all_required(study: Study, agree: bool = True) -> dict[str, bool]:
    return {item.id: agree or not item.required for item in study.consent_form.as_consent_form().items}


def _count_answers() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Answer))


@pytest.fixture
def ctx(app, study):
    with app.app_context():
        yield db.session.get(Study, study.id)


def test_no_consent_no_answer(ctx):
    participant, _ = create_participant(ctx, source="open", language="en")
    with pytest.raises(ConsentRequired):
        responses.save_answers(participant, {"aims": "x"})
    assert _count_answers() == 0


def test_refusal_is_recorded_and_blocks_answers(ctx):
    participant, _ = create_participant(ctx, source="open", language="cy")
    agreed = _all_required(ctx)
    agreed["limits_of_confidentiality"] = False
    record = record_consent(participant, agreed, language="cy")
    assert record.given is False and participant.status == "refused"
    with pytest.raises(ConsentRequired):
        responses.save_answers(participant, {"aims": "x"})
    with pytest.raises(ConsentRequired):
        responses.submit(participant)
    assert _count_answers() == 0


def test_consent_opens_the_gate(ctx):
    participant, _ = create_participant(ctx, source="open", language="en")
    record_consent(participant, _all_required(ctx), language="en")
    responses.save_answers(participant, {"aims": "Protect people"})
    db.session.commit()
    assert _count_answers() == 1
    assert require_consent(participant).given


def test_consent_to_an_older_form_version_is_not_enough(ctx):
    participant, _ = create_participant(ctx, source="open", language="en")
    record_consent(participant, _all_required(ctx), language="en")
    responses.save_answers(participant, {"aims": "First"})

    old = ctx.consent_form
    content = copy.deepcopy(old.content)
    content["version"] = old.version + 1
    content["items"][0]["text"]["en"] += " (revised)"
    new = InstrumentVersion(kind=old.kind, key=old.key, version=old.version + 1,
                            content=content, content_hash=content_hash(content))
    db.session.add(new)
    ctx.consent_form = new
    db.session.flush()

    with pytest.raises(ConsentRequired):
        responses.save_answers(participant, {"aims": "Second"})
    record_consent(participant, _all_required(ctx), language="en")
    responses.save_answers(participant, {"aims": "Second"})
    assert responses.saved_answers(participant)["aims"] == "Second"


def test_text_is_nfc_normalised(ctx):
    participant, _ = create_participant(ctx, source="open", language="cy")
    record_consent(participant, _all_required(ctx), language="cy")
    decomposed = "w\u0302 y\u0302"  # ŵ ŷ typed as letter + combining circumflex
    responses.save_answers(participant, {"aims": decomposed})
    assert responses.saved_answers(participant)["aims"] == "ŵ ŷ"


def test_unknown_question_is_refused_and_nothing_written(ctx):
    from surveyapp.errors import DomainError

    participant, _ = create_participant(ctx, source="open", language="en")
    record_consent(participant, _all_required(ctx), language="en")
    with pytest.raises(DomainError):
        responses.save_answers(participant, {"aims": "ok", "no_such_question": "x"})
    assert _count_answers() == 0


# A request reads the participant with their latest consent record in one statement
# (participant.services), and the gate answers from that for the rest of the transaction.
# The gate still refuses, whichever way the participant was read.

def test_read_with_the_participant_no_consent_still_refuses(ctx):
    participant, token = create_participant(ctx, source="open", language="en")
    db.session.commit()
    loaded = find_by_token(token)
    with pytest.raises(ConsentRequired):
        responses.save_answers(loaded, {"aims": "x"})
    assert _count_answers() == 0


def test_read_with_the_participant_a_refusal_still_refuses(ctx):
    participant, token = create_participant(ctx, source="open", language="cy")
    agreed = _all_required(ctx)
    agreed["limits_of_confidentiality"] = False
    record_consent(participant, agreed, language="cy")
    db.session.commit()
    loaded = find_by_token(token)
    with pytest.raises(ConsentRequired):
        responses.save_answers(loaded, {"aims": "x"})
    assert _count_answers() == 0


def test_consent_rolled_back_does_not_open_the_gate(ctx):
    participant, token = create_participant(ctx, source="open", language="en")
    db.session.commit()
    record_consent(participant, _all_required(ctx), language="en")
    assert require_consent(participant).given  # remembered for this transaction...
    db.session.rollback()  # ...which is undone
    with pytest.raises(ConsentRequired):
        responses.save_answers(participant, {"aims": "x"})
    with pytest.raises(ConsentRequired):
        responses.save_answers(find_by_token(token), {"aims": "x"})
    assert _count_answers() == 0
