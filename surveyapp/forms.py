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

# WTForms writes these messages itself; naming them here puts them in our catalogue
# so that they are Welsh in Welsh (WTForms' own Welsh catalogue is incomplete).
WTFORMS_MESSAGES = (
    _l("Not a valid integer value."),
    _l("Not a valid choice."),
    _l("This field is required."),
)


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
