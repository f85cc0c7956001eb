"""Absolute links, always from PUBLIC_URL: never from the request's Host header, which the
client chooses."""

from __future__ import annotations

from flask import current_app


def public_url(endpoint: str, **values) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    # Bound to a placeholder host only to build the path; the host part is never used.
    adapter = current_app.url_map.bind("public.invalid")
    return base + adapter.build(endpoint, values)
