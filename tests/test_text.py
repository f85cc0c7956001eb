"""The one normalisation path (surveyapp/text.py) and the form base class that puts every text
field through it; the sign-in form, where a refused character is an ordinary wrong sign-in."""

from __future__ import annotations

import re
import unicodedata

import pytest
from wtforms import EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email

from surveyapp import text
from surveyapp.access import Role
from surveyapp.accounts.services import create_user
from surveyapp.db import db
from surveyapp.forms import BaseForm

W_DECOMPOSED = "w\u0302"  # w + COMBINING CIRCUMFLEX ACCENT
W_COMPOSED = "\u0175"  # ŵ
PASSWORD = "a-long-password-123"


# --- the functions --------------------------------------------------------------------------

def test_a_line_is_composed_trimmed_and_on_one_line():
    assert text.clean_line(f"  Gwen {W_DECOMPOSED}yn\r\nJones\t\u00a0 Hughes \n") == f"Gwen {W_COMPOSED}yn Jones Hughes"
    assert unicodedata.is_normalized("NFC", text.clean_line("Sia\u0302n"))


def test_multi_line_text_keeps_its_lines_and_tabs():
    assert text.clean_text(" one\r\ntwo\rthree\tfour \n") == " one\ntwo\nthree\tfour \n"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\ud800",
                                  "\udfff"])
def test_control_characters_and_lone_surrogates_are_refused_not_removed(char):
    for clean in (text.clean_line, text.clean_text):
        with pytest.raises(text.TextRefused) as refused:
            clean(f"Catrin{char}Hughes")
        assert refused.value.code == "control_character"
        assert refused.value.params["code"] == f"U+{ord(char):04X}"


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069"])
def test_bidi_controls_are_refused_in_a_line_but_not_in_long_text(char):
    with pytest.raises(text.TextRefused) as refused:
        text.clean_line(f"gpj.{char}exe")
    assert refused.value.code == "bidi_control"
    assert text.clean_text(f"gpj.{char}exe") == f"gpj.{char}exe"


def test_marks_that_are_not_controls_pass():
    # Right-to-left mark and zero-width joiner are ordinary in some scripts; only the
    # embedding, override and isolate controls can reorder what is around them.
    assert text.clean_line("\u05e9\u05dc\u05d5\u05dd\u200f x") == "\u05e9\u05dc\u05d5\u05dd\u200f x"


def test_length_is_counted_after_cleaning():
    assert text.clean_line("a\r\n\r\nb", max_length=3) == "a b"
    with pytest.raises(text.TextRefused) as refused:
        text.clean_line("x" * 201, max_length=200)
    assert (refused.value.code, refused.value.params) == ("too_long", {"max": 200, "length": 201})


def test_the_same_address_typed_two_ways_is_one_address():
    composed = text.normalise_email(f"{W_COMPOSED}ales@example.org")
    assert text.normalise_email(f" {W_DECOMPOSED.upper()}ales@EXAMPLE.org ") == composed == "\u0175ales@example.org"
    assert text.normalise_email(f"{W_DECOMPOSED.upper()}ales@EXAMPLE.org", fold_case=False) == "\u0174ales@example.org"
    assert unicodedata.is_normalized("NFC", composed)
    with pytest.raises(text.TextRefused) as refused:
        text.normalise_email("not-an-address")
    assert refused.value.code == "bad_email"
    with pytest.raises(text.TextRefused) as refused:
        text.normalise_email("a\x00@example.org")
    assert refused.value.code == "control_character"


def test_values_quoted_back_cannot_hide_or_reorder():
    assert text.visible("evil\u202egpj.exe\x00\r\nx") == "evil\ufffdgpj.exe\ufffd x"
    assert text.isolated("\u202eName") == "\u2068\ufffdName\u2069"


# --- every form gets it ---------------------------------------------------------------------

class _Form(BaseForm):
    name = StringField(validators=[DataRequired(message="need a name")])
    email = EmailField(validators=[Email(message="bad address", check_deliverability=False)])
    notes = TextAreaField()
    password = PasswordField()
    carried = HiddenField()


def _post(app, data, form_class=_Form):
    with app.test_request_context(method="POST", data=data):
        app.config["WTF_CSRF_ENABLED"] = False
        try:
            form = form_class()
            ok = form.validate()
            return ok, {f.name: f.data for f in form}, {f.name: f.errors for f in form if f.errors}
        finally:
            app.config["WTF_CSRF_ENABLED"] = True


def test_every_text_field_of_a_form_is_cleaned(app):
    ok, data, errors = _post(app, {"name": f" Gwen{W_DECOMPOSED}\r\nJones ", "email": f"{W_DECOMPOSED}ales@Example.ORG",
                                   "notes": "line one\r\nline two", "password": " \u202e kept as typed ",
                                   "carried": " ours "})
    assert ok, errors
    assert data == {"name": f"Gwen{W_COMPOSED} Jones", "email": f"{W_COMPOSED}ales@example.org",  # domain lowered
                    "notes": "line one\nline two", "password": " \u202e kept as typed ", "carried": " ours "}


def test_a_refused_character_is_the_one_error_of_its_field_in_the_users_language(app):
    ok, data, errors = _post(app, {"name": "Catrin\x00Hughes", "email": "a\u202e@example.org", "notes": "ok\x07"})
    assert not ok
    assert set(errors) == {"name", "email", "notes"}
    with app.test_request_context():
        assert errors["name"] == [str(text.CONTROL_CHARACTER) % {"code": "U+0000"}]
        assert errors["email"] == [str(text.BIDI_CONTROL) % {"code": "U+202E"}]  # and not "bad address" too
        assert errors["notes"] == [str(text.CONTROL_CHARACTER) % {"code": "U+0007"}]
    # Shown back with the refused character made visible, never the character itself.
    assert data["name"] == "Catrin\ufffdHughes"


# --- the sign-in form -----------------------------------------------------------------------

WRONG = "The email address or password is not right."


@pytest.fixture
def account(app, study):
    with app.app_context():
        create_user("lead@example.org", "Arweinydd", PASSWORD, {Role.RESEARCHER}, "en")
        db.session.commit()


def _login(app, email, password=PASSWORD):
    client = app.test_client()
    page = client.get("/login?lang=en", follow_redirects=True).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


@pytest.mark.parametrize("email", ["a\x00@x", "lead\x00@example.org", "lead@example.org\u202e",
                                   "a" * 400 + "@x"])
def test_a_sign_in_with_a_refused_character_is_an_ordinary_wrong_sign_in(app, account, email):
    response = _login(app, email)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    if len(email) <= 320:
        assert WRONG in page
        assert "control character" not in page and "direction of text" not in page


def test_a_sign_in_with_the_address_typed_decomposed_or_in_capitals_works(app, study):
    with app.app_context():
        create_user(f"{W_COMPOSED}ales@example.org", "Ŵales", PASSWORD, {Role.RESEARCHER}, "en")
        db.session.commit()
    assert _login(app, f"{W_DECOMPOSED.upper()}ALES@example.org").status_code == 302
