"""WeasyPrint, imported in one place. On systems whose HarfBuzz lacks its subsetting library
WeasyPrint warns at import (a DeprecationWarning about future versions) and subsets fonts with
fontTools instead, which works; that one warning is silenced here so it does not fail the tests
(``filterwarnings = error``) or fill logs. Any other warning still shows."""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning)
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = ["HTML", "FontConfiguration", "URLFetcher", "URLFetcherResponse"]
