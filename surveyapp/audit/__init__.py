"""The audit trail: an append-only, HMAC-keyed hash chain of events, anchored outside the
database. See surveyapp/audit/chain.py."""
