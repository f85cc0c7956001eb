"""``surveyapp audit ...``: verify the chain, print its head."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("audit", help="Check the tamper-evident audit trail.")
