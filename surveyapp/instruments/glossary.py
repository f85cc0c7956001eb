"""The instruments' bilingual glossary: agreed Welsh terms, the alternatives to avoid, and the
terms still to decide. Pure: no database, no Flask.

Welsh changes the first letter of a word after certain words (initial mutation): "caniatâd"
appears as "ganiatâd", "nghaniatâd" or "chaniatâd". A glossary lists only the radical form,
and the check looks for every mutated form too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Radical -> mutated initials (soft, nasal, aspirate). Longer radicals first: "ll" before "l".
_MUTATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ll", ("l",)),
    ("rh", ("r",)),
    ("p", ("b", "mh", "ph")),
    ("t", ("d", "nh", "th")),
    ("c", ("g", "ngh", "ch")),
    ("b", ("f", "m")),
    ("d", ("dd", "n")),
    ("g", ("", "ng")),
    ("m", ("f",)),
)
_VOWELS = "aeiouwyâêîôûŵŷ"


def mutated_forms(word: str) -> set[str]:
    """The radical and every initial mutation of a Welsh word (lower case)."""
    word = word.lower()
    forms = {word}
    for radical, replacements in _MUTATIONS:
        if word.startswith(radical):
            forms.update(r + word[len(radical):] for r in replacements)
            break
    if word[:1] in _VOWELS:
        forms.add("h" + word)  # h-prothesis: "ei henw"
    return {f for f in forms if f}


@dataclass(frozen=True)
class Term:
    en: str
    cy: str
    status: str  # "agreed" or "undecided"
    avoid: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Finding:
    term: Term
    avoided: str  # the glossary's radical form
    found: str  # as written in the text


class Glossary:
    def __init__(self, terms: Iterable[Term]):
        self.terms = list(terms)
        self._patterns: list[tuple[Term, str, re.Pattern[str]]] = []
        for term in self.terms:
            for avoided in term.avoid:
                # Each word of a phrase may mutate only at the start of the phrase.
                first, _, rest = avoided.lower().partition(" ")
                alternation = "|".join(sorted((re.escape(f) for f in mutated_forms(first)), key=len, reverse=True))
                tail = (r"\s+" + r"\s+".join(re.escape(w) for w in rest.split())) if rest else ""
                pattern = re.compile(rf"(?<![\w'’])(?:{alternation}){tail}(?![\w])", re.IGNORECASE)
                self._patterns.append((term, avoided, pattern))

    @property
    def undecided(self) -> list[Term]:
        return [t for t in self.terms if t.status == "undecided"]

    def avoided_in(self, welsh: str) -> Iterator[Finding]:
        """Every avoided alternative used in a Welsh text (once per term and form)."""
        seen: set[tuple[str, str]] = set()
        for term, avoided, pattern in self._patterns:
            for match in pattern.finditer(welsh):
                found = match.group(0)
                if (avoided, found.lower()) not in seen:
                    seen.add((avoided, found.lower()))
                    yield Finding(term, avoided, found)


def glossary_from(data: dict) -> Glossary:
    """A glossary from parsed, schema-valid YAML."""
    return Glossary(
        Term(en=t["en"], cy=t["cy"], status=t["status"], avoid=tuple(t.get("avoid", ())),
             alternatives=tuple(t.get("alternatives", ())), note=t.get("note", ""))
        for t in data.get("terms", [])
    )


GLOSSARY_FILE = "glossary.yaml"


def glossary_path(root: Path) -> Path:
    return root / GLOSSARY_FILE
