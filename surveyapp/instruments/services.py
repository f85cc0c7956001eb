"""Storing instrument versions and studies. A used version can never change."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from surveyapp.consent.models import ConsentRecord
from surveyapp.db import db
from surveyapp.errors import InstrumentChanged
from surveyapp.instruments.loader import Catalogue, InstrumentError
from surveyapp.instruments.model import Survey
from surveyapp.instruments.models import InstrumentVersion
from surveyapp.responses.models import Response
from surveyapp.studies.models import Study


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)


def find_version(key: str, version: int) -> InstrumentVersion | None:
    return db.session.scalar(
        sa.select(InstrumentVersion).where(InstrumentVersion.key == key, InstrumentVersion.version == version)
    )


# Parsed surveys, one per stored version and text, shared by every request of this process. A
# version's text never changes once it is used, and a changed text has another hash, so an
# entry is never stale: keyed by (id, content hash), an edit to an unused version is simply a
# new entry. Entries are built whole (every cached property filled) before they are shared,
# so threads only ever read them. Bounded: a long-lived process that sees many versions
# starts the cache again rather than growing.
_SURVEYS: dict[tuple[int, str], Survey] = {}
_SURVEYS_LOCK = threading.Lock()
SURVEY_CACHE_LIMIT = 64


def _built(content: dict) -> Survey:
    survey = Survey(content)
    for question in survey.questions.values():  # fills sections, their questions and options
        question.options  # noqa: B018
    survey.estimated_minutes  # noqa: B018
    return survey


def survey_version(version_id: int, content_hash: str, version: InstrumentVersion | None = None) -> Survey:
    """The parsed survey of a stored version, read from the database once per process.
    ``version`` is the row when the caller has it (its content is read only on a miss)."""
    survey = _SURVEYS.get((version_id, content_hash))
    if survey is not None:
        return survey
    if version is None:
        version = db.session.get(InstrumentVersion, version_id)
    survey = _built(version.content)
    with _SURVEYS_LOCK:
        if len(_SURVEYS) >= SURVEY_CACHE_LIMIT:
            _SURVEYS.clear()
        # Keyed by the row's own hash: if it is not the one asked for, the row is the truth.
        survey = _SURVEYS.setdefault((version.id, version.content_hash), survey)
    return survey


def is_used(version: InstrumentVersion) -> bool:
    """Whether anything has been recorded against this exact version."""
    consent = sa.select(ConsentRecord.id).where(ConsentRecord.consent_form_id == version.id).limit(1)
    response = sa.select(Response.id).where(Response.survey_id == version.id).limit(1)
    return db.session.scalar(consent) is not None or db.session.scalar(response) is not None


def load_catalogue(catalogue: Catalogue) -> LoadReport:
    """Store every instrument version and study; all or nothing (the caller commits)."""
    errors = [p for p in catalogue.problems if p.severity == "error"]
    if errors:
        raise InstrumentError(errors)
    report = LoadReport()
    for item in catalogue.instruments:
        label = f"{item.key} v{item.version}"
        stored = find_version(item.key, item.version)
        if stored is None:
            db.session.add(InstrumentVersion(kind=item.kind, key=item.key, version=item.version,
                                             content_hash=item.content_hash, content=item.text_content,
                                             provenance=item.provenance))
            report.added.append(label)
            continue
        if stored.provenance != item.provenance:
            # Approval is metadata: it may change on a used version, the text may not.
            stored.provenance = item.provenance
            report.provenance.append(f"{label}: {item.provenance.get('status')}")
        if stored.content_hash == item.content_hash:
            report.unchanged.append(label)
        elif is_used(stored):
            raise InstrumentChanged(
                f"{item.path}: {label} has already been used by participants and cannot be edited. "
                f"Copy it to a new version file (for example {item.version + 1}.yaml, with "
                f"'version: {item.version + 1}') and point the study at the new version."
            )
        else:
            stored.kind, stored.content, stored.content_hash = item.kind, item.text_content, item.content_hash
            report.updated.append(label)
    db.session.flush()
    for item in catalogue.studies:
        data = item.content
        versions = {kind: find_version(**data[kind])
                    for kind in ("information_sheet", "consent_form", "survey")}
        study = db.session.scalar(sa.select(Study).where(Study.slug == data["slug"]))
        if study is None:
            study = Study(slug=data["slug"])
            db.session.add(study)
        study.title = data["title"]
        study.ethics_reference = data.get("ethics_reference")
        study.open_link = data["open_link"]
        study.withdrawal_window_days = data.get("withdrawal_window_days")
        study.contacts = data.get("contacts")
        study.information_sheet = versions["information_sheet"]
        study.consent_form = versions["consent_form"]
        study.survey = versions["survey"]
        study.approved = all(version.approved for version in versions.values())
        report.studies.append(data["slug"])
    db.session.flush()
    return report
