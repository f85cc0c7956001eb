"""Participant forms. Survey sections are built from the instrument at request time."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from surveyapp.forms import BaseForm
from surveyapp.i18n import tr
from surveyapp.instruments.model import NUMBER_INPUT_LENGTH, ConsentForm, Question, Section
from surveyapp.responses.answers import clean, is_blank, range_message, refused_character, text_problem
from surveyapp.text import visible

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


def _valid_text(question: Question, other: bool = False):
    """The limits the service enforces (``responses.answers``), shown at the field. For
    multiple choice it checks the "other" box from the question's own field, so that an
    autosave of the question (which looks at that field's errors) stops here too."""
    def check(form, field):
        box = form[question.key + OTHER_SUFFIX] if other else field
        posted = box.raw_data[0] if box.raw_data else ""
        if not isinstance(posted, str) or not posted:
            return
        # Control characters as posted (the form's filter has replaced them in ``data``), and
        # the length of the text as it will be stored (one-line boxes fold line breaks).
        multiline = question.type == "long_text" and not other
        problem = (refused_character(posted, allow_bidi=multiline)
                   or text_problem(clean(box.data or ""), question.max_length, multiline=True))
        if problem:
            raise ValidationError(str(problem))
    return check


# Digits in groups of three may be split by a comma or a space (as people write 2,500 or
# 2 500, including the no-break and thin spaces word processors insert); a point marks decimals.
_GROUPED = re.compile(r"^([+-]?)(\d{1,3}(?:[,\u0020\u00a0\u202f\u2009]\d{3})+|\d+)(?:\.(\d+))?$")


def parse_number(raw: str) -> Decimal | None:
    """A typed number as a Decimal, or None when it is not one. "2,500", "2 500", "5.5"."""
    match = _GROUPED.match(raw.strip())
    if not match:
        return None
    sign, whole, fraction = match.groups()
    digits = re.sub(r"\D", "", whole)
    return Decimal(f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}")


class NumberField(Field):
    """A text box for a number (GOV.UK's advice: type=number mangles and hides input).
    ``places`` 0 takes whole numbers only. ``data`` is an int, a float or None."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, *, places: int = 0, minimum=None, maximum=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.places, self.minimum, self.maximum = places, minimum, maximum

    def _value(self):
        if self.raw_data:
            return visible(self.raw_data[0])  # shown back as typed, minus what no box may hold
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist):
        self.data = None
        raw = str(valuelist[0]).strip() if valuelist else ""
        if not raw:
            return
        number = parse_number(raw) if len(raw) <= NUMBER_INPUT_LENGTH else None
        if number is None:
            raise ValueError(_l("Enter a number using digits, for example 12 or 2,500."))
        if self.places == 0:
            if number != number.to_integral_value():
                raise ValueError(_l("Enter a whole number, for example 12."))
            self.data = int(number)
        else:
            if -number.as_tuple().exponent > self.places:
                raise ValueError(_l("Use no more than %(places)d decimal places, for example 5.5.",
                                    places=self.places))
            self.data = int(number) if number == number.to_integral_value() else float(number)
        if self.minimum is not None and self.data < self.minimum or \
                self.maximum is not None and self.data > self.maximum:
            message = range_message(self.minimum, self.maximum)
            self.data = None
            raise ValueError(message)


def _field_for(question: Question):
    label = tr(question.text)
    help_text = tr(question.help)
    kw: dict[str, Any] = {"description": help_text}
    if question.type == "long_text":
        return TextAreaField(label, validators=[_valid_text(question)],
                             render_kw={"maxlength": question.max_length}, **kw)
    if question.type == "short_text":
        return StringField(label, validators=[_valid_text(question)],
                           render_kw={"maxlength": question.max_length}, **kw)
    if question.type in ("integer", "decimal"):
        return NumberField(label, places=question.places, minimum=question.lowest, maximum=question.highest,
                           render_kw={"maxlength": NUMBER_INPUT_LENGTH}, **kw)
    choices = [SelectChoice(o.code, tr(o.label)) for o in question.options]
    codes = {o.code for o in question.options}
    if question.type == "single_choice":
        return RadioField(label, choices=choices, validate_choice=False,
                          validators=[_valid_codes(codes)], **kw)
    if question.other:
        choices.append(SelectChoice(OTHER_CODE, str(_l("Other, please say"))))
        codes.add(OTHER_CODE)
    validators = [_valid_codes(codes)] + ([_valid_text(question, other=True)] if question.other else [])
    return MultiCheckboxField(label, choices=choices, validate_choice=False, validators=validators, **kw)


def section_form_class(section: Section) -> type[BaseForm]:
    attrs: dict[str, Any] = {}
    for question in section.questions:
        attrs[question.key] = _field_for(question)
        if question.type == "multiple_choice" and question.other:
            attrs[question.key + OTHER_SUFFIX] = StringField(str(_l("Please say what else")),
                                                             render_kw={"maxlength": question.max_length})
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
            values[question.key] = None if is_blank(data) else data
        elif question.type in ("integer", "decimal"):
            values[question.key] = data
        elif question.type == "single_choice":
            values[question.key] = data or None
        else:
            chosen = [c for c in (data or []) if c != OTHER_CODE]
            other = form[question.key + OTHER_SUFFIX].data or ""
            other = "" if is_blank(other) else other.strip()
            values[question.key] = {"choices": chosen, "other": other} if (chosen or other) else None
    return values


class EmailLinkForm(BaseForm):
    """"Email me my link": the address is used once to send and never stored."""

    email = EmailField(_l("Email address"), validators=[
        InputRequired(message=_l("Enter the email address to send your link to.")),
        Length(max=254, message=_l("Enter an email address of no more than 254 characters.")),
        Email(message=_l("Enter an email address in the right format, for example name@example.org.")),
    ])
