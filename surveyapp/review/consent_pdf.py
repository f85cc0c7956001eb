"""The consent-record PDF: one participant's record, or the whole (filtered) register.

Each record is printed in the language the participant saw the consent form in: its text (from
the immutable form version, carried in the ``ConsentView``), and its headings, labels, dates
and page footer too. A whole-register PDF starts with a cover page in the reader's language
(``language``): the study, how many records, the filters and when it was made. Every record
starts a new page. Never an answer: a ``ConsentView`` holds none.

The templates get the plain ``ConsentView`` dataclasses and strings formatted here; text is
autoescaped, so nothing anyone typed is read as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flask import render_template
from flask_babel import force_locale, format_datetime, gettext
from markupsafe import Markup

from surveyapp.audit import chain, kinds
from surveyapp.consent.models import METHOD_TITLES, ConsentMethod
from surveyapp.db import utcnow
from surveyapp.pdf.render import css_content, render_pdf
from surveyapp.reference import LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities
from surveyapp.review.records import ConsentView
from surveyapp.withdrawal.models import CHANNEL_TITLES, OUTCOME_TITLES, SCOPE_TITLES

# Dates as an ethics reviewer needs them: to the second, with the UK offset (GMT or BST).
WHEN = "d MMMM y, HH:mm:ss z"
LANGUAGES = ("cy", "en")


def consent_pdf(views: Sequence[ConsentView], language: str, *, actor_id: int | None = None,
                study_title: Mapping[str, str] | None = None,
                filters: Sequence[tuple[str, str]] | None = None,
                generated_at: datetime | None = None) -> bytes:
    """The PDF, and an audit event (``pack_generated``) in the current transaction: the caller
    commits. ``study_title`` is the study's title object ({"cy": ..., "en": ...}); ``filters``
    are (label, value) pairs already in ``language``, given for a register download (a cover
    page is printed for those, and whenever there is not exactly one record)."""
    pdf = render_pdf(consent_html(views, language, study_title=study_title, filters=filters,
                                  generated_at=generated_at))
    chain.record(kinds.PACK_GENERATED, actor_id=actor_id,
                 participant_id=views[0].participant_id if len(views) == 1 else None,
                 what="consent_record", participants=[v.participant_id for v in views],
                 language=language)
    return pdf


def consent_html(views: Sequence[ConsentView], language: str, *,
                 study_title: Mapping[str, str] | None = None,
                 filters: Sequence[tuple[str, str]] | None = None,
                 generated_at: datetime | None = None) -> str:
    """The HTML that ``consent_pdf`` renders (needs an app context)."""
    language = _known(language)
    title = dict(study_title or {})
    records = [_record_html(view, title) for view in views]
    with force_locale(language):
        cover = None
        if filters is not None or len(views) != 1:
            cover = {
                "study": title.get(language) or "",
                "count": len(views),
                "filters": list(filters or []),
                "generated": format_datetime(generated_at or utcnow(), WHEN),
            }
        footers = {lang: _footer(lang) for lang in LANGUAGES}
        return render_template("review/pdf/consent_record.html", language=language, cover=cover,
                               records=records, footers=footers)


def _record_html(view: ConsentView, study_title: Mapping[str, str]) -> Markup:
    lang = _known(view.language)
    with force_locale(lang):
        return Markup(render_template("review/pdf/_record.html", r=view, text=_record_text(view, lang),
                                      study=study_title.get(lang) or ""))


def _record_text(view: ConsentView, lang: str) -> dict:
    """What the record page prints that is not the participant's own record text: the
    stored codes turned into words in ``lang``, and dates formatted in it."""
    la = local_authorities().get(view.local_authority or "")
    area = SERVICE_AREAS.get(view.service_area or "")
    w = view.withdrawal
    return {
        "local_authority": la.name(lang) if la else (view.local_authority or None),
        "service_area": str(area) if area else (view.service_area or None),
        "language": str(LANGUAGE_PREFERENCES.get(view.language, view.language)),
        "method": str(METHOD_TITLES.get(view.method, view.method)),
        "verbal": view.method == ConsentMethod.VERBAL,
        "recorded_at": format_datetime(view.recorded_at, WHEN),
        "withdrawal": None if w is None else {
            "requested_at": format_datetime(w.requested_at, WHEN),
            "scope": str(SCOPE_TITLES.get(w.scope, w.scope)),
            "channel": str(CHANNEL_TITLES.get(w.channel, w.channel)),
            "outcome": str(OUTCOME_TITLES.get(w.outcome, w.outcome)),
            "cutoff_at": format_datetime(w.cutoff_at, WHEN) if w.cutoff_at else None,
            "decided_at": format_datetime(w.decided_at, WHEN) if w.decided_at else None,
            "erased_at": format_datetime(w.erased_at, WHEN) if w.erased_at else None,
        },
    }


def _footer(lang: str) -> Markup:
    with force_locale(lang):
        # The raw sentence (no arguments), so its placeholders become CSS page counters.
        return css_content(gettext("Page %(page)d of %(pages)d"), page="page", pages="pages")


def _known(language: str) -> str:
    return language if language in LANGUAGES else "en"
