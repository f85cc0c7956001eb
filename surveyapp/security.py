"""Structured security events: one JSON line per event on the ``surveyapp.security`` logger.

Every event carries the request id (also sent back as ``X-Request-ID``), the client address
and the path with any personal token replaced by ``<token>``. Callers pass only identifiers
and counts: never answer text, never a password, never a whole token. An email address that
may belong to nobody is logged as a short keyed hash, so repeated attempts can be matched
without the log holding the address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets

from flask import current_app, g, has_request_context, request

logger = logging.getLogger("surveyapp.security")

# The kinds of event; callers use these names so the log can be searched reliably.
LOGIN_FAILURE = "login_failure"
LOGIN_THROTTLED = "login_throttled"
AUTHORISATION_FAILURE = "authorisation_failure"
TOKEN_FAILURE = "token_failure"
RATE_LIMITED = "rate_limited"
SESSION_REVOKED = "session_revoked"
TEST_EMAIL_SENT = "test_email_sent"  # a researcher sent themselves a test of an invitation
KINDS = frozenset({LOGIN_FAILURE, LOGIN_THROTTLED, AUTHORISATION_FAILURE, TOKEN_FAILURE,
                   RATE_LIMITED, SESSION_REVOKED, TEST_EMAIL_SENT})

# Personal links are /p/<token>/...; the token is a secret and never reaches a log.
_TOKEN_IN_PATH = re.compile(r"^(/p/)[^/]+")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def redact_path(path: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1<token>", path)


def request_id() -> str:
    """This request's id: a well-formed ``X-Request-ID`` from the proxy, or a new one."""
    if not has_request_context():
        return "-"
    rid = g.get("request_id")
    if rid is None:
        supplied = request.headers.get("X-Request-ID", "")
        rid = supplied if _REQUEST_ID.match(supplied) else secrets.token_hex(8)
        g.request_id = rid
    return rid


def hash_identifier(value: str) -> str:
    """A short keyed hash of an identifier (an email address typed at sign-in)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.strip().lower().encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]


def log_event(kind: str, **fields) -> None:
    """Write one security event. ``fields`` are identifiers and counts only."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind: {kind}")
    record = {"event": kind, "request_id": request_id()}
    if has_request_context():
        record["remote_addr"] = request.remote_addr
        record["method"] = request.method
        record["path"] = redact_path(request.path)
    record.update(fields)
    logger.warning(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str))


def init_app(app) -> None:
    @app.after_request
    def _send_request_id(response):
        response.headers.setdefault("X-Request-ID", request_id())
        return response
