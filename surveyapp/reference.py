"""Reference data shipped with the app: Wales's 22 local authorities and service areas.

``data/local_authorities.csv`` is a copy of the project's shared list (a test keeps them
equal). It is read once per process; nothing here touches the database.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from flask_babel import lazy_gettext as _l

SERVICE_AREAS = {
    "children": _l("Children's services"),
    "adults": _l("Adults' services"),
    "whole_area": _l("Whole area"),
}
AGENCIES = {
    "local_authority": _l("Local authority"),
    "police": _l("Police"),
    "health": _l("Health"),
    "education": _l("Education"),
    "probation": _l("Probation"),
    "youth_offending": _l("Youth offending service"),
    "housing": _l("Housing"),
    "third_sector": _l("Third sector"),
    "other": _l("Other agency"),
}
LANGUAGE_PREFERENCES = {  # named in the reader's language ("Saesneg" on a Welsh page)
    "cy": _l("Welsh"),
    "en": _l("English"),
    "unknown": _l("Not known (bilingual, Welsh first)"),
}


@dataclass(frozen=True)
class LocalAuthority:
    code: str
    name_en: str
    name_cy: str
    region_en: str
    region_cy: str
    health_board_en: str
    health_board_cy: str
    rural: bool

    def name(self, locale: str) -> str:
        return self.name_cy if locale == "cy" else self.name_en

    def region(self, locale: str) -> str:
        return self.region_cy if locale == "cy" else self.region_en


@cache
def local_authorities() -> dict[str, LocalAuthority]:
    """The 22 authorities by code, in the file's order (grouped by region)."""
    text = resources.files("surveyapp").joinpath("data/local_authorities.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        row["code"]: LocalAuthority(
            code=row["code"], name_en=row["name_en"], name_cy=row["name_cy"],
            region_en=row["safeguarding_region_en"], region_cy=row["safeguarding_region_cy"],
            health_board_en=row["health_board_en"], health_board_cy=row["health_board_cy"],
            rural=row["rural"] == "1",
        )
        for row in rows
    }


def regions() -> list[tuple[str, str]]:
    """(English, Welsh) region names in the file's order; the English name is the key."""
    seen: dict[str, str] = {}
    for la in local_authorities().values():
        seen.setdefault(la.region_en, la.region_cy)
    return list(seen.items())
