"""The form base class: CSRF on every form, every message from our own catalogue."""

from __future__ import annotations

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import ValidationError

CSRF_EXPIRED = _l(
    "For your security this page had expired, so nothing was saved yet. "
    "What you entered is shown below: please check it and send it again."
)

TOO_LONG = _l("Use no more than %(max)d characters.")

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


class BaseForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        csrf_class = _CSRF

        def get_translations(self, form):
            return _Translations()

    @property
    def csrf_failed(self) -> bool:
        return bool(getattr(self, "csrf_token", None) is not None and self.csrf_token.errors)
