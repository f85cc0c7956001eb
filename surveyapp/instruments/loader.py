"""Reading, validating and hashing instrument files. Pure: no database, no Flask."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from surveyapp.instruments.glossary import Glossary, glossary_from, glossary_path
from surveyapp.instruments.model import MAX_LENGTH_CEILING, NUMBER_LIMIT

LANGUAGES = ("cy", "en")
KINDS = ("information_sheet", "consent_form", "survey")
STUDIES_DIR = "studies"


class InstrumentError(ValueError):
    """A file that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    path: str
    where: str
    message: str
    severity: str = "error"  # "error" fails the check; "warning" is reported (and fails --strict)
    category: str = ""  # for warnings: "draft", "provenance", "glossary", "undecided"

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.message}" if self.where else f"{self.path}: {self.message}"


@cache
def _validator(name: str, kind: str | None = None) -> jsonschema.Draft202012Validator:
    """The validator for a schema file; with ``kind``, for that kind alone (its errors name the
    exact place, where the file's oneOf over the kinds can only say "matches none")."""
    schema = json.loads(resources.files(__package__).joinpath(name).read_text("utf-8"))
    if kind is not None:
        schema = {key: value for key, value in schema.items() if key != "oneOf"}
        schema["$ref"] = f"#/$defs/{kind}"
    return jsonschema.Draft202012Validator(schema)


# Metadata about a text, not part of what a participant sees: it may change (a committee
# approves a reconstructed text) without making a new version.
METADATA_KEYS = ("provenance",)


def text_content(content: dict[str, Any]) -> dict[str, Any]:
    """An instrument's content without its metadata: what participants see and hashes cover."""
    return {k: v for k, v in content.items() if k not in METADATA_KEYS}


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form of the text (metadata left out): stable across
    YAML formatting and key order."""
    canonical = json.dumps(text_content(content), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _json_path(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InstrumentError([Problem(str(path), "", f"cannot be read: {exc}")]) from exc


def _schema_problems(path: Path, data: Any, schema: str) -> list[Problem]:
    kind = data.get("kind") if isinstance(data, dict) and schema == "schema.json" else None
    validator = _validator(schema, kind if kind in KINDS else None)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    problems = []
    for error in errors:
        # oneOf over the kinds gives unhelpful top-level errors; report the best match.
        best = jsonschema.exceptions.best_match([error])
        problems.append(Problem(str(path), _json_path(best), best.message))
    return problems


def _walk_texts(node: Any, where: str):
    """Yield (location, text object) for every translated text in a file."""
    if isinstance(node, dict):
        if "status" in node and set(node) <= {"en", "cy", "status"}:
            yield where, node
            return
        for key, value in node.items():
            yield from _walk_texts(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            label = None
            if isinstance(value, dict):
                label = value.get("id") or value.get("key") or value.get("code")
            yield from _walk_texts(value, f"{where}[{label if label else index}]")


def _text_problems(path: Path, data: dict) -> list[Problem]:
    problems = []
    for where, text in _walk_texts(data, ""):
        for lang in LANGUAGES:
            if not (text.get(lang) or "").strip():
                problems.append(Problem(str(path), where, f"missing '{lang}' text"))
        if text.get("status") == "draft" and (text.get("cy") or "").strip():
            problems.append(Problem(str(path), where, "Welsh text is still a draft (needs a translator's review)",
                                    "warning", "draft"))
    return problems


def _uniqueness_problems(path: Path, items: list[dict], field_name: str, where: str) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for item in items:
        value = item[field_name]
        if value in seen:
            problems.append(Problem(str(path), f"{where}[{value}]", f"duplicate {field_name} '{value}'"))
        seen.add(value)
    return problems


def _survey_problems(path: Path, data: dict) -> list[Problem]:
    problems: list[Problem] = []
    problems += _uniqueness_problems(path, data["sections"], "id", "sections")
    all_questions = [q for s in data["sections"] for q in s["questions"]]
    problems += _uniqueness_problems(path, all_questions, "key", "questions")
    earlier: dict[str, dict] = {}
    for section in data["sections"]:
        for question in section["questions"]:
            where = f"sections[{section['id']}].questions[{question['key']}]"
            if "options" in question:
                problems += _uniqueness_problems(path, question["options"], "code", f"{where}.options")
            if question.get("min") is not None and question.get("max") is not None \
                    and question["min"] > question["max"]:
                problems.append(Problem(str(path), where, "min is greater than max"))
            problems += _limit_problems(path, where, question)
            cond = question.get("show_if")
            if cond:
                problems += _show_if_problems(path, where, cond, earlier)
        for question in section["questions"]:
            earlier[question["key"]] = question
    return problems


def _limit_problems(path: Path, where: str, question: dict) -> list[Problem]:
    """A stated ``max_length`` above what the type allows, or number bounds beyond the platform's."""
    problems = []
    ceiling = MAX_LENGTH_CEILING.get(question["type"])
    stated = question.get("max_length")
    if stated is not None and ceiling is not None and stated > ceiling:
        box = "the 'other' text" if question["type"] == "multiple_choice" else f"a {question['type']} answer"
        problems.append(Problem(str(path), f"{where}.max_length",
                                f"{stated} is more than {box} may allow ({ceiling} characters)"))
    for bound in ("min", "max"):
        value = question.get(bound)
        if value is not None and abs(value) > NUMBER_LIMIT:
            problems.append(Problem(str(path), f"{where}.{bound}",
                                    f"{value} is beyond the largest number answers may hold "
                                    f"({NUMBER_LIMIT}, either sign)"))
    return problems


