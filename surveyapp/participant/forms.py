"""Participant forms. Survey sections are built from the instrument at request time."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
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
from wtforms.fields.core import Flags
from wtforms.validators import Email, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextArea, TextInput, html_params

from surveyapp import text
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


def _other_field(question: Question):
    return StringField(str(_l("Please say what else")), render_kw={"maxlength": question.max_length})


def _fields_for(question: Question) -> dict[str, Any]:
    """The field of one question, and its "Other, please say" box when it has one."""
    fields = {question.key: _field_for(question)}
    if question.type == "multiple_choice" and question.other:
        fields[question.key + OTHER_SUFFIX] = _other_field(question)
    return fields


def section_form_class(section: Section) -> type[BaseForm]:
    attrs: dict[str, Any] = {}
    for question in section.questions:
        attrs.update(_fields_for(question))
    return type("SectionForm", (BaseForm,), attrs)


def question_form_class(question: Question) -> type[BaseForm]:
    """A form of one question, with the same fields and checks as on its section's form:
    what an autosave validates. Build it with ``meta={"csrf": False}`` once the token has
    been checked on its own."""
    return type("QuestionForm", (BaseForm,), _fields_for(question))


# -- showing a section without building its form ----------------------------------------------
#
# A section shown to be read (a GET) validates nothing, so it need not pay for a WTForms form:
# these stand in for the fields with what the question macro reads, and render text boxes with
# WTForms' own widgets, so the page is the same as one built from ``section_form_class``
# (tests/participant/test_section_html.py compares the two). Data goes through the same
# cleaning as a form's field would give it.

_NO_FLAGS = Flags()


class _ShownField:
    errors: tuple = ()
    flags = _NO_FLAGS

    def __init__(self, name: str, field_type: str, label: str, description: str | None, data: Any, *,
                 widget=None, render_kw: dict | None = None, choices=()):
        self.id = self.name = name
        self.type = field_type
        self.label = SimpleNamespace(text=label)
        self.description = description
        self.data = data
        self.widget = widget
        self.render_kw = render_kw or {}
        self._choices = choices

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)

    def __call__(self, **kwargs) -> Markup:
        return self.widget(self, **dict(self.render_kw, **kwargs))

    def __iter__(self):
        chosen = self.data if isinstance(self.data, list) else [self.data]
        for index, (code, label) in enumerate(self._choices):
            yield SimpleNamespace(id=f"{self.id}-{index}", data=code, checked=code in chosen,
                                  label=SimpleNamespace(text=label))


def _shown_text(value: Any, clean) -> Any:
    """A stored text as a form's field shows it: through the field's cleaning filter."""
    if not isinstance(value, str):
        return value
    try:
        return clean(value)
    except text.TextRefused:
        return text.visible(value)


def _shown_fields(question: Question, data: dict[str, Any]) -> list[_ShownField]:
    key, kind = question.key, question.type
    label, description, value = tr(question.text), tr(question.help), data.get(key)
    if kind in ("long_text", "short_text"):
        long = kind == "long_text"
        return [_ShownField(key, "TextAreaField" if long else "StringField", label, description,
                            _shown_text(value, text.clean_text if long else text.clean_line),
                            widget=TextArea() if long else TextInput(),
                            render_kw={"maxlength": question.max_length})]
    if kind in ("integer", "decimal"):
        return [_ShownField(key, "NumberField", label, description, value, widget=TextInput(),
                            render_kw={"maxlength": NUMBER_INPUT_LENGTH})]
    choices = [(o.code, tr(o.label)) for o in question.options]
    if kind == "single_choice":
        return [_ShownField(key, "RadioField", label, description, None if value is None else str(value),
                            choices=choices)]
    if question.other:
        choices.append((OTHER_CODE, str(_l("Other, please say"))))
    chosen = [str(v) for v in value] if isinstance(value, list) else None
    fields = [_ShownField(key, "MultiCheckboxField", label, description, chosen, choices=choices)]
    if question.other:
        fields.append(_ShownField(key + OTHER_SUFFIX, "StringField", str(_l("Please say what else")), None,
                                  _shown_text(data.get(key + OTHER_SUFFIX), text.clean_line),
                                  widget=TextInput(), render_kw={"maxlength": question.max_length}))
    return fields


class ShownSection:
    """A section's fields for showing, read as a form is by the section template: by name,
    in order, with its CSRF token field."""

    def __init__(self, section: Section, data: dict[str, Any]):
        self._fields = {f.name: f for q in section.questions for f in _shown_fields(q, data)}
        self.csrf_token = _ShownCsrf()

    def __getitem__(self, name: str) -> _ShownField:
        return self._fields[name]

    def __iter__(self):
        yield self.csrf_token
        yield from self._fields.values()


class _ShownCsrf:
    errors: tuple = ()

    def __init__(self):
        self.name = self.id = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")

    def __html__(self) -> Markup:
        params = html_params(id=self.id, type="hidden", value=generate_csrf(), name=self.name)
        return Markup(f"<input {params}>")

    __str__ = __html__


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
    return {question.key: value_from(form, question) for question in section.questions
            if not (only_valid and form[question.key].errors)}


def value_from(form: BaseForm, question: Question) -> Any:
    """One question's field data -> its answer value (``None`` clears)."""
    data = form[question.key].data
    if question.type in ("long_text", "short_text"):
        return None if is_blank(data) else data
    if question.type in ("integer", "decimal"):
        return data
    if question.type == "single_choice":
        return data or None
    chosen = [c for c in (data or []) if c != OTHER_CODE]
    other = form[question.key + OTHER_SUFFIX].data or ""
    other = "" if is_blank(other) else other.strip()
    return {"choices": chosen, "other": other} if (chosen or other) else None


class EmailLinkForm(BaseForm):
    """"Email me my link": the address is used once to send and never stored."""

    email = EmailField(_l("Email address"), validators=[
        InputRequired(message=_l("Enter the email address to send your link to.")),
        Length(max=254, message=_l("Enter an email address of no more than 254 characters.")),
        Email(message=_l("Enter an email address in the right format, for example name@example.org.")),
    ])
