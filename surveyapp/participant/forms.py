"""Participant forms. Survey sections are built from the instrument at request time."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from surveyapp.forms import BaseForm
from surveyapp.i18n import tr
from surveyapp.instruments.model import ConsentForm, Question, Section

OTHER_SUFFIX = "__other"
OTHER_CODE = "_other"


class ActionForm(BaseForm):
    """Only the CSRF token, for a page whose buttons carry the choice (language, submit, decline)."""


def consent_form_class(form: ConsentForm) -> type[BaseForm]:
    attrs = {f"item_{item.id}": BooleanField(tr(item.text), default=False) for item in form.items}
    return type("ConsentForm", (BaseForm,), attrs)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _valid_codes(codes: set[str]):
    def check(form, field):
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(v not in codes for v in values if v):
            raise ValidationError(_l("Choose one of the options given."))
    return check


def _range_message(question: Question):
    if question.min is not None and question.max is not None:
        return _l("Enter a whole number from %(min)s to %(max)s.")
    if question.min is not None:
        return _l("Enter a whole number of at least %(min)s.")
    return _l("Enter a whole number no greater than %(max)s.")


def _whole_number(form, field):
    """Blank is fine (not answered); anything else must be digits. One clear message."""
    raw = str(field.raw_data[0]).strip() if field.raw_data else ""
    field.errors[:] = []
    if not raw:
        raise StopValidation()
    if field.data is None:
        raise StopValidation(_l("Enter a whole number using digits only, for example 12."))


def _field_for(question: Question):
    label = tr(question.text)
    help_text = tr(question.help)
    kw: dict[str, Any] = {"description": help_text}
    if question.type == "long_text":
        return TextAreaField(label, **kw)
    if question.type == "short_text":
        return StringField(label, **kw)
    if question.type == "integer":
        validators = [_whole_number]
        if question.min is not None or question.max is not None:
            validators.append(NumberRange(question.min, question.max, message=_range_message(question)))
        # A text box, not type=number (GOV.UK's advice: number inputs mangle and hide input).
        return IntegerField(label, validators=validators, widget=TextInput(), **kw)
    choices = [SelectChoice(o.code, tr(o.label)) for o in question.options]
    codes = {o.code for o in question.options}
    if question.type == "single_choice":
        return RadioField(label, choices=choices, validate_choice=False,
                          validators=[_valid_codes(codes)], **kw)
    if question.other:
        choices.append(SelectChoice(OTHER_CODE, str(_l("Other, please say"))))
        codes.add(OTHER_CODE)
    return MultiCheckboxField(label, choices=choices, validate_choice=False,
                              validators=[_valid_codes(codes)], **kw)


def section_form_class(section: Section) -> type[BaseForm]:
    attrs: dict[str, Any] = {}
    for question in section.questions:
        attrs[question.key] = _field_for(question)
        if question.type == "multiple_choice" and question.other:
            attrs[question.key + OTHER_SUFFIX] = StringField(str(_l("Please say what else")))
    return type("SectionForm", (BaseForm,), attrs)


def form_data_for(section: Section, answers: dict[str, Any]) -> dict[str, Any]:
    """Saved answers -> field data, for showing a saved section."""
    data: dict[str, Any] = {}
    for question in section.questions:
        value = answers.get(question.key)
        if question.type == "multiple_choice":
            value = value or {}
            choices = list(value.get("choices", []))
            if value.get("other"):
                choices.append(OTHER_CODE)
                data[question.key + OTHER_SUFFIX] = value["other"]
            data[question.key] = choices
        else:
            data[question.key] = value
    return data


def values_from(form: BaseForm, section: Section, *, only_valid: bool) -> dict[str, Any]:
    """Field data -> answer values (``None`` clears). With ``only_valid`` a field that
    failed validation is left out, so a draft save keeps the last good value."""
    values: dict[str, Any] = {}
    for question in section.questions:
        field = form[question.key]
        if only_valid and field.errors:
            continue
        data = field.data
        if question.type in ("long_text", "short_text"):
            values[question.key] = data if data and data.strip() else None
        elif question.type == "integer":
            values[question.key] = data
        elif question.type == "single_choice":
            values[question.key] = data or None
        else:
            chosen = [c for c in (data or []) if c != OTHER_CODE]
            other = (form[question.key + OTHER_SUFFIX].data or "").strip()
            values[question.key] = {"choices": chosen, "other": other} if (chosen or other) else None
    return values
