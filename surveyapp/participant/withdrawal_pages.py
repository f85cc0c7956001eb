"""Withdrawing from the study, from the participant's own link (built by the withdrawal work)."""

from __future__ import annotations
