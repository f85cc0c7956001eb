"""The consent register for ethics reviewers: one row per participant with a consent record,
the consent text as the participant saw it (in their language, from the stored version), the
version matrix, filters, downloads with their audit event, a fixed statement count per page,
and no way from a reviewer's session to any answer, export or invitation page."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
import sqlalchemy as sa
import yaml
from markupsafe import escape
from openpyxl import load_workbook

from surveyapp.audit import kinds
from surveyapp.audit.models import AuditEvent
from surveyapp.config import INSTRUMENTS_DIR
from surveyapp.db import db, utcnow
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.participant.models import Participant, ParticipantStatus
from surveyapp.responses.models import Answer
from surveyapp.studies.models import Study
from surveyapp.withdrawal.models import Channel, Outcome, Scope, Withdrawal
from tests.conftest import Browser
from tests.review.conftest import consent, nominees, rows, sign_in
from tests.sql_statements import Statements

V1 = yaml.safe_load((INSTRUMENTS_DIR / "phase1-consent" / "1.yaml").read_text("utf-8"))


def point_study_at(app, study, version: int) -> None:
    """Publish a consent-form version to the study, as a researcher changing study.yaml would."""
    with app.app_context():
        row = db.session.get(Study, study.id)
        row.consent_form = db.session.scalar(sa.select(InstrumentVersion).where(
            InstrumentVersion.key == "phase1-consent", InstrumentVersion.version == version))
        db.session.commit()


def withdraw(app, participant_id: int, scope: Scope = Scope.PARTICIPATION) -> None:
    with app.app_context():
        db.session.add(Withdrawal(participant_id=participant_id, scope=scope.value, channel=Channel.LINK.value,
                                  requested_at=utcnow(), outcome=Outcome.APPLIED.value))
        db.session.get(Participant, participant_id).status = ParticipantStatus.WITHDRAWN.value
        db.session.commit()


@pytest.fixture
def register(app, study, reviewer):
    """Four nominees and one open-link participant: consented (cy, Caerphilly), refused (verbal,
    Gwynedd), consented then withdrew (Swansea), never consented (not in the register), and an
    open-link participant who consented in English through the real pages."""
    sign_in(app, "researcher")
    ids = nominees(app, study, [("CAY", "children"), ("GWN", "adults"), ("SWA", "whole_area"), ("POW", "adults")])
    consent(app, ids[0], language="cy")
    consent(app, ids[1], given=False, recorded_by="researcher-en@example.org")
    consent(app, ids[2], optional=False)
    withdraw(app, ids[2])
    visitor = Browser(app)
    token = visitor.start(study, "en")
    assert visitor.consent(token, study).status_code == 302
    with app.app_context():
        open_id = db.session.scalar(sa.select(Participant.id).where(Participant.source == "open"))
    return {"cy": ids[0], "refused": ids[1], "withdrew": ids[2], "none": ids[3], "open": open_id}


def test_reviewer_sees_one_row_per_consent_record_with_its_status(register, reviewer):
    shown = rows(reviewer)
    assert shown == {register["cy"]: "consented", register["refused"]: "refused",
                     register["withdrew"]: "withdrew", register["open"]: "consented"}
    page = reviewer.page
    assert "Caerphilly" in page and "Gwynedd" in page and "Swansea" in page
    assert "(recorded by Researcher Prawf)" in page
    refused = re.search(rf'<tr data-participant="{register["refused"]}".*?</tr>', page, re.S).group(0)
    assert ">—</a>" in refused  # no participant ID for someone who did not consent
    opened = re.search(rf'<tr data-participant="{register["open"]}".*?</tr>', page, re.S).group(0)
    assert re.search(r"<td>—</td>", opened)  # an open-link participant has no local authority
    withdrew = re.search(rf'<tr data-participant="{register["withdrew"]}".*?</tr>', page, re.S).group(0)
    assert 'data-withdrawal="applied"' in withdrew and "No further participation" in unescape(withdrew)
    assert 'data-item="audio_recording" data-agreed="no"' in withdrew


def test_detail_page_shows_the_text_as_seen_in_its_language_and_the_history(app, register, reviewer):
    response = reviewer.get(f"/review/participants/{register['cy']}")
    assert response.status_code == 200
    with app.app_context():
        version = db.session.scalar(sa.select(InstrumentVersion).where(
            InstrumentVersion.key == "phase1-consent").order_by(InstrumentVersion.version.desc()))
        content = version.content
    block = re.search(r'<section class="consent-text" lang="(\w+)".*?</section>', reviewer.page, re.S)
    assert block.group(1) == "cy"
    for item in content["items"]:
        assert str(escape(item["text"]["cy"])) in block.group(0)
        assert str(escape(item["text"]["en"])) not in reviewer.page
    assert str(escape(content["title"]["cy"])) in block.group(0)
    assert '<li data-event="consent_given">' in reviewer.page


def test_a_new_version_leaves_v1_consenters_marked_v1_with_v1_welsh_text(app, study, reviewer):
    point_study_at(app, study, 1)
    first, second = nominees(app, study, [("CAY", "children"), ("RCT", "adults")])
    consent(app, first, language="cy")
    point_study_at(app, study, 2)
    consent(app, second, language="cy")
    assert rows(reviewer) == {first: "older_version", second: "consented"}
    assert "Consented to v1" in reviewer.page
    assert rows(reviewer, "?status=older_version") == {first: "older_version"}
    assert rows(reviewer, "?version=1") == {first: "older_version"}

    response = reviewer.get(f"/review/participants/{first}")
    assert response.status_code == 200
    block = re.search(r'<section class="consent-text" lang="cy".*?</section>', reviewer.page, re.S).group(0)
    for item in V1["items"]:
        assert f"<p>{escape(item['text']['cy'])}</p>" in block, item["id"]
    assert "(fersiwn 1)" in block and "(fersiwn 2)" not in block
    for paragraph in V1["intro"]["cy"].split("\n\n"):
        assert f"<p>{escape(paragraph.strip())}</p>" in block

    reviewer.get("/review/versions")
    assert 'id="older-count" data-count="1"' in reviewer.page
    assert 'data-column="v1-cy"' in reviewer.page and 'data-column="v2-cy"' in reviewer.page


@pytest.mark.parametrize(("query", "expected"), [
    ("?method=verbal_recorded_by_researcher", {"refused"}),
    ("?method=online", {"cy", "withdrew", "open"}),
    ("?language=cy", {"cy"}),
    ("?la=GWN", {"refused"}),
    ("?status=withdrew", {"withdrew"}),
    ("?status=refused", {"refused"}),
    ("?status=consented&language=en", {"open"}),
    ("?version=2", {"cy", "refused", "withdrew", "open"}),
    ("?version=1", set()),
    ("?la=XXX&status=nonsense&method=%3Cb%3E&page=abc&version=10000000000", {"cy", "refused", "withdrew", "open"}),
])
def test_each_filter_narrows_to_exactly_its_rows(register, reviewer, query, expected):
    assert set(rows(reviewer, query)) == {register[name] for name in expected}


def test_the_page_costs_the_same_statements_at_4_rows_and_at_60(app, study, register, reviewer):
    def cost() -> tuple[int, int]:
        with Statements(app) as statements:
            shown = rows(reviewer)
        return statements.count, len(shown)

    few, n = cost()
    assert n == 4
    for participant_id in nominees(app, study, [("CRF", "children")] * 56):
        consent(app, participant_id, language="en")
    many, n = cost()
    assert n == 50 and "Page 1 of 2" in reviewer.page
    assert many == few
    page_two = rows(reviewer, "?page=2")
    assert len(page_two) == 10


def _download_events(app) -> list[dict]:
    with app.app_context():
        return [e.details | {"actor": e.actor_id} for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.kind == kinds.EXPORT_MADE).order_by(AuditEvent.seq))]


def test_csv_and_xlsx_downloads_match_the_rows_and_are_audited(app, register, reviewer):
    with app.app_context():  # a name a spreadsheet would run as a formula
        db.session.execute(sa.text("update user_account set name = '=HYPERLINK(1)' where email like 'researcher%'"))
        db.session.commit()
    response = reviewer.client.get("/review/register.csv?status=refused&la=GWN")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["Participant ID"] == "" and row["Local authority"] == "Gwynedd"
    assert row["Status"] == "Did not consent" and row["Recorded by"] == "'=HYPERLINK(1)"
    assert row["agree_to_take_part"] == "Not agreed"

    response = reviewer.client.get("/review/register.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = values[0]
    by_pid = {r[0]: dict(zip(header, r, strict=True)) for r in values[1:]}
    assert len(values) == 5
    statuses = sorted(r["Status"] for r in by_pid.values())
    assert statuses == ["Consented", "Consented", "Did not consent", "Withdrew"]
    assert all(not str(v).startswith("=") for r in values for v in r if v is not None)

    with app.app_context():
        reviewer_id = db.session.scalar(sa.text("select id from user_account where email = 'reviewer-en@example.org'"))
    events = _download_events(app)
    assert events == [
        {"what": "consent_register", "format": "csv", "filters": {"status": "refused", "la": "GWN"}, "rows": 1,
         "actor": reviewer_id},
        {"what": "consent_register", "format": "xlsx", "filters": {}, "rows": 4, "actor": reviewer_id},
    ]


def test_no_answer_text_reaches_the_reviewer(app, study, reviewer):
    visitor = Browser(app)
    token = visitor.start(study, "en")
    visitor.consent(token, study)
    with app.app_context():
        sections = db.session.get(Study, study.id).survey.content["sections"]
    number, question = next((n, q) for n, s in enumerate(sections, 1) for q in s["questions"]
                            if q["type"] == "short_text" and "show_if" not in q)
    marker = "ANSWER-TEXT-MARKER-7f3a"
    visitor.post(f"/survey/section/{number}", {question["key"]: marker})
    with app.app_context():
        stored = [a.value for a in db.session.scalars(sa.select(Answer))]
    assert any(marker in str(value) for value in stored), stored
    for url in ("/review/", "/review/versions", "/review/register.csv"):
        assert marker not in reviewer.client.get(url).get_data(as_text=True)
    with app.app_context():
        pid = db.session.scalar(sa.select(Participant.id))
    assert marker not in reviewer.client.get(f"/review/participants/{pid}").get_data(as_text=True)


def test_unknown_participant_is_not_found(register, reviewer):
    assert reviewer.client.get(f"/review/participants/{register['none']}").status_code == 404
    assert reviewer.client.get("/review/participants/999999").status_code == 404
    assert reviewer.client.get("/review/participants/" + "9" * 40).status_code == 404


def test_researchers_cannot_open_the_register(app, register):
    researcher = sign_in(app, "researcher")
    for url in ("/review/", "/review/versions", "/review/register.csv", "/review/register.xlsx", "/review/register.pdf",
                f"/review/participants/{register['cy']}"):
        assert researcher.client.get(url).status_code == 403, url
    admin = sign_in(app, "admin")
    assert admin.client.get("/review/").status_code == 200


def test_reviewers_get_403_on_answers_exports_and_invitations(app, register, reviewer):
    """Answers are shown on a nominee's page; exports and invitations are researchers' pages."""
    with app.app_context():
        nominee_id = db.session.scalar(sa.text("select id from nominee order by id limit 1"))
    urls = ["/researcher/", f"/researcher/nominees/{nominee_id}", "/researcher/nominees/",
            "/researcher/nominees/import", "/researcher/nominees/new", f"/researcher/nominees/{nominee_id}/edit",
            "/researcher/invitations/", "/researcher/invitations/send/invitation",
            "/researcher/invitations/send/reminder", "/researcher/invitations/batches/1",
            "/researcher/invitations/batches/1/progress"]
    for url in urls:
        assert reviewer.client.get(url).status_code == 403, url


def test_consent_record_pdfs_for_one_participant_and_the_filtered_register(app, register, reviewer):
    response = reviewer.client.get(f"/review/participants/{register['cy']}/consent.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    response = reviewer.client.get("/review/register.pdf?status=consented&language=en")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert reviewer.client.get(f"/review/participants/{register['none']}/consent.pdf").status_code == 404
    researcher = sign_in(app, "researcher")
    assert researcher.client.get("/review/register.pdf").status_code == 403
    assert researcher.client.get(f"/review/participants/{register['cy']}/consent.pdf").status_code == 403
