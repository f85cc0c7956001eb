"""Everything about locales in one place: selection, persistence, the switch, validation.

Precedence: a choice made in this request > the participant's stored language > the
signed-in staff member's preference > the session > Accept-Language > the configured default.

At sign-in, a language chosen in this browser while signed out (the header switch on the
sign-in page) wins over the account's and is saved on it; otherwise the account's is used.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.messages.mofile import read_mo
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import force_locale, get_locale, gettext, refresh
from flask_login import current_user

LOCALES = ("cy", "en")
ENDONYMS = {"cy": "Cymraeg", "en": "English"}
SESSION_KEY = "locale"
# Set when someone who is not signed in chooses a language; read once, at the next sign-in.
# ``SESSION_KEY`` alone cannot say it: it also holds the last account's language after sign-out.
CHOSEN_SIGNED_OUT_KEY = "locale_chosen"


class CatalogueError(RuntimeError):
    """The compiled Welsh catalogue is missing or unusable."""


def select_locale() -> str:
    choice = g.get("locale_choice")
    if choice in LOCALES:
        return choice
    participant = g.get("participant")
    if participant is not None and participant.language in LOCALES:
        return participant.language
    user = signed_in_staff()
    if user is not None and user.preferred_language in LOCALES:
        return user.preferred_language
    if session.get(SESSION_KEY) in LOCALES:
        return session[SESSION_KEY]
    best = request.accept_languages.best_match(LOCALES) if request else None
    return best or current_app.config["DEFAULT_LOCALE"]


def current_locale() -> str:
    return str(get_locale() or current_app.config["DEFAULT_LOCALE"])


def other_locale(locale: str | None = None) -> str:
    return "en" if (locale or current_locale()) == "cy" else "cy"


def choose_locale(locale: str) -> None:
    """Make ``locale`` the language for this request, the session and the participant."""
    if locale not in LOCALES:
        raise ValueError(locale)
    g.locale_choice = locale
    session[SESSION_KEY] = locale
    participant = g.get("participant")
    if participant is not None:
        participant.language = locale
    user = signed_in_staff()
    if user is not None:
        user.preferred_language = locale
    elif participant is None:
        session[CHOSEN_SIGNED_OUT_KEY] = True
    refresh()


def adopt_locale_at_sign_in(user) -> str:
    """The language of the session that ``user`` has just signed in to (call after
    ``login_user``): the one chosen in this browser before signing in, if any (then saved on the
    account, like any switch while signed in), else the account's own. The caller commits."""
    chosen = session.pop(CHOSEN_SIGNED_OUT_KEY, False)
    locale = session.get(SESSION_KEY) if chosen else None
    if locale not in LOCALES:
        locale = user.preferred_language
    if locale not in LOCALES:
        locale = current_app.config["DEFAULT_LOCALE"]
    choose_locale(locale)
    return locale


def signed_in_staff():
    """The signed-in staff member, if any (never on a participant's own pages)."""
    if g.get("participant") is not None or not has_request_context():
        return None
    user = current_user
    return user if user and user.is_authenticated else None


def switch_requested() -> str | None:
    """The locale asked for by a form's language-switch button, if any."""
    value = request.form.get("_switch_lang") if request.method == "POST" else None
    return value if value in LOCALES else None


def in_locale(message: str, locale: str) -> str:
    """A UI message in a given language, whatever the page's: for bilingual blocks."""
    with force_locale(locale):
        return gettext(message)


def tr(text: dict | None, locale: str | None = None) -> str:
    """Pick an instrument text object's string in the current language."""
    if not text:
        return ""
    return text.get(locale or current_locale()) or ""


def validate_catalogues(app: Flask) -> None:
    """Fail at start-up, not in front of a participant, if the Welsh catalogue is unusable."""
    base = Path(app.config["TRANSLATIONS_DIR"])
    for locale in LOCALES:
        if locale == app.config.get("SOURCE_LOCALE", "en"):
            continue
        mo = base / locale / "LC_MESSAGES" / "messages.mo"
        if not mo.is_file():
            raise CatalogueError(
                f"{mo.name} for '{locale}' is missing; run 'surveyapp translations compile'."
            )
        with mo.open("rb") as fh:
            catalog = read_mo(fh)
        expected = len(Locale.parse(locale).plural_form.tags) + 1  # + "other"
        if catalog.num_plurals != expected:
            raise CatalogueError(
                f"the '{locale}' catalogue has {catalog.num_plurals} plural forms; CLDR has {expected}."
            )
