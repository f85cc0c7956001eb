"""Interviews recorded by researchers against the same schedule as the online survey: consent
taken verbally, and transcripts split into per-question answers."""
