"""The audit trail for ethics reviewers and administrators: verification result, chain head, events."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/review/audit")
