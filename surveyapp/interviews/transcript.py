"""Splitting an interview transcript into per-question answers, keyed as the survey keys them
(so interview and written answers line up in every export). Pure: plain text and a
``Survey`` in, plain data out; no Flask request, no database. The researcher sees the split
and corrects it before anything is saved.

The rule, line by line (a line is the text between two ``\\n`` after CR LF and CR became LF):

1. A line is looked at as a possible heading after trimming white space and the Markdown or
   Word-export marks ``# * _`` around it, and only if what is left is at most
   ``MAX_HEADING_CHARS`` long.
2. **Numbered headings.** Questions are numbered 1, 2, 3, ... in schedule order across all
   sections (``question_numbers``), as the interview schedule prints them.
   - ``Q3``, ``Q.3``, ``Qu 3``, ``Question 3`` or ``Cwestiwn 3`` (any case), then nothing, or
     a separator (``. ) : -`` or a dash) or a space and any text: the heading of question 3,
     whatever text follows it. A number the schedule does not have (``Q99``) is still a
     heading, of nothing: the text under it is unplaced, not added to the question before.
   - A bare number needs ``.`` or ``)`` after it: ``3.`` or ``3)`` alone on its line is the
     heading of question 3 (or of nothing, as above); ``3. <text>`` is a heading only when
     ``<text>`` matches a question's text (point 3), and then that question's, not number 3's.
     So a numbered list in an answer (``1. We have a MASH``) stays in the answer.
3. **Question-text headings.** The line (after removing numbering as in point 2) matches a
   question when its words, compared without case, accents or punctuation (so ``'``, ``?``,
   ``:`` and curly quotes do not matter; ``ŵ`` matches ``w``), are the words of the question's
   text in English or Welsh (only ``language`` when given), or of its first sentence, or the
   first ``MIN_PREFIX_WORDS`` or more of them (a shortened heading). A whole text or first
   sentence beats a shortened form; a line that still fits more than one question is not a
   heading.
4. Every other line is text. Text before the first heading is unplaced; text after a heading
   belongs to its question, up to the next heading. Speaker turns (``Interviewer:``, ``P1:``,
   ``Cyfwelydd:``) are text and stay where they are.
5. A question whose heading appears again gets the second block appended after a blank line.
6. A heading of nothing (``Q99``) is kept, with the text under it, in ``unplaced``, so the
   researcher sees where that text came from.

Nothing is dropped: ``Split.pieces`` holds every character of the input, in order, so
``"".join(p.text for p in split.pieces) == normalise_newlines(text)``. ``answers`` and
``unplaced`` are the same text without the heading lines and without blank lines around
each block; ``answers`` has every question whose heading was found, "" when nothing was
under it.

``read_transcript`` turns an upload (.txt in UTF-8, or .docx) into that text, cleaned as all
multi-line text in the app is (``surveyapp.text.clean_text``: NFC, LF line ends, control
characters such as NUL refused with a reason; bidi controls kept, as in any long answer).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from surveyapp.errors import DomainError
from surveyapp.instruments.model import Survey
from surveyapp.interviews.docx_text import DocxTooLarge, NotDocx, docx_text
from surveyapp.text import TextRefused, clean_text

LANGUAGES = ("en", "cy")
MAX_HEADING_CHARS = 400  # longer lines are answers, never headings
MIN_PREFIX_WORDS = 5  # a shortened heading keeps at least this many of the question's first words

MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_TRANSCRIPT_CHARS = 1_000_000  # about ten two-hour interviews

FILE_TYPE = _l("Upload the transcript as a .txt or .docx file.")
TOO_LARGE = _l("The file is larger than %(max)d MB. Remove pictures or split the transcript, and upload it again.")
NOT_UTF8 = _l("This text file is not saved as UTF-8, so its letters cannot be read reliably (byte %(position)d "
              "is not UTF-8). Save it again as UTF-8 text and upload it again.")
NOT_DOCX = _l("This file could not be read as a Word document (.docx). Open it in Word, save it as a .docx "
              "document and upload it again.")
CONTROL_CHARACTER = _l("The file contains an invisible control character (%(code)s) that cannot be saved. Remove it "
                       "from the file and upload it again.")
NO_TEXT = _l("The file has no text in it.")
TOO_LONG = _l("The transcript is too long: it has %(length)d characters and at most %(max)d can be read.")

HEADING = "heading"
ANSWER = "answer"
UNPLACED = "unplaced"

_MARKS = " \t#*_"
_SEPARATOR = r"[.):\-\u2013\u2014]"  # . ) : - and the en and em dashes
_PREFIXED = re.compile(rf"(?:question|cwestiwn|qu|q)\s*\.?\s*(\d{{1,3}})(?=$|\s|{_SEPARATOR})\s*{_SEPARATOR}?\s*(.*)",
                       re.IGNORECASE | re.DOTALL)
_BARE = re.compile(r"(\d{1,3})\s*[.)](?!\d)\s*(.*)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


@dataclass(frozen=True)
class Piece:
    """A run of consecutive lines of one kind: ``heading`` (a heading line; ``key`` None when
    it names no question), ``answer`` (text under question ``key``) or ``unplaced``."""

    text: str
    kind: str
    key: str | None = None


@dataclass
class Split:
    answers: dict[str, str] = field(default_factory=dict)  # every question whose heading was found, in order found
    unplaced: str = ""
    pieces: list[Piece] = field(default_factory=list)


def normalise_newlines(text: str) -> str:
    """CR LF and lone CR become LF; nothing else changes."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as headings are compared: no case, no accents, no punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return tuple(re.sub(r"[\W_]+", " ", bare).split())


