"""ConsentView objects built by hand (plain dataclasses: no database needed) and PDF reading."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf

from surveyapp.pdf.fetcher import StaticFetcher
from surveyapp.review.records import ConsentView, ItemView, WithdrawalView

WELSH_LOWER = "âêîôûŵŷẁẃẅỳäëïöüÿ"
WELSH_GLYPHS = WELSH_LOWER + WELSH_LOWER.upper()
FORM_HASH = "3f5a9c0e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a"
SHEET_HASH = "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
HOSTILE = '<img src="file:///etc/passwd"> <script>alert(1)</script> <link rel="stylesheet" href="http://example.org/x.css">'


def make_view(participant_id: int = 1, *, language: str = "cy", pid: str | None = "P12", title: str | None = None,
              intro: list[str] | None = None, items: list[ItemView] | None = None, method: str = "online",
              recorded_by: str | None = None, withdrawal: WithdrawalView | None = None,
              form_version: int = 2, current_form_version: int = 2) -> ConsentView:
    welsh = language == "cy"
    return ConsentView(
        participant_id=participant_id, pid=pid, local_authority="ANG", service_area="children",
        record_id=participant_id * 10, recorded_at=datetime(2026, 7, 1, 12, 5, 9, tzinfo=UTC), given=True,
        method=method, recorded_by=recorded_by, language=language, form_key="phase1-consent",
        form_version=form_version, form_hash=FORM_HASH,
        form_title=title or ("Ffurflen Gydsynio" if welsh else "Consent form"),
        form_intro=intro if intro is not None else (
            [f"Darllenwch bob datganiad: {WELSH_LOWER}", f"PRIFLYTHRENNAU: {WELSH_LOWER.upper()}"] if welsh
            else ["Please read each statement below."]),
        items=items if items is not None else [
            ItemView("read_information", "Rwy'n cadarnhau fy mod wedi darllen y Daflen Wybodaeth." if welsh
                     else "I confirm that I have read the information sheet.", True, True),
            ItemView("audio_recording", "Rwy'n cytuno i'm cyfweliad gael ei recordio." if welsh
                     else "I agree to my interview being recorded.", False, False),
        ],
        sheet_version=2, sheet_hash=SHEET_HASH, current_form_version=current_form_version, withdrawal=withdrawal)


def withdrawal(**changes) -> WithdrawalView:
    values = dict(requested_at=datetime(2026, 7, 20, 9, 0, tzinfo=UTC), scope="answers", channel="phone",
                  outcome="applied", recorded_by="Dr Researcher", cutoff_at=datetime(2026, 7, 15, 12, 5, tzinfo=UTC),
                  decided_at=None, decided_by=None, decision_reason=None,
                  erased_at=datetime(2026, 7, 20, 9, 0, 1, tzinfo=UTC))
    values.update(changes)
    return WithdrawalView(**values)


def pages(pdf: bytes) -> list[str]:
    """Each page's text, as a reader would copy it."""
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


class CountingFetcher(StaticFetcher):
    """The real fetcher, remembering every address it is asked for (a wrapper, not a mock)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []

    def fetch(self, url, headers=None):
        self.asked.append(url)
        return super().fetch(url, headers)
