"""HTML to PDF with WeasyPrint, locked down.

- Every stylesheet, font and image comes through ``StaticFetcher``: the app's own static files
  and nothing else (no file://, no network, no data: URIs).
- Documents are rendered under ``PDF_ORIGIN``/static/, so a relative address ("css/print.css"),
  a root-relative one ("/static/css/print.css", what ``url_for('static', ...)`` gives inside a
  request) and the app's own external static address (what it gives outside one) all resolve
  to files in ``surveyapp/static``.
- Fonts are the bundled DejaVu Sans (static/fonts/, declared in static/css/print.css), which
  covers every Welsh letter with a circumflex, grave, acute or diaeresis.

Templates get plain data, never ORM objects, and Jinja's autoescaping stays on, so text that
people typed is printed as text, never read as HTML. Pure apart from the files it reads: the
caller decides what to do with the bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import current_app, has_app_context, url_for
from markupsafe import Markup

from surveyapp.pdf._weasyprint import HTML, FontConfiguration
from surveyapp.pdf.fetcher import PDF_ORIGIN, StaticFetcher

STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"
STATIC_URL_PATH = "/static"


class PdfAssetRefused(RuntimeError):
    """The document asked for something the fetcher refused; no PDF is made."""

    def __init__(self, urls: list[str]):
        super().__init__("a PDF asked for files it may not have: " + ", ".join(u[:100] for u in urls[:5]))
        self.urls = urls


def base_url() -> str:
    return f"{PDF_ORIGIN}{_static_url_path()}/"


def _static_url_path() -> str:
    if has_app_context() and current_app.static_url_path:
        return current_app.static_url_path.rstrip("/")
    return STATIC_URL_PATH


def _static_folder() -> Path:
    if has_app_context() and current_app.static_folder:
        return Path(current_app.static_folder)
    return STATIC_FOLDER


def _external_static_prefix() -> str | None:
    """The app's own public address for its static files, when it has one."""
    if not has_app_context():
        return None
    try:
        prefix = url_for("static", filename="", _external=True)
    except RuntimeError:  # no SERVER_NAME and no request: no such address
        return None
    return prefix if prefix.endswith("/") and prefix.startswith(("http://", "https://")) else None


def static_fetcher() -> StaticFetcher:
    """A fetcher for this app's static folder (the one ``render_pdf`` uses by default)."""
    prefixes = [base_url()]
    external = _external_static_prefix()
    if external and external not in prefixes:
        prefixes.append(external)
    return StaticFetcher(_static_folder(), prefixes)


def render_pdf(html: str, *, fetcher: StaticFetcher | None = None) -> bytes:
    """The PDF for ``html``. Raises ``PdfAssetRefused`` if it asked for anything but static files."""
    fetcher = fetcher if fetcher is not None else static_fetcher()
    font_config = FontConfiguration()
    document = HTML(string=html, base_url=base_url(), url_fetcher=fetcher)
    pdf = document.write_pdf(font_config=font_config)
    if fetcher.refused:
        raise PdfAssetRefused(list(fetcher.refused))
    return pdf


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def css_content(template: str, **counters: str) -> Markup:
    """A CSS ``content`` value for a translated sentence with counters in it, e.g.
    ``css_content(_("Page %(page)d of %(pages)d"), page="page", pages="pages")`` gives
    ``"Page " counter(page) " of " counter(pages)`` (in any word order the translation has).
    Every character outside [A-Za-z0-9] is escaped (six hex digits; spaces too, since CSS
    swallows one white-space character after an escape), so no text can end the string or the
    ``<style>`` element it is written into."""
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        out.append(_css_string(template[position:match.start()]))
        out.append(f"counter({_css_ident(counters[match.group(1)])})")
        position = match.end()
    out.append(_css_string(template[position:]))
    return Markup(" ".join(part for part in out if part))


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, safe inside a ``<style>`` element."""
    return Markup(_css_string(text) or '""')


def _css_string(text: str) -> str:
    if not text:
        return ""
    return '"' + "".join(c if c.isascii() and c.isalnum() else f"\\{ord(c):06x}" for c in text) + '"'


def _css_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z-]*", name):
        raise ValueError(f"not a counter name: {name!r}")
    return name
