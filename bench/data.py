"""A synthetic nominee list: the columns of shared/data/nominees_example.csv, valid codes from
surveyapp.reference, unique addresses. Deterministic for a given size."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from surveyapp.reference import AGENCIES, SERVICE_AREAS, local_authorities

COLUMNS = ["name", "email", "la_code", "service_area", "agency", "role", "preferred_language"]
FIRST = ["Catrin", "Gareth", "Siân", "Dafydd", "Rebecca", "Ffion", "Elin", "Mark", "Rhian", "Huw", "Nia",
         "Owain", "Sarah", "Rhodri", "Mererid", "Claire", "Iwan", "Lowri", "Helen", "Gwenllïan"]
LAST = ["Hughes", "Price", "Morgan", "ap Iorwerth", "Jones", "Roberts", "Williams", "Evans", "Thomas",
        "Davies", "Lloyd", "Phillips", "Edwards", "Jenkins", "Owen", "Baker", "Griffiths", "Rees", "O'Brien"]
ROLES = ["Head of Children's Safeguarding", "Principal Officer Safeguarding", "Adult Safeguarding Manager",
         "Intake Team Manager", "Front Door Manager", "Rheolwr Diogelu Oedolion", "MASH Lead"]
ASCII = str.maketrans({"â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ŵ": "w", "ŷ": "y", "ï": "i"})


def write_nominees(path: Path, count: int, seed: int = 9) -> Path:
    rng = random.Random(seed)
    codes = list(local_authorities())
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{last}".lower().translate(ASCII).replace(" ", "").replace("'", "")
            writer.writerow([f"{first} {last}", f"{local}.{i}@example.org", rng.choice(codes),
                             rng.choice(list(SERVICE_AREAS)), rng.choice(list(AGENCIES)), rng.choice(ROLES),
                             rng.choice(["cy", "en", "unknown"])])
    return path
