"""The form a researcher fills in while taking consent aloud: one explicit answer per statement
(nothing chosen for them), the language used, when and in which language the information sheet
was sent, and a confirmation that the answers are the participant's own, noted at the time."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectChoice
from wtforms.validators import DataRequired, InputRequired, StopValidation, ValidationError

from surveyapp.db import utcnow
from surveyapp.forms import BaseForm
from surveyapp.instruments.model import ConsentForm

AGREED, NOT_AGREED = "agreed", "not_agreed"
# The languages are named by their own names, as the language switch names them.
LANGUAGE_CHOICES = [SelectChoice("cy", "Cymraeg"), SelectChoice("en", "English")]
ANSWER_CHOICES = [SelectChoice(AGREED, _l("Agreed")), SelectChoice(NOT_AGREED, _l("Not agreed"))]


class SheetDateField(DateField):
    """A date from ``<input type="date">``; a blank is left to DataRequired, and anything
    else that is not a date gets our own message (WTForms' is not in our catalogue)."""

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("Enter a real date, for example 2026-11-30."))) from exc

    def pre_validate(self, form):
        if self.process_errors:  # not a date: say only that (DataRequired would replace it)
            raise StopValidation()


def _not_in_future(form, field):
    if field.data is not None and field.data > utcnow().date():
        raise StopValidation(_l("The date the information sheet was sent cannot be in the future."))


def _item_answered(number: int):
    def check(form, field):
        if field.data not in (AGREED, NOT_AGREED):
            raise StopValidation(_l("Statement %(number)d: choose agreed or not agreed.", number=number))
    return check


class VerbalConsentBase(BaseForm):
    item_ids: list[str] = []

    def validate_language(self, field):
        if field.data in ("cy", "en") and self.shown.data in ("cy", "en") and field.data != self.shown.data:
            raise ValidationError(_l("The statements were shown in the other language. Show them in the language "
                                     "used, read them to the participant again and record their answers."))

    def agreed(self) -> dict[str, bool]:
        return {item_id: self[f"item_{item_id}"].data == AGREED for item_id in self.item_ids}


def verbal_consent_form_class(consent_form: ConsentForm) -> type[VerbalConsentBase]:
    """The fields in the page's order (the error summary lists them so): the language used, one
    radio per statement labelled by its number (its text, in the language used, is on the page),
    then the information sheet and the confirmation."""
    attrs: dict = {
        "item_ids": [item.id for item in consent_form.items],
        "language": RadioField(_l("Language used"), choices=LANGUAGE_CHOICES,
                               validators=[InputRequired(message=_l("Choose the language used."))]),
        "shown": HiddenField(),  # the language the statements were shown in on the page read from
    }
    for number, item in enumerate(consent_form.items, start=1):
        attrs[f"item_{item.id}"] = RadioField(_l("Statement %(number)d", number=number), choices=ANSWER_CHOICES,
                                              validate_choice=False, validators=[_item_answered(number)])
    attrs["sheet_sent_on"] = SheetDateField(_l("Date the information sheet was sent"), validators=[
        DataRequired(message=_l("Enter the date the information sheet was sent.")), _not_in_future])
    attrs["sheet_language"] = RadioField(
        _l("Language of the information sheet sent"), choices=LANGUAGE_CHOICES,
        validators=[InputRequired(message=_l("Choose the language of the information sheet sent."))])
    attrs["confirm"] = BooleanField(
        _l("I read each statement to the participant and recorded the answers they gave, at the time."),
        validators=[DataRequired(message=_l("Confirm that you read each statement and recorded the answers "
                                            "at the time."))])
    return type("VerbalConsentForm", (VerbalConsentBase,), attrs)
