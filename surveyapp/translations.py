"""Catalogue maintenance: extract, update, compile and check (used by the CLI and tests)."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from surveyapp.config import PROJECT_ROOT, TRANSLATIONS_DIR

POT = TRANSLATIONS_DIR / "messages.pot"
LOCALES = ("cy",)
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _babel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(target: Path = POT) -> None:
    # Run from the project root with relative paths: Babel wraps location comments by their
    # length, so absolute paths would make the template depend on where the checkout lives.
    with contextlib.chdir(PROJECT_ROOT):
        _babel("extract", "-F", str(TRANSLATIONS_DIR / "babel.cfg"), "-k", "_l", "-k", "in_locale:1",
               "--sort-output", "--add-location=file",
               "--no-wrap", "--project", "surveyapp", "--copyright-holder", "surveyapp contributors",
               "-o", str(target.resolve()), ".")
    # Make the template deterministic: no creation date, no year. Sorted by message, with file
    # names but no line numbers, so it goes stale only when a message is added, changed or
    # removed, not whenever code moves.
    text = target.read_text("utf-8")
    text = re.sub(r'"POT-Creation-Date: [^"]*\\n"\n', "", text)
    text = re.sub(r"(Copyright \(C\)) \d{4}", r"\1", text)
    text = re.sub(r"(FIRST AUTHOR <EMAIL@ADDRESS>), \d{4}\.", r"\1.", text)
    target.write_text(text, "utf-8")


def update() -> None:
    extract()
    _babel("update", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "--no-wrap", "--ignore-obsolete")


def compile_catalogues() -> list[Path]:
    written = []
    for locale in LOCALES:
        po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        mo_path = po_path.with_suffix(".mo")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        mo_path.write_bytes(buffer.getvalue())
        written.append(mo_path)
    return written


def check() -> list[str]:
    """Every problem with the catalogues, as sentences; empty when all is well."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "messages.pot"
        extract(fresh)
        if fresh.read_text("utf-8") != POT.read_text("utf-8"):
            problems.append("translations/messages.pot is stale: run 'surveyapp translations update'.")
    with POT.open("rb") as fh:
        template_ids = {m.id for m in read_po(fh) if m.id}
    for locale in LOCALES:
        po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        if catalog.num_plurals != 6:
            problems.append(f"{po_path.name} ({locale}): Plural-Forms must have 6 forms, has {catalog.num_plurals}.")
        for message in catalog:
            if not message.id:
                continue
            label = f"{locale}: {message.id!r}"
            if message.id not in template_ids:
                problems.append(f"{label} is no longer in the template")
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy:
                problems.append(f"{label} is fuzzy")
            if not all(strings):
                problems.append(f"{label} is untranslated")
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            want_ph = set(_PLACEHOLDER.findall(ids[-1]))
            want_tags = sorted(_TAG.findall(ids[-1]))
            for s in strings:
                if set(_PLACEHOLDER.findall(s)) != want_ph:
                    problems.append(f"{label}: placeholders differ in {s!r}")
                if sorted(_TAG.findall(s)) != want_tags:
                    problems.append(f"{label}: HTML tags differ in {s!r}")
        missing = template_ids - {m.id for m in catalog if m.id}
        problems += [f"{locale}: {mid!r} is missing" for mid in sorted(missing, key=str)]
    return problems
