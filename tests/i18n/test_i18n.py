"""Locale behaviour, Welsh plurals, catalogue health and the all-Welsh journey."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext

from surveyapp import create_app
from surveyapp.config import TRANSLATIONS_DIR
from surveyapp.i18n import CatalogueError
from surveyapp.translations import check as check_catalogues

PLURAL = ("You have answered %(num)d question.", "You have answered %(num)d questions.")


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 o gwestiynau"), (1, "1 cwestiwn"), (2, "2 gwestiwn"), (3, "3 chwestiwn"), (6, "6 chwestiwn"),
     (7, "7 cwestiwn")],
)
def test_welsh_plurals(app, count, expected):
    with app.test_request_context(), force_locale("cy"):
        text = ngettext(*PLURAL, count)
    assert expected in text
    assert str(count) in text


def test_welsh_plural_forms_are_all_different_where_welsh_needs_them(app):
    with app.test_request_context(), force_locale("cy"):
        forms = {n: ngettext(*PLURAL, n).replace(str(n), "N") for n in (0, 1, 2, 3, 6, 7)}
    assert len({forms[0], forms[1], forms[2], forms[3]}) == 4
    assert forms[3] == forms[6] and forms[1] == forms[7]


def test_english_plurals(app):
    with app.test_request_context(), force_locale("en"):
        assert ngettext(*PLURAL, 1) == "You have answered 1 question."
        assert ngettext(*PLURAL, 7) == "You have answered 7 questions."


def test_catalogues_are_complete_and_current():
    assert check_catalogues() == []


def test_welsh_catalogue_header_has_cldr_plurals():
    with (TRANSLATIONS_DIR / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="cy")
    assert catalog.num_plurals == 6
    assert catalog.plural_expr.replace(" ", "") == "(n==0?0:n==1?1:n==2?2:n==3?3:n==6?4:5)"


def test_start_up_fails_without_a_compiled_catalogue(tmp_path):
    (tmp_path / "cy" / "LC_MESSAGES").mkdir(parents=True)
    with pytest.raises(CatalogueError, match="missing"):
        create_app({"ENV": "testing", "TRANSLATIONS_DIR": str(tmp_path)})


def test_accept_language_picks_welsh_and_html_lang_follows(browser, study):
    page = browser.get("/", headers={"Accept-Language": "cy,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="cy">' in page
    page = browser.client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_switch_is_a_named_landmark_with_lang_and_hreflang(browser, study):
    browser.start(study, "en")
    page = browser.get("/survey/information").get_data(as_text=True)
    nav = re.search(r'<nav class="language-switch" aria-label="Language">.*?</nav>', page, re.S).group(0)
    assert 'href="/survey/' in nav and '?lang=cy"' in nav
    assert 'lang="cy" hreflang="cy"' in nav and ">Cymraeg<" in nav
    assert 'aria-current="true" lang="en">English<' in nav


class _Text(HTMLParser):
    """Visible text and user-facing attribute values of a page."""

    SKIP = {"script", "style"}

    def __init__(self):
        super().__init__()
        self.strings: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "alt") and value:
                self.strings.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.strings.append(" ".join(data.split()))


def _english_patterns(survey_texts: list[str]) -> list[tuple[str, re.Pattern]]:
    """Every English UI message whose Welsh differs, as a pattern over rendered text."""
    with (TRANSLATIONS_DIR / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="cy")
    patterns = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings:
                continue
            parts = [re.escape(" ".join(p.split())) for p in re.split(r"%\(\w+\)[sd]", msgid)]
            patterns.append((msgid, re.compile("^" + ".+?".join(parts).replace(r"\ ", r"\s*") + "$")))
    for text in survey_texts:
        patterns.append((text, re.compile("^" + re.escape(" ".join(text.split())) + "$")))
    return patterns


def test_welsh_journey_shows_no_english(browser, study):
    english_texts = []

    def collect(node):
        if isinstance(node, dict):
            if "status" in node and {"en", "cy"} <= set(node) and node["en"] != node["cy"]:
                english_texts.extend(p for p in node["en"].split("\n\n") if p.strip())
            else:
                for value in node.values():
                    collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(study.survey.raw)
    collect(study.consent_form.raw)
    patterns = _english_patterns(english_texts)

    token = browser.start(study, "cy")
    pages = ["/survey/information", "/survey/consent"]
    bad_consent = browser.consent(token, study, required=False)  # errors shown in Welsh
    assert bad_consent.status_code == 400
    rendered = [bad_consent.get_data(as_text=True)]
    browser.consent(token, study)
    for number in range(1, len(study.survey.sections) + 1):
        pages.append(f"/survey/section/{number}")
    bad_number = browser.post("/survey/section/3", {"referrals_per_year": "llawer",
                                                         "referrals_children_per_year": "llawer",
                                                         "team_size_fte": "5.555"})
    assert bad_number.status_code == 400
    rendered.append(bad_number.get_data(as_text=True))
    bad_email = browser.post("/survey/email-link", {"email": "nid-cyfeiriad"})
    assert bad_email.status_code == 400
    rendered.append(bad_email.get_data(as_text=True))
    expired = browser.client.post("/survey/section/2", data={"csrf_token": "old", "aims": "Testun",
                                                                  "_participant": browser.bound()})
    rendered.append(expired.get_data(as_text=True))
    browser.post("/survey/section/1", {"role": "Pennaeth", "la_code": "GWN", "service_area": "children"})
    pages += ["/survey/review", "/survey/saved"]
    rendered += [browser.get(url).get_data(as_text=True) for url in pages]
    assert browser.post("/survey/review", {}).status_code == 302
    rendered.append(browser.get("/survey/done").get_data(as_text=True))
    rendered.append(browser.client.get("/survey/nowhere").get_data(as_text=True))

    found = []
    for html in rendered:
        assert '<html lang="cy">' in html
        parser = _Text()
        parser.feed(html)
        for string in parser.strings:
            if string in ("English",):  # the endonym of the other language, by design
                continue
            found += [(string, msgid) for msgid, pattern in patterns if pattern.match(string)]
    assert found == []
