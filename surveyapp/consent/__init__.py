"""Consent: item-by-item records of what each participant agreed to, and the gate on data."""
