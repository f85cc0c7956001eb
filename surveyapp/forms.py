"""The form base class: CSRF on every form, every message from our own catalogue, and every
text field through the one normalisation path (surveyapp/text.py)."""

from __future__ import annotations

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import EmailField, HiddenField, PasswordField, StringField, TextAreaField, ValidationError
from wtforms.validators import StopValidation

from surveyapp import text

CSRF_EXPIRED = _l(
    "For your security this page had expired, so nothing was saved yet. "
    "What you entered is shown below: please check it and send it again."
)

TOO_LONG = text.TOO_LONG

# WTForms writes this message itself (a radio left empty); naming it here puts it in our
# catalogue so that it is Welsh in Welsh (WTForms' own Welsh catalogue is incomplete).
# Every other validator in the app is given its message explicitly.
WTFORMS_MESSAGES = (_l("Not a valid choice."),)


class _Translations:
    """WTForms asks its Meta for an object with gettext/ngettext; hand it Flask-Babel's."""

    def gettext(self, string):
        return gettext(string)

    def ngettext(self, singular, plural, n):
        return ngettext(singular, plural, n)


class _CSRF(_FlaskFormCSRF):
    def validate_csrf_token(self, form, field):
        try:
            super().validate_csrf_token(form, field)
        except ValidationError as exc:
            raise ValidationError(str(CSRF_EXPIRED)) from exc


def _normaliser(field, clean):
    """A filter, run first, that cleans the field's text; a refused value is kept (with the
    refused characters made visible) and the refusal noted on the field."""

    def normalise(value):
        field.text_refusal = None
        if not isinstance(value, str):
            return value
        try:
            return clean(value)
        except text.TextRefused as refused:
            field.text_refusal = refused
            return text.visible(value)

    return normalise


def _clean_email(value: str) -> str:
    value = text.clean_line(value)
    try:
        return text.normalise_email(value, fold_case=False)
    except text.TextRefused as refused:
        if refused.code == "bad_email":
            return value  # not an address: the field's own validator says so, in its words
        raise


def _refused_first(form, field):
    if field.text_refusal is not None:
        raise StopValidation(field.text_refusal.message)


def _cleaner(field):
    """How a field's text is cleaned, or None for fields that are not free text (passwords
    are taken exactly as typed; hidden fields carry our own values)."""
    if not isinstance(field, StringField) or isinstance(field, PasswordField | HiddenField):
        return None
    if isinstance(field, TextAreaField):
        return text.clean_text
    if isinstance(field, EmailField):
        return _clean_email
    return text.clean_line


class BaseForm(FlaskForm):
    #: A sign-in form says nothing about what is wrong with an address: a refused character
    #: just makes it an address no account has (shown back with U+FFFD where it was).
    quiet_text_refusals = False

    class Meta(FlaskForm.Meta):
        csrf_class = _CSRF

        def get_translations(self, form):
            return _Translations()

        def bind_field(self, form, unbound_field, options):
            field = unbound_field.bind(form=form, **options)
            clean = _cleaner(field)
            if clean is not None:
                field.text_refusal = None
                field.filters = (_normaliser(field, clean), *field.filters)
                if not form.quiet_text_refusals:
                    field.validators = [_refused_first, *field.validators]
            return field

    @property
    def csrf_failed(self) -> bool:
        return bool(getattr(self, "csrf_token", None) is not None and self.csrf_token.errors)
