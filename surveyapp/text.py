"""One way in for text that people type or upload: every form field, the nominee importer
(CSV and XLSX) and the command line pass what they are given through here before it is
checked, compared or stored.

- Unicode NFC, so a letter typed as ``w`` + U+0302 and as ``ŵ`` is the same text.
- On one-line fields (names, emails, roles) leading and trailing white space removed, and
  line breaks, tabs and runs of other white space become one space: a two-line Excel cell is
  one name. Multi-line text keeps its lines, tabs and spaces (CR LF becomes LF).
- Refused, with a reason, never silently removed: C0 and C1 control characters (NUL included;
  multi-line text keeps line breaks and tabs), lone surrogates, and in one-line fields the
  bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069) that
  can make a name display as something else.
- Too long for its database column: refused here, so no database ever sees it.

Pure: no Flask app and no database. ``TextRefused.message`` is translated when it is read.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
REPLACEMENT = "\ufffd"  # shows where a refused character was when a value is quoted back

CONTROL_CHARACTER = _l(
    "This contains an invisible control character (%(code)s) that cannot be saved. "
    "Delete it and try again."
)
BIDI_CONTROL = _l(
    "This contains an invisible character (%(code)s) that changes the direction of text, "
    "which is not allowed here. Delete it and try again."
)
TOO_LONG = _l("Use no more than %(max)d characters.")
BAD_EMAIL = _l("Enter an email address like name@example.org.")

# Tab, LF and CR are white space (folded on one line, kept in multi-line text); every other
# control character is refused.
_WHITE_CONTROLS = frozenset("\t\n\r")


class TextRefused(ValueError):
    """Why a value cannot be taken. ``code`` is stable for programs: 'control_character',
    'bidi_control', 'too_long' or 'bad_email'; ``params`` fill the message."""

    def __init__(self, reason: str, template: LazyString, **params: Any):
        super().__init__(reason)
        self.code, self.template, self.params = reason, template, params

    @property
    def message(self) -> str:
        """The sentence for people, in the current locale."""
        return str(self.template) % self.params


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _is_control(char: str) -> bool:
    n = ord(char)
    return n < 0x20 or 0x7F <= n <= 0x9F or 0xD800 <= n <= 0xDFFF  # C0, DEL, C1, surrogates


def first_refused(value: str, *, allow_bidi: bool = False) -> TextRefused | None:
    """The first character ``value`` may not hold, as a refusal, or None."""
    if value.isprintable():  # fast path: no control, surrogate or bidi character (all unprintable)
        return None
    for char in value:
        if _is_control(char) and char not in _WHITE_CONTROLS:
            return TextRefused("control_character", CONTROL_CHARACTER, code=codepoint(char))
        if not allow_bidi and char in BIDI_CONTROLS:
            return TextRefused("bidi_control", BIDI_CONTROL, code=codepoint(char))
    return None


def visible(value: str) -> str:
    """``value`` with every character this module refuses replaced by U+FFFD, and on one
    line: safe to quote back in a message or a form, and nothing in it can reorder the text
    around it."""
    if value.isprintable():  # fast path, the same result: nothing to replace
        return " ".join(value.split())
    return " ".join("".join(REPLACEMENT if _is_control(c) and c not in _WHITE_CONTROLS
                            or c in BIDI_CONTROLS else c for c in value).split())


def isolated(value: str) -> str:
    """``value`` for a plain-text sentence (a flashed message, an email): made visible as
    above and wrapped in FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, the plain-text
    ``<bdi>``, so a name written right to left cannot reorder the words around it."""
    return "\u2068" + visible(value) + "\u2069"


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _check_length(value: str, max_length: int | None) -> str:
    if max_length is not None and len(value) > max_length:
        raise TextRefused("too_long", TOO_LONG, max=max_length, length=len(value))
    return value


def clean_line(value: Any, *, max_length: int | None = None, allow_bidi: bool = False) -> str:
    """One line of text as stored: NFC, white space folded to single spaces, trimmed.
    Raises TextRefused for a control character, a bidi control (unless ``allow_bidi``) or,
    after cleaning, more than ``max_length`` characters."""
    value = "" if value is None else str(value)
    refused = first_refused(value, allow_bidi=allow_bidi)
    if refused:
        raise refused
    return _check_length(" ".join(_nfc(value).split()).strip(), max_length)


def clean_text(value: Any, *, max_length: int | None = None) -> str:
    """Multi-line text as stored: NFC, line breaks as ``\\n`` (as a browser counts them); tabs,
    line breaks and the spaces around the text are kept as typed (a participant's answer is
    theirs); other control characters refused."""
    value = "" if value is None else str(value)
    refused = first_refused(value, allow_bidi=True)
    if refused:
        raise refused
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _check_length(_nfc(value), max_length)


def normalise_email(value: str, *, fold_case: bool = True) -> str:
    """An email address in email-validator's normal form (NFC, the domain in lower case) and,
    with ``fold_case``, wholly lower case as this app keeps and compares addresses, so the same
    address typed composed or decomposed, in any case, is one address. Forms keep the local
    part's case (``fold_case=False``); the services fold it when they store or compare. Raises
    TextRefused ('bad_email' when it is not an address; the caller words that message)."""
    value = clean_line(value)
    try:
        normalised = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise TextRefused("bad_email", BAD_EMAIL) from None
    return _nfc(normalised.lower() if fold_case else normalised)