def _show_if_problems(path: Path, where: str, cond: dict, earlier: dict[str, dict]) -> list[Problem]:
    target = earlier.get(cond["question"])
    where = f"{where}.show_if"
    if target is None:
        return [Problem(str(path), where,
                        f"refers to '{cond['question']}', which is not a question in an earlier section")]
    codes = {o["code"] for o in target.get("options", [])}
    if "equals" in cond:
        if target["type"] != "single_choice":
            return [Problem(str(path), where,
                            f"'equals' needs a single_choice question; '{target['key']}' is {target['type']}")]
        if cond["equals"] not in codes:
            return [Problem(str(path), where, f"'{cond['equals']}' is not an option code of '{target['key']}'")]
    else:
        if target["type"] != "multiple_choice":
            return [Problem(str(path), where,
                            f"'includes' needs a multiple_choice question; '{target['key']}' is {target['type']}")]
        if cond["includes"] not in codes:
            return [Problem(str(path), where, f"'{cond['includes']}' is not an option code of '{target['key']}'")]
    return []


@dataclass
class InstrumentFile:
    path: Path
    content: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.content.get("kind", "")

    @property
    def key(self) -> str:
        return self.content.get("key", "")

    @property
    def version(self) -> int:
        return self.content.get("version", 0)

    @property
    def content_hash(self) -> str:
        return content_hash(self.content)

    @property
    def provenance(self) -> dict[str, Any]:
        return self.content.get("provenance") or {}

    @property
    def text_content(self) -> dict[str, Any]:
        return text_content(self.content)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def read_instrument(path: Path) -> InstrumentFile:
    """Read and check one instrument file; problems are collected, not raised."""
    data = _read_yaml(path)
    problems = _schema_problems(path, data, "schema.json")
    if not problems:
        if path.stem != str(data["version"]):
            problems.append(Problem(str(path), "version",
                                    f"file name says version {path.stem} but the file says {data['version']}"))
        if path.parent.name != data["key"]:
            problems.append(Problem(str(path), "key",
                                    f"folder is '{path.parent.name}' but the file's key is '{data['key']}'"))
        if data["kind"] == "survey":
            problems += _survey_problems(path, data)
        elif data["kind"] == "consent_form":
            problems += _uniqueness_problems(path, data["items"], "id", "items")
        else:
            problems += _uniqueness_problems(path, data["sections"], "id", "sections")
        problems += _text_problems(path, data)
    return InstrumentFile(path, data if isinstance(data, dict) else {}, problems)


