"""The PDF URL fetcher serves the app's own static files and nothing else."""

from __future__ import annotations

import os

import pytest
from flask import url_for

from surveyapp.pdf.fetcher import PDF_ORIGIN, RefusedURL, StaticFetcher
from surveyapp.pdf.render import PdfAssetRefused, css_content, css_string, render_pdf, static_fetcher

STATIC = f"{PDF_ORIGIN}/static/"

REFUSED = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "file://localhost/etc/passwd",
    "http://example.org/x.png",
    "https://example.org/print.css",
    "//example.org/x.png",
    "data:text/css,body{color:red}",
    "data:image/png;base64,iVBORw0KGgo=",
    "ftp://example.org/x.png",
    "javascript:alert(1)",
    "/etc/passwd",
    STATIC + "../../etc/passwd",
    STATIC + "%2e%2e/%2e%2e/etc/passwd",
    STATIC + "css/..%2f..%2f..%2fconfig.py",
    STATIC + "..%5c..%5cconfig.py",
    f"{PDF_ORIGIN}/etc/passwd",
    f"{PDF_ORIGIN}/static",
    f"{PDF_ORIGIN}:8080/static/css/print.css",
    "https://pdf-assets.invalid/static/css/print.css",
    "http://pdf-assets.invalid.example.org/static/css/print.css",
    "http://survey.test.example.org/static/css/print.css",
    STATIC + "js/app.js",                 # a static file, but not one a document needs
    STATIC + "fonts/LICENSE-DejaVu.txt",
    STATIC + "fonts/missing.ttf",
    STATIC,
]


@pytest.fixture
def fetcher(app):
    with app.app_context():
        yield static_fetcher()


@pytest.mark.parametrize("url", REFUSED)
def test_refuses_everything_but_static_files(fetcher, url):
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)
    assert fetcher.refused == [url]
    assert fetcher.served == []


@pytest.mark.parametrize("url", [
    STATIC + "css/print.css",
    STATIC + "fonts/DejaVuSans.ttf",
    STATIC + "css/../fonts/DejaVuSans-Bold.ttf",
    "http://survey.test/static/css/print.css",  # url_for('static', ...) outside a request
])
def test_serves_static_files(fetcher, url):
    response = fetcher.fetch(url)
    try:
        body = response.read()
    finally:
        response.close()
    name = url.rsplit("/", 1)[1]
    assert body == (fetcher.root / ("css" if name.endswith(".css") else "fonts") / name).read_bytes()
    assert response.content_type == ("text/css" if name.endswith(".css") else "font/ttf")


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "ok.css").write_text("p { color: black }")
    secret = tmp_path / "secret.css"
    secret.write_text("secret")
    os.symlink(secret, static / "css" / "escape.css")
    fetcher = StaticFetcher(static, [STATIC])
    assert fetcher.fetch(STATIC + "css/ok.css").read() == b"p { color: black }"
    with pytest.raises(RefusedURL):
        fetcher.fetch(STATIC + "css/escape.css")


def test_a_prefix_must_be_an_http_address_folder(tmp_path):
    for prefix in ("file:///", "data:", "http://x.invalid/static", "/static/"):
        with pytest.raises(ValueError):
            StaticFetcher(tmp_path, [prefix])


@pytest.mark.parametrize("markup", [
    '<img src="file:///etc/passwd">',
    '<link rel="stylesheet" href="https://example.org/x.css">',
    '<img src="data:image/png;base64,iVBORw0KGgo=">',
    '<p style="background: url(../../../etc/passwd)">x</p>',
])
def test_a_document_asking_for_anything_else_makes_no_pdf(app, markup):
    with app.app_context():
        fetcher = static_fetcher()
        with pytest.raises(PdfAssetRefused):
            render_pdf(f"<!doctype html><html lang='en'><body>{markup}</body></html>", fetcher=fetcher)
        assert fetcher.refused and not fetcher.served


def test_css_content_keeps_translated_text_inside_its_string():
    value = str(css_content('Tudalen %(page)d o "%(pages)d" </style><script>', page="page", pages="pages"))
    assert value.startswith('"Tudalen\\000020" counter(page) "\\000020o\\000020\\000022" counter(pages)')
    assert "<" not in value and value.count('"') == 6
    assert str(css_string("a\"b\\c")) == '"a\\000022b\\00005cc"'
    assert str(css_content("%(pages)d / %(page)d", page="page", pages="pages")).startswith("counter(pages)")
    with pytest.raises(ValueError):
        css_content("%(page)d", page="page) url(x")


def test_url_for_static_resolves_through_the_fetcher_inside_a_request(app):
    html = ("<!doctype html><html lang='en'><head><link rel='stylesheet' href='{}'></head>"
            "<body><p>ŵŷ</p></body></html>")
    with app.test_request_context("/review/"):
        fetcher = static_fetcher()
        render_pdf(html.format(url_for("static", filename="css/print.css")), fetcher=fetcher)
    assert fetcher.served[0] == STATIC + "css/print.css"
    assert fetcher.served[1:] == [STATIC + "fonts/DejaVuSans.ttf", STATIC + "fonts/DejaVuSans-Bold.ttf"]
    assert fetcher.refused == []
