"""The only way a PDF being rendered can read anything: the app's own static files.

WeasyPrint asks its URL fetcher for every stylesheet, font and image a document names. Ours
serves files from one folder (``surveyapp/static``) and refuses everything else: ``file://``,
``http://`` and ``https://`` anywhere, ``data:``, ``ftp:``, any other scheme, paths that climb
out of the folder (``../``, also percent-encoded, also through a symbolic link) and file types
a document has no use for. Nothing is ever fetched over a network: the "addresses" it serves
are names under an origin that cannot resolve (``.invalid``, RFC 2606), or the app's own public
static address, mapped to files on disk.

Refusals are remembered (``refused``) so that ``render_pdf`` can fail loudly: a document of
ours asking for something else is a bug, or someone's text being read as HTML.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from surveyapp.pdf._weasyprint import URLFetcher, URLFetcherResponse

# The origin documents are rendered under; it never resolves, and we never try.
PDF_ORIGIN = "http://pdf-assets.invalid"

# What a document may load, by file name ending.
ALLOWED_TYPES = {
    ".css": "text/css",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}


class RefusedURL(ValueError):
    """A document asked for something other than one of the app's static files."""


class StaticFetcher(URLFetcher):
    """Serves ``<root>/<path>`` for ``<prefix><path>`` where prefix is one of ``prefixes``
    (each an absolute http(s) address ending in ``/``); refuses everything else."""

    def __init__(self, static_folder: str | Path, prefixes: Iterable[str]):
        super().__init__(allowed_protocols=())  # the parent's own fetching is never used
        self.root = Path(static_folder).resolve()
        self.prefixes = tuple(self._check_prefix(p) for p in prefixes)
        self.served: list[str] = []
        self.refused: list[str] = []

    @staticmethod
    def _check_prefix(prefix: str) -> str:
        parts = urlsplit(prefix)
        if parts.scheme not in ("http", "https") or not parts.netloc or not prefix.endswith("/"):
            raise ValueError(f"not a static prefix: {prefix!r}")
        return prefix

    def resolve(self, url: str) -> Path:
        """The file ``url`` names, or ``RefusedURL``."""
        parts = urlsplit(url)
        prefix = next((p for p in self.prefixes if _same_origin_and_under(parts, p)), None)
        if prefix is None:
            raise RefusedURL(f"not one of the app's static files: {url[:200]}")
        relative = unquote(parts.path[len(urlsplit(prefix).path):])
        if not relative or "\\" in relative or "\x00" in relative:
            raise RefusedURL(f"not a static file name: {url[:200]}")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise RefusedURL(f"no such static file: {url[:200]}")
        if path.suffix.lower() not in ALLOWED_TYPES:
            raise RefusedURL(f"a document has no use for this type of file: {url[:200]}")
        return path

    def fetch(self, url, headers=None):
        try:
            path = self.resolve(url)
        except RefusedURL:
            self.refused.append(url)
            raise
        self.served.append(url)
        media_type = ALLOWED_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": media_type})


def _same_origin_and_under(parts, prefix: str) -> bool:
    want = urlsplit(prefix)
    return (parts.scheme.lower() == want.scheme and parts.netloc.lower() == want.netloc.lower()
            and parts.path.startswith(want.path))
