"""What an answer may hold, and when a question counts as answered. Pure: no database.

Characters are counted as a participant sees them: Unicode code points after NFC, with a line
break counted once (``ŵ`` typed as ``w`` plus a combining circumflex is one character).
Browsers count ``maxlength`` in UTF-16 code units, where an emoji takes two, so the box in the
page is never more generous than this check.

An answer made only of characters that show nothing (spaces of any kind, line breaks, zero-width
and other format characters, fillers) is no answer: it is stored as empty and does not satisfy
a required question. Control characters other than a line break or tab in long text are
refused (``surveyapp.text``, the check every input goes through): nobody types them, and
PostgreSQL cannot store NUL.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from surveyapp.instruments.model import Question
from surveyapp.text import first_refused

TEXT_TYPES = ("short_text", "long_text")
# Default-ignorable or blank-looking code points outside categories Z*, Cc and Cf: the
# combining grapheme joiner, Hangul and Khmer fillers, the Mongolian vowel separator, the
# blank Braille pattern and variation selectors.
_BLANK_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0")


def clean(value: Any) -> Any:
    """NFC-normalise text so that ŵ typed two ways is stored one way; LF line ends."""
    if isinstance(value, str):
        # Browsers send textarea line ends as CRLF; store what was typed, with LF.
        return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _shows_nothing(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] == "Z" or category in ("Cc", "Cf") or char in _BLANK_EXTRA
            or "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef")


def is_blank(text: str | None) -> bool:
    """True when the text has no visible character (empty, spaces, zero-width characters...)."""
    if not isinstance(text, str):
        return not text
    return all(_shows_nothing(c) for c in text)


def is_answered(value: Any) -> bool:
    """Whether a stored answer value answers its question."""
    if value is None:
        return False
    if isinstance(value, str):
        return not is_blank(value)
    if isinstance(value, dict):
        return bool(value.get("choices")) or not is_blank(value.get("other"))
    return True


def prepare(question: Question, value: Any) -> Any:
    """A value as it is stored: cleaned, and ``None`` when it shows nothing."""
    value = clean(value)
    if question.type in TEXT_TYPES and isinstance(value, str):
        return None if is_blank(value) else value
    if question.type == "multiple_choice" and isinstance(value, dict):
        other = value.get("other")
        if isinstance(other, str) and is_blank(other):
            value = {**value, "other": ""}
        return value if is_answered(value) else None
    if question.type == "single_choice" and value == "":
        return None
    return value


def refused_character(text: str, *, allow_bidi: bool) -> LazyString | None:
    """The message for a control character in ``text``, or None. Bidirectional controls are
    allowed only in long text (a quotation in a right-to-left language); in a one-line answer
    they could only disguise it."""
    refused = first_refused(text, allow_bidi=allow_bidi)
    return None if refused is None else LazyString(lambda: refused.message)


def text_problem(text: str, limit: int, *, multiline: bool) -> LazyString | None:
    """Why cleaned text cannot be an answer (a control character, a line break in a one-line
    answer, too long), or None. Control characters are those ``surveyapp.text`` refuses in
    every input (C0 and C1 controls, NUL included, and lone surrogates)."""
    refused = refused_character(text, allow_bidi=multiline)
    if refused is not None:
        return refused
    if not multiline and ("\n" in text or "\t" in text):
        return _l("Keep this answer on one line, without line breaks or tabs.")
    if len(text) > limit:
        return _l("Use no more than %(max)d characters.", max=limit)
    return None


def range_message(minimum, maximum) -> LazyString:
    if minimum is not None and maximum is not None:
        return _l("Enter a number from %(min)s to %(max)s.", min=minimum, max=maximum)
    if minimum is not None:
        return _l("Enter a number of at least %(min)s.", min=minimum)
    return _l("Enter a number no greater than %(max)s.", max=maximum)


def _number_problem(question: Question, value: Any) -> LazyString | None:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or isinstance(value, float) and (question.type == "integer" or not math.isfinite(value)):
        return _l("Enter a number using digits, for example 12 or 2,500.")
    if not question.lowest <= value <= question.highest:
        return range_message(question.lowest, question.highest)
    if isinstance(value, float) and round(value, question.places) != value:
        return _l("Use no more than %(places)d decimal places, for example 5.5.", places=question.places)
    return None


def _choice_problem(question: Question, value: Any) -> LazyString | None:
    codes = {o.code for o in question.options}
    wrong = _l("Choose one of the options given.")
    if question.type == "single_choice":
        return None if isinstance(value, str) and value in codes else wrong
    if not isinstance(value, dict) or set(value) - {"choices", "other"}:
        return wrong
    choices, other = value.get("choices", []), value.get("other", "")
    if not isinstance(choices, list) or not all(isinstance(c, str) and c in codes for c in choices):
        return wrong
    if not isinstance(other, str) or other and not question.other:
        return wrong
    return text_problem(other, question.max_length or 0, multiline=False) if other else None


def answer_problem(question: Question, value: Any) -> LazyString | None:
    """Why a prepared value cannot be stored as the answer to ``question``, or None. The
    message is for the participant, translated when it is shown (lazily: a service may run
    where there is no request, so no language yet)."""
    if value is None:
        return None
    if question.type in TEXT_TYPES:
        if not isinstance(value, str):
            return _l("This answer is not in a form that can be saved.")
        return text_problem(value, question.max_length, multiline=question.type == "long_text")
    if question.type in ("integer", "decimal"):
        return _number_problem(question, value)
    return _choice_problem(question, value)
