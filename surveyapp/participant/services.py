"""Participants: creation, secret links and where in the journey they are."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def derive_token(link_key: str, nonce: str) -> str:
    """A personal link token re-created from a stored nonce and the server's link key."""
    digest = hmac.new(link_key.encode("utf-8"), f"participant-link:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def create_linked_participant(study: Study, link_key: str, *, language: str | None) -> tuple[Participant, str]:
    """A participant whose token can be re-derived (for invitation emails); returns the nonce."""
    nonce = secrets.token_hex(16)
    token = derive_token(link_key, nonce)
    participant = Participant(study=study, token_hash=hash_token(token), source="invited", language=language)
    db.session.add(participant)
    db.session.flush()
    return participant, nonce


def find_by_token(token: str) -> Participant | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(token)))


def find_open_study(slug: str) -> Study | None:
    return db.session.scalar(sa.select(Study).where(Study.slug == slug, Study.open_link.is_(True)))
