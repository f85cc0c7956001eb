"""Participants: creation, secret links and where in the journey they are."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.studies.models import Study

# 32 random bytes: unguessable, and safe to store as a plain SHA-256 (no salt needed
# because the input has 256 bits of entropy; lookups stay a single indexed query).
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_participant(study: Study, *, source: str, language: str | None = None) -> tuple[Participant, str]:
    """Create a participant and return it with its secret token (never stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    participant = Participant(study=study, token_hash=hash_token(token), source=source, language=language)
    db.session.add(participant)
    db.session.flush()
    return participant, token


def find_by_token(token: str) -> Participant | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))


def find_open_study(slug: str) -> Study | None:
    return db.session.scalar(sa.select(Study).where(Study.slug == slug, Study.open_link.is_(True)))
