"""PDFs made with WeasyPrint: bundled fonts, a print stylesheet and a URL fetcher that serves
only the app's own static files. See ``render.render_pdf``."""

from surveyapp.pdf.fetcher import RefusedURL, StaticFetcher
from surveyapp.pdf.render import PdfAssetRefused, css_content, css_string, render_pdf

__all__ = ["PdfAssetRefused", "RefusedURL", "StaticFetcher", "css_content", "css_string", "render_pdf"]
