"""The consent-record PDF, read back: Welsh glyphs intact, each record in its own language and
on its own pages, the hashes and the withdrawal printed, no text ever read as HTML."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fontTools.ttLib import TTFont

from surveyapp.audit import chain, kinds
from surveyapp.audit.models import AuditEvent
from surveyapp.db import db
from surveyapp.pdf.render import STATIC_FOLDER, render_pdf, static_fetcher
from surveyapp.review.consent_pdf import consent_html, consent_pdf
from surveyapp.review.records import ItemView
from tests.pdf.views import (
    FORM_HASH,
    HOSTILE,
    SHEET_HASH,
    WELSH_GLYPHS,
    WELSH_LOWER,
    CountingFetcher,
    make_view,
    pages,
    withdrawal,
)

ID_LABEL = "(?:Participant ID|Rhif cyfranogwr)"  # either, so this passes before and after the Welsh merge
STUDY = {"cy": "Trefniadau 'Drws Ffrynt' yng Nghymru", "en": "'Front Door' arrangements in Wales"}


def render(app, views, language="en", **kw) -> list[str]:
    with app.app_context():
        return pages(render_pdf(consent_html(views, language, study_title=STUDY, **kw)))


def test_bundled_fonts_cover_every_welsh_letter():
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        cmap = TTFont(STATIC_FOLDER / "fonts" / name).getBestCmap()
        assert [c for c in WELSH_GLYPHS if ord(c) not in cmap] == [], name
    assert "Bitstream" in (STATIC_FOLDER / "fonts" / "LICENSE-DejaVu.txt").read_text()


def test_welsh_record_keeps_every_glyph_and_both_hashes(app):
    view = make_view(title=f"Ffurflen Gydsynio {WELSH_LOWER.upper()}",
                     items=[ItemView("a", f"Rwy'n cytuno {WELSH_LOWER}", True, True)])
    text = "\n".join(render(app, [view]))
    for glyph in WELSH_GLYPHS:
        assert glyph in text, glyph
    assert f"Darllenwch bob datganiad: {WELSH_LOWER}" in text
    assert f"PRIFLYTHRENNAU: {WELSH_LOWER.upper()}" in text
    assert FORM_HASH in text and SHEET_HASH in text
    assert "P12" in text and "Ffurflen Gydsynio" in text


def test_welsh_record_in_welsh_and_english_record_in_english(app):
    [welsh] = render(app, [make_view(language="cy")])
    [english] = render(app, [make_view(language="en")])
    # Dates in the record's language and in UK time (BST in July), the footer in its language.
    assert "1 Gorffennaf 2026, 13:05:09 +0100" in welsh and "Tudalen 1 o 1" in welsh and "Amser" in welsh
    assert "Ynys Môn" in welsh and "Page 1 of" not in welsh
    assert "1 July 2026, 13:05:09 +0100" in english and "Page 1 of 1" in english
    assert "Local authority Isle of Anglesey" in english and "Language shown English" in english
    assert "Tudalen" not in english and "Gorffennaf" not in english
    assert "Agreed" in english and "Not agreed" in english
    with app.app_context():
        html = consent_html([make_view(language="cy")], "en")
    assert '<html lang="en">' in html and 'lang="cy" id="record-1"' in html


def test_one_record_has_no_cover(app):
    text = render(app, [make_view(language="en")])
    assert len(text) >= 1
    assert "Consent record: P12" in text[0] and "Consent records" not in text[0]


def test_register_has_a_cover_and_each_record_starts_a_new_page(app):
    views = [make_view(n, pid=f"P{n}", language=("cy" if n < 3 else "en"), title=f"Form title for P{n}",
                       withdrawal=withdrawal() if n == 2 else None) for n in (1, 2, 3)]
    filters = [("Language", "Any"), ("Consent-form version", "2")]
    text = render(app, views, language="en", filters=filters)
    assert len(text) >= 4
    assert "Consent records" in text[0] and "Number of records 3" in text[0]
    assert "Consent-form version: 2" in text[0] and "Page 1 of" in text[0]
    starts = []
    for n in (1, 2, 3):
        first = next(i for i, page in enumerate(text) if re.search(rf"{ID_LABEL} P{n}\b", page))
        starts.append(first)
        assert text[first].startswith(STUDY["cy" if n < 3 else "en"]), f"P{n} does not start its page"
        others = "|".join(str(m) for m in (1, 2, 3) if m != n)
        assert not re.search(rf"({ID_LABEL}|Form title for) P({others})\b", text[first]), f"P{n} shares a page"
        footer = "Tudalen" if n < 3 else "Page"
        assert f"{footer} {first + 1} " in text[first]
    assert starts == sorted(starts) and starts[0] >= 1


def test_empty_register_says_so(app):
    text = render(app, [], filters=[])
    assert len(text) == 1
    assert "No consent records match these filters." in text[0] and "Number of records 0" in text[0]
    assert "None: the whole register." in text[0]


def test_withdrawal_method_and_version_are_printed(app):
    view = make_view(language="en", method="verbal_recorded_by_researcher", recorded_by="Dr Siân Ŵyn",
                     form_version=1, current_form_version=2,
                     withdrawal=withdrawal(outcome="declined", decided_by="Dr Lead",
                                           decided_at=withdrawal().requested_at, decision_reason="Analysis done",
                                           erased_at=None))
    text = "\n".join(render(app, [view]))
    assert "Verbal, recorded by researcher" in text and "Dr Siân Ŵyn" in text
    assert "version 1 of the consent form; the current version is 2" in text
    assert "Withdraw my answers" in text and "By phone, recorded by a researcher" in text
    assert "After the cut-off: answers kept" in text and "Dr Lead" in text and "Analysis done" in text
    assert "20 July 2026, 10:00:00 +0100" in text   # asked; the cut-off:
    assert "15 July 2026, 13:05:00 +0100" in text
    assert "Answers erased on" not in text
    assert "No withdrawal has been recorded." in "\n".join(render(app, [make_view(language="en")]))


def test_text_is_never_read_as_html(app):
    view = make_view(language="en", intro=[HOSTILE], recorded_by=HOSTILE, method="verbal_recorded_by_researcher",
                     items=[ItemView("x", HOSTILE, True, True)],
                     withdrawal=withdrawal(decision_reason=HOSTILE, decided_by=HOSTILE))
    with app.app_context():
        html = consent_html([view], "en", study_title={"en": HOSTILE}, filters=[(HOSTILE, HOSTILE)])
        plain = static_fetcher()
        fetcher = CountingFetcher(plain.root, plain.prefixes)
        text = "\n".join(pages(render_pdf(html, fetcher=fetcher)))
    assert text.count('<img src="file:///etc/passwd">') >= 5
    assert "<script>alert(1)</script>" in text and '<link rel="stylesheet"' in text
    assert not any("passwd" in url or "example.org" in url for url in fetcher.asked)
    assert fetcher.refused == []
    # It was the fetcher that served the stylesheet and the bundled fonts.
    assert {url.rsplit("/", 1)[1] for url in fetcher.asked} == {"print.css", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"}


def test_consent_pdf_writes_one_audit_event(app):
    views = [make_view(7, language="cy"), make_view(8, language="en")]
    with app.app_context():
        pdf = consent_pdf(views, "cy", study_title=STUDY)
        db.session.commit()
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == kinds.PACK_GENERATED)).all()
        assert event.details == {"what": "consent_record", "participants": [7, 8], "language": "cy"}
        assert event.actor_id is None and event.participant_id is None
        assert chain.verify().ok
    assert pdf.startswith(b"%PDF-") and len(pages(pdf)) >= 3