def read_study(path: Path) -> InstrumentFile:
    data = _read_yaml(path)
    problems = _schema_problems(path, data, "study_schema.json")
    if not problems:
        if "contacts" not in data:
            problems.append(Problem(str(path), "contacts",
                                    "the study names no contacts: add the research team, the complaints "
                                    "(ethics) contact and the data protection contact"))
        problems += _text_problems(path, data)
    return InstrumentFile(path, data if isinstance(data, dict) else {}, problems)


def read_glossary(path: Path) -> tuple[Glossary | None, list[Problem]]:
    """The glossary beside the instruments, if there is one."""
    if not path.is_file():
        return None, []
    data = _read_yaml(path)
    problems = _schema_problems(path, data, "glossary_schema.json")
    return (None if problems else glossary_from(data)), problems


@dataclass
class Catalogue:
    instruments: list[InstrumentFile]
    studies: list[InstrumentFile]
    glossary: Glossary | None = None
    other_problems: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.instruments + self.studies for p in f.problems] + self.other_problems

    def find(self, key: str, version: int) -> InstrumentFile | None:
        for item in self.instruments:
            if item.key == key and item.version == version:
                return item
        return None


def read_catalogue(root: Path) -> Catalogue:
    """Read every instrument and study under ``root`` and cross-check the studies."""
    instruments = [read_instrument(p) for p in sorted(root.glob("*/*.yaml"))
                   if p.parent.name != STUDIES_DIR]
    studies = [read_study(p) for p in sorted((root / STUDIES_DIR).glob("*.yaml"))]
    glossary, glossary_problems = read_glossary(glossary_path(root))
    catalogue = Catalogue(instruments, studies, glossary, glossary_problems)
    served: set[tuple[str, int]] = set()
    for study in studies:
        if study.errors:
            continue
        for kind in KINDS:
            ref = study.content[kind]
            target = catalogue.find(ref["key"], ref["version"])
            if target is None:
                study.problems.append(Problem(str(study.path), kind,
                                              f"no instrument {ref['key']} version {ref['version']}"))
            elif target.kind != kind:
                study.problems.append(Problem(str(study.path), kind,
                                              f"{ref['key']} is a {target.kind}, not a {kind}"))
            else:
                served.add((target.key, target.version))
                study.problems += _provenance_problems(study, kind, target)
    if glossary is not None:
        for item in instruments + studies:
            if not item.errors:
                item.problems += _glossary_problems(item, glossary, _superseded(item, instruments, served))
    return catalogue


def _provenance_problems(study: InstrumentFile, kind: str, target: InstrumentFile) -> list[Problem]:
    provenance = target.provenance
    if provenance.get("status") == "approved":
        return []
    return [Problem(
        str(study.path), kind,
        f"{target.key} v{target.version} ({target.path}) is reconstructed, not approved "
        f"({provenance.get('reason', 'no reason given')}); participants see a demonstration notice "
        f"and no ethics reference",
        "warning", "provenance")]


def _superseded(item: InstrumentFile, instruments: list[InstrumentFile], served: set[tuple[str, int]]) -> bool:
    """An instrument version no study serves and a later version replaces: its text is frozen."""
    if item.kind not in KINDS or (item.key, item.version) in served:
        return False
    return any(other.key == item.key and other.version > item.version for other in instruments)


def _glossary_problems(item: InstrumentFile, glossary: Glossary, superseded: bool) -> list[Problem]:
    problems = []
    for where, text in _walk_texts(item.content, ""):
        for finding in glossary.avoided_in(text.get("cy") or ""):
            message = (f"Welsh uses '{finding.found}', an alternative the glossary avoids "
                       f"('{finding.avoided}'); use '{finding.term.cy}' ({finding.term.en})")
            if superseded:
                problems.append(Problem(str(item.path), where,
                                        message + "; this superseded version cannot change", "warning", "glossary"))
            else:
                problems.append(Problem(str(item.path), where, message))
    return problems
