"""Researchers' withdrawal pages: record a withdrawal heard by email or phone; decide late ones."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("withdrawals", __name__, template_folder="templates", url_prefix="/researcher/withdrawals")
