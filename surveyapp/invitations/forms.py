"""The preview's forms: each carries CSRF (BaseForm); what they confirm is in signed values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import AnyOf

from surveyapp.forms import BaseForm
from surveyapp.invitations.preview import LANGUAGES


class ConfirmForm(BaseForm):
    """"Send 31 invitations": the token the preview issued for exactly the list it showed."""

    token = HiddenField()


class TestEmailForm(BaseForm):
    """"Send a test to me" for one language of the preview."""

    language = HiddenField(validators=[AnyOf(LANGUAGES, message=_l("Choose one of the languages shown."))])
