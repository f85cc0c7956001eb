"""Forms for withdrawing: the participant's own, and the researcher's record and decision."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from surveyapp.db import utcnow
from surveyapp.forms import TOO_LONG, BaseForm
from surveyapp.withdrawal.models import SCOPE_TITLES, Channel, Scope

REASON_LENGTH = 500

# WTForms writes this message itself (a date it cannot read); naming it here puts it in our
# catalogue (as surveyapp.forms does for its radio message).
WTFORMS_MESSAGES = (_l("Not a valid date value."),)


def _scope_choices() -> list[SelectChoice]:
    return [SelectChoice(scope.value, SCOPE_TITLES[scope]) for scope in Scope]


class ParticipantWithdrawForm(BaseForm):
    """The participant's own request: which scope, and a tick to confirm."""

    scope = RadioField(_l("What would you like to withdraw?"), choices=_scope_choices(),
                       validators=[InputRequired(message=_l("Choose what you would like to withdraw."))])
    confirm = BooleanField(_l("I understand, and I want to withdraw from the study."),
                           validators=[DataRequired(message=_l("Tick the box to confirm that you want to withdraw."))])


def _not_in_future(form, field) -> None:
    if field.data is not None and field.data > utcnow().date():
        raise ValidationError(_l("The date received cannot be in the future."))


class RecordWithdrawalForm(BaseForm):
    """A withdrawal a researcher heard about by email or phone."""

    participant = StringField(
        _l("Participant"),
        description=_l("Their participant ID (for example P12) or the reference on their confirmation page "
                       "(for example ABCD-EFGH)."),
        validators=[DataRequired(message=_l("Enter the participant ID or reference.")),
                    Length(max=40, message=TOO_LONG)])
    channel = RadioField(_l("How they asked"), choices=[
        SelectChoice(Channel.EMAIL.value, _l("By email")), SelectChoice(Channel.PHONE.value, _l("By phone"))],
        validators=[InputRequired(message=_l("Choose how they asked."))])
    scope = RadioField(_l("What they want to withdraw"), choices=_scope_choices(),
                       validators=[InputRequired(message=_l("Choose what they want to withdraw."))])
    received_on = DateField(_l("Date received"), default=lambda: utcnow().date(),
                            validators=[InputRequired(message=_l("Enter the date the request was received.")),
                                        _not_in_future])
    confirm = BooleanField(_l("I have checked that this is the right participant."),
                           validators=[DataRequired(message=_l("Tick the box to confirm."))])


class DecideForm(BaseForm):
    """A researcher's decision on a withdrawal asked for after the cut-off."""

    decision = RadioField(_l("Decision"), choices=[
        SelectChoice("apply", _l("Withdraw the answers (they are erased)")),
        SelectChoice("keep", _l("Keep the answers"))],
        validators=[InputRequired(message=_l("Choose a decision."))])
    reason = TextAreaField(_l("Reason"), description=_l("Needed when the answers are kept. Up to 500 characters."),
                           validators=[Length(max=REASON_LENGTH, message=TOO_LONG)])

    def validate_reason(self, field) -> None:
        if self.decision.data == "keep" and not (field.data or "").strip():
            raise ValidationError(_l("Enter why the answers are kept."))
