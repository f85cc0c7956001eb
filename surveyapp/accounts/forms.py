from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from surveyapp.access import ROLE_TITLES, Role
from surveyapp.accounts.models import User
from surveyapp.accounts.services import MIN_PASSWORD_LENGTH
from surveyapp.forms import TOO_LONG, BaseForm

# The user table's column lengths; the form refuses more, so no database sees it.
NAME_LENGTH, EMAIL_LENGTH = User.__table__.c.name.type.length, User.__table__.c.email.type.length

# Named in the reader's language, as everything on a staff page is (only the header's switch
# names each language in itself).
LANGUAGE_CHOICES = [SelectChoice("cy", _l("Welsh")), SelectChoice("en", _l("English"))]
_password_length = Length(min=MIN_PASSWORD_LENGTH,
                          message=_l("Use at least %(min)d characters."))


class LoginForm(BaseForm):
    # An address with a refused character is one no account has: the ordinary wrong sign-in.
    quiet_text_refusals = True

    email = EmailField(_l("Email address"), validators=[DataRequired(message=_l("Enter your email address.")),
                                                        Length(max=EMAIL_LENGTH, message=TOO_LONG)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])


class PasswordForm(BaseForm):
    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(message=_l("Enter your current password."))])
    new = PasswordField(_l("New password"),
                        validators=[DataRequired(message=_l("Enter a new password.")), _password_length])
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("new", message=_l("The two new passwords are not the same."))])


class LanguageForm(BaseForm):
    language = RadioField(_l("Language for these pages and emails to you"), choices=LANGUAGE_CHOICES)


class RolesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices():
    return [SelectChoice(role.value, ROLE_TITLES[role]) for role in Role]


class UserForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter a name.")),
                                               Length(max=NAME_LENGTH, message=TOO_LONG)])
    email = EmailField(_l("Email address"), validators=[
        DataRequired(message=_l("Enter an email address.")),
        Length(max=EMAIL_LENGTH, message=TOO_LONG),
        Email(message=_l("Enter an email address like name@example.org."), check_deliverability=False),
    ])
    roles = RolesField(_l("Roles"), choices=_role_choices())
    language = RadioField(_l("Language"), choices=LANGUAGE_CHOICES, default="cy")
    active = BooleanField(_l("Account can sign in"), default=True)
    password = PasswordField(_l("Set a password"),
                             description=_l("Leave empty to keep the current password."))
