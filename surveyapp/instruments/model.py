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
