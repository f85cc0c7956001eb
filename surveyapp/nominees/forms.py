from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import EmailField, HiddenField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from surveyapp.forms import TOO_LONG, BaseForm
from surveyapp.i18n import current_locale
from surveyapp.nominees.models import DECLINED_REASON_LENGTH, EMAIL_LENGTH, NAME_LENGTH, ROLE_LENGTH
from surveyapp.reference import AGENCIES, LANGUAGE_PREFERENCES, SERVICE_AREAS, local_authorities


def _choices(titles: dict) -> list[SelectChoice]:
    return [SelectChoice(code, title) for code, title in titles.items()]


class UploadForm(BaseForm):
    file = FileField(_l("Nominee list (CSV or Excel .xlsx)"), validators=[
        FileRequired(message=_l("Choose a file to upload.")),
        FileAllowed(["csv", "xlsx"], message=_l("Upload a .csv or .xlsx file.")),
    ])


class ConfirmImportForm(BaseForm):
    """Carries the checked file back so that only its valid rows can be imported."""

    filename = HiddenField()
    content = HiddenField()  # the file, base64 (not "data": that name is WTForms' own)


class JobForm(BaseForm):
    """Only a CSRF token: the choice to add a checked job's valid rows."""


class NomineeForm(BaseForm):
    """Names, emails and roles are cleaned as the importer cleans them (surveyapp/text.py)."""

    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter a name.")),
                                               Length(max=NAME_LENGTH, message=TOO_LONG)])
    email = EmailField(_l("Email address"), validators=[
        DataRequired(message=_l("Enter an email address.")),
        Length(max=EMAIL_LENGTH, message=TOO_LONG),
        Email(message=_l("Enter an email address like name@example.org."), check_deliverability=False),
    ])
    la_code = SelectField(_l("Local authority"))
    service_area = RadioField(_l("Service area"), choices=_choices(SERVICE_AREAS))
    agency = SelectField(_l("Agency"), choices=_choices(AGENCIES))
    role = StringField(_l("Role or job title"), validators=[Length(max=ROLE_LENGTH, message=TOO_LONG)])
    preferred_language = RadioField(_l("Preferred language"), choices=_choices(LANGUAGE_PREFERENCES))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        locale = current_locale()
        self.la_code.choices = sorted((SelectChoice(la.code, la.name(locale)) for la in local_authorities().values()),
                                      key=lambda c: c.label)


class DeclineForm(BaseForm):
    """Marking a nominee declined: why (they said so by email or phone), cleaned by BaseForm."""

    reason = TextAreaField(_l("Why they declined"), description=_l(
        "For example: \"Replied by email that they do not have time\". Up to 500 characters."),
        validators=[DataRequired(message=_l("Enter why they declined.")),
                    Length(max=DECLINED_REASON_LENGTH, message=TOO_LONG)])


class ConfirmForm(BaseForm):
    """Only a CSRF token: the confirmation of an action named on its page."""
