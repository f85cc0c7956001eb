"""Read-only views over a stored instrument's content, for templates and services."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

TextObj = dict[str, str]


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n") if p.strip()]


# Rough reading-and-answering times by question type, for the time estimate: a choice is
# read and clicked, a number may need looking up, open questions are where the time goes.
SECONDS_PER_QUESTION = {
    "single_choice": 15,
    "multiple_choice": 30,
    "integer": 30,
    "decimal": 30,
    "short_text": 30,
    "long_text": 180,
}

# How long a typed answer may be, in characters (Unicode code points after NFC, a line break
# counting as one), when the question does not say (its ``max_length``). These defaults live
# here, not in the stored content: adding them changed no version's content hash, and every
# version already answered keeps its hash. A file that states ``max_length`` makes the limit
# part of its text (hashed, so it cannot be added to a used version). For multiple_choice the
# limit is that of the "Other, please say" box.
DEFAULT_MAX_LENGTH = {"short_text": 500, "long_text": 100_000, "multiple_choice": 500}
# The most a file may allow: a long answer still fits the request limit on a page of several.
MAX_LENGTH_CEILING = {"short_text": 2_000, "long_text": 100_000, "multiple_choice": 2_000}
# Numbers without min/max stay within 15 digits: exact in every JSON reader (under 2**53).
NUMBER_LIMIT = 999_999_999_999_999
# Characters a number box takes, with grouping separators, sign and decimals.
NUMBER_INPUT_LENGTH = 40


@dataclass(frozen=True)
class Option:
    code: str
    label: TextObj


@dataclass(frozen=True)
class Question:
    raw: dict[str, Any]

    key = property(lambda self: self.raw["key"])
    type = property(lambda self: self.raw["type"])
    text = property(lambda self: self.raw["text"])
    help = property(lambda self: self.raw.get("help"))
    required = property(lambda self: bool(self.raw.get("required", False)))
    other = property(lambda self: bool(self.raw.get("other", False)))
    min = property(lambda self: self.raw.get("min"))
    max = property(lambda self: self.raw.get("max"))
    places = property(lambda self: self.raw.get("places", 0))  # decimal places allowed (decimal only)
    show_if = property(lambda self: self.raw.get("show_if"))

    @property
    def max_length(self) -> int | None:
        """Most characters the typed answer may have (for multiple_choice, the "other" text):
        the question's own ``max_length``, else the default for its type; None when nothing
        is typed as text."""
        if self.type not in DEFAULT_MAX_LENGTH or self.type == "multiple_choice" and not self.other:
            return None
        return self.raw.get("max_length", DEFAULT_MAX_LENGTH[self.type])

    @property
    def lowest(self) -> int | float:
        """The smallest number accepted: ``min``, else the platform's bound."""
        return -NUMBER_LIMIT if self.min is None else self.min

    @property
    def highest(self) -> int | float:
        """The largest number accepted: ``max``, else the platform's bound."""
        return NUMBER_LIMIT if self.max is None else self.max

    @cached_property
    def options(self) -> list[Option]:
        return [Option(o["code"], o["label"]) for o in self.raw.get("options", [])]

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    def is_shown(self, answers: dict[str, Any]) -> bool:
        """Whether ``show_if`` holds for the saved answers (always true without one)."""
        cond = self.show_if
        if not cond:
            return True
        value = answers.get(cond["question"])
        if "equals" in cond:
            return value == cond["equals"]
        return isinstance(value, dict) and cond["includes"] in value.get("choices", [])


@dataclass(frozen=True)
class Section:
    raw: dict[str, Any]

    id = property(lambda self: self.raw["id"])
    title = property(lambda self: self.raw["title"])
    intro = property(lambda self: self.raw.get("intro"))

    @cached_property
    def questions(self) -> list[Question]:
        return [Question(q) for q in self.raw["questions"]]


@dataclass(frozen=True)
class Survey:
    raw: dict[str, Any]

    title = property(lambda self: self.raw["title"])
    intro = property(lambda self: self.raw.get("intro"))

    @cached_property
    def sections(self) -> list[Section]:
        return [Section(s) for s in self.raw["sections"]]

    @cached_property
    def questions(self) -> dict[str, Question]:
        return {q.key: q for s in self.sections for q in s.questions}

    @cached_property
    def estimated_minutes(self) -> int:
        """How long answering online is likely to take, from the number and kind of questions
        (every question counted, routed or not), rounded up to five minutes. An estimate, and
        said to be one wherever it is shown."""
        seconds = sum(SECONDS_PER_QUESTION[q.type] for q in self.questions.values())
        return max(5, -(-seconds // 300) * 5)

    def section_index(self, section_id: str) -> int | None:
        return next((i for i, s in enumerate(self.sections) if s.id == section_id), None)


@dataclass(frozen=True)
class ConsentItem:
    id: str
    text: TextObj
    required: bool


@dataclass(frozen=True)
class ConsentForm:
    raw: dict[str, Any]

    title = property(lambda self: self.raw["title"])
    intro = property(lambda self: self.raw["intro"])

    @cached_property
    def items(self) -> list[ConsentItem]:
        return [ConsentItem(i["id"], i["text"], bool(i["required"])) for i in self.raw["items"]]


@dataclass(frozen=True)
class InformationSheet:
    raw: dict[str, Any]

    title = property(lambda self: self.raw["title"])

    @property
    def sections(self) -> list[dict[str, Any]]:
        return self.raw["sections"]
