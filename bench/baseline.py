"""The bare baselines that run as a child process, as the app's commands do (so both sides pay
for starting an interpreter, and their peak memory is measured the same way).

    python -m bench.baseline import DATABASE_URL CSV   # executemany of the same rows
    python -m bench.baseline send HOST PORT COUNT      # one smtplib connection, a loop
"""

from __future__ import annotations

import csv
import itertools
import secrets
import smtplib
import sys
from datetime import UTC, datetime
from email.message import EmailMessage

import sqlalchemy as sa

BODY = ("Annwyl gydweithiwr,\n\nHoffem eich gwahodd i gymryd rhan mewn astudiaeth ymchwil am drefniadau "
        "diogelu aml-asiantaeth yng Nghymru. Mae eich dolen bersonol isod.\n\n") * 6 + \
       ("Dear colleague,\n\nWe would like to invite you to take part in a research study about multi-agency "
        "safeguarding arrangements in Wales. Your personal link is below.\n\n") * 6


PARTICIPANT_INSERT = sa.text(
    "INSERT INTO participant (id, study_id, token_hash, source, language, status, current_section, created_at) "
    "VALUES (:id, :study_id, :token_hash, :source, :language, :status, :current_section, :created_at)")
NOMINEE_INSERT = sa.text(
    "INSERT INTO nominee (study_id, participant_id, name, email, la_code, service_area, agency, role, "
    "preferred_language, link_nonce, created_at, updated_at) VALUES (:study_id, :participant_id, :name, :email, "
    ":la_code, :service_area, :agency, :role, :preferred_language, :link_nonce, :created_at, :updated_at)")
BATCH = 5_000


def bare_import(url: str, path: str) -> int:
    """Every row of the CSV into the participant and nominee tables, read as a stream and
    inserted with executemany in batches of 5,000, one transaction. No validation beyond what
    the database does."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    count = 0
    with open(path, encoding="utf-8-sig", newline="") as f, engine.begin() as connection:
        study_id = connection.execute(sa.text("SELECT min(id) FROM study")).scalar_one()
        next_id = (connection.execute(sa.text("SELECT max(id) FROM participant")).scalar() or 0) + 1
        rows = csv.DictReader(f)
        while batch := list(itertools.islice(rows, BATCH)):
            ids = range(next_id, next_id + len(batch))
            connection.execute(PARTICIPANT_INSERT, [
                {"id": pk, "study_id": study_id, "token_hash": secrets.token_hex(32), "source": "invited",
                 "language": r["preferred_language"] if r["preferred_language"] in ("cy", "en") else None,
                 "status": "started", "current_section": 0, "created_at": now}
                for pk, r in zip(ids, batch, strict=True)])
            connection.execute(NOMINEE_INSERT, [
                {"study_id": study_id, "participant_id": pk, "name": r["name"], "email": r["email"].strip().lower(),
                 "la_code": r["la_code"], "service_area": r["service_area"], "agency": r["agency"], "role": r["role"],
                 "preferred_language": r["preferred_language"], "link_nonce": secrets.token_hex(16),
                 "created_at": now, "updated_at": now} for pk, r in zip(ids, batch, strict=True)])
            next_id += len(batch)
            count += len(batch)
    engine.dispose()
    return count


def bare_send(host: str, port: int, count: int) -> int:
    """``count`` messages of about the size of an invitation over one SMTP connection."""
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        for i in range(count):
            message = EmailMessage()
            message["From"] = "Safeguarding research <research@example.org>"
            message["To"] = f'"Person {i}" <person.{i}@example.org>'
            message["Subject"] = "Gwahoddiad i gymryd rhan / Invitation to take part"
            message.set_content(BODY + f"https://surveyapp.invalid/p/{secrets.token_urlsafe(32)}\n")
            smtp.send_message(message)
    return count


def main(argv: list[str]) -> None:
    if argv[:1] == ["import"]:
        print(bare_import(argv[1], argv[2]))
    elif argv[:1] == ["send"]:
        print(bare_send(argv[1], int(argv[2]), int(argv[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
