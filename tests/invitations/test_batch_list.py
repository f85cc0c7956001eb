"""The list of batches: 20 a page, newest first, the page in the URL, and any page number that
is not one is page 1."""

from __future__ import annotations

import re

import pytest

from surveyapp.db import db
from surveyapp.invitations.models import Batch

from .conftest import sign_in_researcher

BATCH_ROW = re.compile(r'<tr data-batch="(\d+)">')
PAGE_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")? data-page="(\d+)">')


def make_batches(app, study, n: int) -> list[int]:
    with app.app_context():
        batches = [Batch(study_id=study.id, kind="invitation", status="done") for _ in range(n)]
        db.session.add_all(batches)
        db.session.commit()
        return [b.id for b in batches]


def shown(browser, query: str = "") -> tuple[list[int], dict[int, bool]]:
    """The batch ids on the page, and {page number: is current} from its page links."""
    response = browser.get(f"/researcher/invitations/{query}")
    assert response.status_code == 200, (query, response.status_code)
    links = {int(n): bool(current) for _href, current, n in PAGE_LINK.findall(browser.page)}
    return [int(i) for i in BATCH_ROW.findall(browser.page)], links


def test_batches_are_paged_newest_first_with_the_page_in_the_url(mail_app, study):
    ids = make_batches(mail_app, study, 45)
    newest_first = sorted(ids, reverse=True)
    browser = sign_in_researcher(mail_app)

    rows, links = shown(browser)
    assert rows == newest_first[:20]
    assert links == {1: True, 2: False, 3: False}
    assert 'href="/researcher/invitations/?page=2"' in browser.page
    assert shown(browser, "?page=2")[0] == newest_first[20:40]
    rows, links = shown(browser, "?page=3")
    assert rows == newest_first[40:] and len(rows) == 5
    assert links == {1: False, 2: False, 3: True}
    assert 'rel="prev" href="/researcher/invitations/?page=2"' in browser.page and 'rel="next"' not in browser.page


@pytest.mark.parametrize("page", ["-1", "0", "abc", "4", str(10**30), "1e3", "٢", "", "2.0"])
def test_a_page_number_that_is_not_one_is_page_one(mail_app, study, page):
    ids = make_batches(mail_app, study, 45)
    browser = sign_in_researcher(mail_app)
    rows, links = shown(browser, f"?page={page}")
    assert rows == sorted(ids, reverse=True)[:20]
    assert links[1] is True


def test_one_page_has_no_page_links(mail_app, study):
    make_batches(mail_app, study, 3)
    browser = sign_in_researcher(mail_app)
    rows, links = shown(browser)
    assert len(rows) == 3 and links == {} and 'class="pager"' not in browser.page
