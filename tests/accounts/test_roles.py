"""Roles that do something: each role's start page and menu, the reviewer's page, a refusal
that names the role, and the staff layout and footer."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask_babel import force_locale, gettext, ngettext

from surveyapp.access import ROLE_TITLES, Role, public
from surveyapp.accounts.services import create_user
from surveyapp.db import db
from tests.conftest import Browser

PASSWORD = "a-long-password-for-tests"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
REFUSAL = ("Your account (role: %(roles)s) cannot open this page. Ask an administrator if you need it.",
           "Your account (roles: %(roles)s) cannot open this page. Ask an administrator if you need it.")
LINK_HELP = "If you were sent a link, check that you used the whole link."
STAFF_FOOTER = ("Safeguarding research in Wales: the research team's console. "
                "Nothing on these pages is loaded from other websites.")
PARTICIPANT_FOOTER = ("Your answers are kept on the research team's own server. "
                      "Nothing on these pages is loaded from other websites.")


def in_language(app, locale: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values)


def refusal(app, locale: str, *roles: Role) -> str:
    with app.test_request_context(), force_locale(locale):
        titles = ", ".join(str(ROLE_TITLES[role]) for role in sorted(roles))
        return ngettext(*REFUSAL, len(roles), roles=titles)


def shown(page: str) -> str:
    """The page as read: entities decoded (a template's own text and a view's are escaped
    differently)."""
    return unescape(page)


@pytest.fixture
def people(app, study):
    """One account per role (and one with two), each in the language named."""
    with app.app_context():
        for email, roles, language in [
            ("researcher@example.org", {Role.RESEARCHER}, "en"),
            ("reviewer@example.org", {Role.REVIEWER}, "cy"),
            ("admin@example.org", {Role.ADMIN}, "en"),
            ("both@example.org", {Role.REVIEWER, Role.RESEARCHER}, "cy"),
        ]:
            create_user(email, email.split("@")[0].title(), PASSWORD, roles, language)
        db.session.commit()


def signed_in(app, email: str):
    client = app.test_client()
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD})
    assert response.status_code == 302
    client.landing = response.location
    return client


def nav_links(page: str) -> list[str]:
    menu = re.search(r'<nav class="staff-nav[^"]*"[^>]*>(.*?)</nav>', page, re.S).group(1)
    return re.findall(r'<a href="([^"]+)"', menu)


@pytest.mark.parametrize(("email", "home", "menu"), [
    ("researcher@example.org", "/researcher/",
     ["/researcher/", "/researcher/nominees/", "/researcher/invitations/", "/researcher/withdrawals/", "/account"]),
    ("reviewer@example.org", "/review/", ["/review/", "/review/audit/", "/account"]),
    ("admin@example.org", "/researcher/", ["/researcher/", "/review/", "/review/audit/", "/admin/users", "/account"]),
    ("both@example.org", "/researcher/",
     ["/researcher/", "/researcher/nominees/", "/researcher/invitations/", "/researcher/withdrawals/", "/review/",
      "/review/audit/", "/account"]),
])
def test_each_role_starts_on_its_own_page_with_its_own_menu(app, people, email, home, menu):
    client = signed_in(app, email)
    assert client.landing == home
    response = client.get(home)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert nav_links(page) == menu
    for path in menu:  # everything in the menu opens
        assert client.get(path).status_code == 200, path
    assert f'<a href="{home}" aria-current="page">' in page


@pytest.mark.parametrize("locale", ["cy", "en"])
def test_the_reviewers_page_is_the_consent_register(app, people, locale):
    client = signed_in(app, "reviewer@example.org")
    client.get(f"/review/?lang={locale}")
    page = client.get("/review/").get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    for message in ("Consent register",
                    "One row per participant with a consent record: the latest record decides the row. "
                    "Participants' answers are never shown here.",
                    "No consent records yet."):
        assert in_language(app, locale, message) in shown(page)


@pytest.mark.parametrize(("email", "path", "roles", "home", "locale"), [
    ("researcher@example.org", "/review/", [Role.RESEARCHER], "/researcher/", "en"),
    ("researcher@example.org", "/admin/users", [Role.RESEARCHER], "/researcher/", "en"),
    ("reviewer@example.org", "/researcher/", [Role.REVIEWER], "/review/", "cy"),
    ("both@example.org", "/admin/users", [Role.RESEARCHER, Role.REVIEWER], "/researcher/", "cy"),
    ("admin@example.org", "/researcher/nominees/", [Role.ADMIN], "/researcher/", "en"),
])
def test_a_member_of_staff_refused_a_page_is_told_it_is_their_role(app, people, email, path, roles, home, locale):
    client = signed_in(app, email)
    response = client.get(path)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    assert refusal(app, locale, *roles) in shown(page)
    assert in_language(app, locale, LINK_HELP) not in shown(page)
    assert f'<a href="{home}">{in_language(app, locale, "Go to your start page")}</a>' in shown(page)


def test_visitors_who_are_not_staff_keep_the_link_advice(make_app, people, study):
    app = make_app()

    @app.get("/test-forbidden")
    @public
    def forbidden():
        from flask import abort

        abort(403)

    anonymous = app.test_client().get("/test-forbidden")
    assert anonymous.status_code == 403
    assert in_language(app, "en", LINK_HELP) in shown(anonymous.get_data(as_text=True))
    # A participant in their survey, then a member of staff, on the same test route.
    participant = Browser(app)
    participant.start(study, "en")
    page = participant.client.get("/test-forbidden").get_data(as_text=True)
    assert in_language(app, "en", LINK_HELP) in shown(page)
    staff = signed_in(app, "researcher@example.org")
    page = staff.get("/test-forbidden").get_data(as_text=True)
    assert refusal(app, "en", Role.RESEARCHER) in shown(page)


# --- one layout, a footer for staff --------------------------------------------------------------

def column_classes(page: str) -> dict[str, set[str]]:
    """The classes that set the width of the header's row, the menu, the content and the footer."""
    found = {
        "header": re.search(r'<header class="site-header">\s*<div class="([^"]*)"', page),
        "nav": re.search(r'<nav class="staff-nav ([^"]*)"', page),
        "main": re.search(r'<main id="main" class="([^"]*)"', page),
        "footer": re.search(r'<footer class="site-footer">\s*<div class="([^"]*)"', page),
    }
    return {part: set(match.group(1).split()) if match else set() for part, match in found.items()}


def test_staff_pages_share_one_width_and_speak_to_staff(app, people, study):
    client = signed_in(app, "both@example.org")
    for path in ("/researcher/", "/researcher/nominees/", "/review/", "/account"):
        page = client.get(path).get_data(as_text=True)
        columns = column_classes(page)
        assert all({"wrap", "wrap--staff"} <= classes for classes in columns.values()), (path, columns)
        assert in_language(app, "cy", STAFF_FOOTER) in shown(page)
        assert in_language(app, "cy", PARTICIPANT_FOOTER) not in shown(page)
        assert re.search(r'<footer.*<a href="/account">', page, re.S), path
    # A participant's pages keep their reading width and their own footer.
    page = app.test_client().get(f"/s/{study.slug}").get_data(as_text=True)
    assert "wrap--staff" not in page and "staff-nav" not in page
    login = app.test_client().get("/login?lang=en", follow_redirects=True).get_data(as_text=True)
    assert "wrap--staff" not in login and in_language(app, "en", STAFF_FOOTER) in shown(login)