def question_numbers(survey: Survey) -> dict[int, str]:
    """Question number (1, 2, ... in schedule order across sections) to question key."""
    return {n: key for n, key in enumerate(survey.questions, start=1)}


class _Headings:
    """What a line must say to be a question's heading, built once per survey and language."""

    def __init__(self, survey: Survey, language: str | None):
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        self.numbers = question_numbers(survey)
        self.exact: dict[tuple[str, ...], set[str]] = {}
        self.prefixes: dict[tuple[str, ...], set[str]] = {}
        for key, question in survey.questions.items():
            for lang in (language,) if language else LANGUAGES:
                text = question.text.get(lang) or ""
                full = words(text)
                first = words(_SENTENCE_END.split(text.strip(), maxsplit=1)[0])
                for form in {full, first} - {()}:
                    self.exact.setdefault(form, set()).add(key)
                for n in range(MIN_PREFIX_WORDS, len(full)):
                    self.prefixes.setdefault(full[:n], set()).add(key)

    def by_text(self, line: str) -> str | None:
        found = words(line)
        if not found:
            return None
        exact = self.exact.get(found, set())
        if len(exact) == 1:
            return next(iter(exact))
        candidates = exact or self.prefixes.get(found, set())
        return next(iter(candidates)) if len(candidates) == 1 else None

    def match(self, line: str) -> tuple[bool, str | None]:
        """(is it a heading, the question key or None)."""
        body = line.strip().strip(_MARKS).strip()
        if not body or len(body) > MAX_HEADING_CHARS:
            return False, None
        prefixed = _PREFIXED.fullmatch(body)
        if prefixed:
            return True, self.numbers.get(int(prefixed.group(1)))
        bare = _BARE.fullmatch(body)
        if bare:
            if not bare.group(2).strip(_MARKS):
                return True, self.numbers.get(int(bare.group(1)))
            key = self.by_text(bare.group(2))
            return key is not None, key
        key = self.by_text(body)
        return key is not None, key


def _lines(text: str) -> list[str]:
    """The lines of ``text``, each with its ``\\n``; joined they are ``text`` again."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _block(text: str) -> str:
    """A block as shown in a field: blank lines before and white space after it removed."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


def _append(pieces: list[Piece], text: str, kind: str, key: str | None) -> None:
    if pieces and pieces[-1].kind == kind == ANSWER and pieces[-1].key == key or \
            pieces and pieces[-1].kind == kind == UNPLACED:
        pieces[-1] = Piece(pieces[-1].text + text, kind, key)
    else:
        pieces.append(Piece(text, kind, key))


def split_transcript(text: str, survey: Survey, language: str | None = None) -> Split:
    """Split ``text`` at the survey's question headings (see the module's rule). ``language``
    ('en' or 'cy') limits question-text headings to that language; numbers always count."""
    headings = _Headings(survey, language)
    pieces: list[Piece] = []
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]  # (key, lines) per heading, in order
    for line in _lines(normalise_newlines(text)):
        is_heading, key = headings.match(line)
        if is_heading:
            pieces.append(Piece(line, HEADING, key))
            blocks.append((key, [line] if key is None else []))
        else:
            _append(pieces, line, ANSWER if blocks[-1][0] else UNPLACED, blocks[-1][0])
            blocks[-1][1].append(line)
    answers: dict[str, list[str]] = {}
    unplaced: list[str] = []
    for key, lines in blocks:
        block = _block("".join(lines))
        if key is None:
            unplaced += [block] if block else []
        else:
            answers.setdefault(key, []).extend([block] if block else [])
    return Split({k: "\n\n".join(v) for k, v in answers.items()}, "\n\n".join(unplaced), pieces)


class TranscriptRefused(DomainError):
    """An upload that cannot be read as a transcript. ``code`` is stable for programs:
    'file_type', 'too_large', 'not_utf8', 'not_docx', 'no_text', 'too_long' or 'control_character'
    (the file holds a character ``surveyapp.text`` refuses); ``message`` is for people."""

    def __init__(self, reason: str, template: LazyString, /, **params):
        super().__init__(reason)
        self.code, self.template, self.params = reason, template, params

    @property
    def message(self) -> str:
        """The sentence for people, in the current locale."""
        return str(self.template) % self.params


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TranscriptRefused("not_utf8", NOT_UTF8, position=error.start + 1) from None


def read_transcript(filename: str, data: bytes) -> str:
    """The text of an uploaded transcript (.txt in UTF-8 with or without a BOM, or .docx),
    cleaned as multi-line text. Raises TranscriptRefused saying what is wrong."""
    suffix = filename.rsplit(".", 1)[-1].casefold() if "." in filename else ""
    if suffix not in ("txt", "docx"):
        raise TranscriptRefused("file_type", FILE_TYPE)
    if len(data) > MAX_UPLOAD_BYTES:
        raise TranscriptRefused("too_large", TOO_LARGE, max=MAX_UPLOAD_MB)
    if suffix == "txt":
        text = _decode_text(data)
    else:
        try:
            text = docx_text(data)
        except DocxTooLarge:
            raise TranscriptRefused("too_large", TOO_LARGE, max=MAX_UPLOAD_MB) from None
        except NotDocx:
            raise TranscriptRefused("not_docx", NOT_DOCX) from None
    try:
        text = clean_text(text, max_length=MAX_TRANSCRIPT_CHARS)
    except TextRefused as refused:
        if refused.code == "too_long":
            raise TranscriptRefused("too_long", TOO_LONG, **refused.params) from None
        raise TranscriptRefused(refused.code, CONTROL_CHARACTER, **refused.params) from None
    if not text.strip():
        raise TranscriptRefused("no_text", NO_TEXT)
    return text
