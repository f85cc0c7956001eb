"""One world per test module: the app (rate limits off, so they do not hide what is under
them), the shipped study, staff in both languages, a real SMTP server on loopback, and the
database audit. Rows are removed when the module ends (and before it starts)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from surveyapp import create_app
from surveyapp.access import Role
from surveyapp.config import INSTRUMENTS_DIR, PROJECT_ROOT
from surveyapp.db import db
from tests.conftest import BASE_CONFIG

from .kit import LANGUAGES, PASSWORD, Audit, Catalogue, Staff, Visitor, assert_counts, check_answer


@dataclass
class World:
    app: object
    slug: str
    audit: Audit
    catalogue: Catalogue
    smtp: object
    staff: dict  # (role, language) -> Staff
    victims: dict  # language -> ids of a reviewer, a nominee (invited, no language yet), a failed message
    uid: list  # a counter for values that must be unique

    def next_uid(self) -> int:
        self.uid[0] += 1
        return self.uid[0]

    def check(self, client, response, language: str, **kw):
        """The answer: never a 500, in ``language``, nothing reflected live, a clear message."""
        return check_answer(self.app, client, response, language, self.catalogue, **kw)

    def settle(self, before: dict, expected: dict | None = None, *, free=()) -> None:
        """The database read back: rows moved only as ``expected``, nothing stored that should not be."""
        assert_counts(before, self.audit.counts(), expected, free=free)
        problems = self.audit.problems()
        assert problems == [], "the database holds:\n" + "\n".join(problems)

    def visitor(self, language: str, **kw) -> Visitor:
        return Visitor(self.app, language, **kw)

    def sign_in(self, role: str, language: str) -> Staff:
        """A new signed-in session (for cases that may end it)."""
        return Staff(self.app, language, f"{role}.{language}@example.org")


def _victims(app, study, language: str) -> dict:
    """Rows for the edit, link and id routes: a reviewer, an invited nominee who has not chosen
    a language, and a failed invitation to them in a finished batch."""
    from surveyapp.accounts.services import create_user
    from surveyapp.consent.services import record_consent
    from surveyapp.invitations.models import Batch, Message, MessageStatus
    from surveyapp.nominees.models import NomineeImport
    from surveyapp.nominees.services import NomineeData, add_nominee
    from surveyapp.participant.services import create_participant, derive_token
    from surveyapp.withdrawal.models import Withdrawal

    user = create_user(f"victim.{language}@example.org", f"Victim {language}", PASSWORD, {Role.REVIEWER}, language)
    nominee = add_nominee(study, NomineeData(f"Nominee {language}", f"victim.{language}@example.org", "GWN",
                                             "children", "local_authority", "Lead", "unknown"),
                          app.config["LINK_KEY"])
    batch = Batch(study_id=study.id, kind="invitation", status="done",
                  messages=[Message(nominee_id=nominee.id, kind="invitation", status=MessageStatus.FAILED.value,
                                    smtp_reply="550 no")])
    db.session.add(batch)
    job = NomineeImport(study_id=study.id, filename=f"list-{language}.csv", status="done")
    db.session.add(job)
    # Someone who consented and then asked, late, to withdraw their answers (the register's and
    # the withdrawal pages' ids).
    withdrawn, _ = create_participant(study, source="open", language=language)
    record_consent(withdrawn, {item.id: True for item in study.consent_form.as_consent_form().items},
                   language=language)
    withdrawn.status = "withdrawn"
    withdrawal = Withdrawal(participant=withdrawn, scope="answers", channel="email", outcome="flagged")
    db.session.add(withdrawal)
    db.session.flush()
    return {"user": user.id, "nominee": nominee.id, "participant": nominee.participant_id, "job": job.id,
            "token": derive_token(app.config["LINK_KEY"], nominee.link_nonce),
            "batch": batch.id, "message": batch.messages[0].id, "withdrawn": withdrawn.id,
            "withdrawal": withdrawal.id}


def _empty(app) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory):
    from surveyapp.accounts.services import create_user
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue
    from surveyapp.studies.models import Study
    from tests.smtp_server import SmtpServer

    smtp = SmtpServer()
    smtp.start()
    queue = tmp_path_factory.mktemp("hostile") / "tasks.sqlite3"
    app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url, "TASK_QUEUE_URL": f"sqlite:///{queue}",
                      "RATELIMIT_ENABLED": False, "SMTP_PORT": smtp.port, "LINK_EMAIL_LIMIT": 10_000})
    # Real argon2 with the cheap parameters every test app uses (accounts.services.password_hasher):
    # every sign-in attempt verifies one hash, at a cost a few hundred sign-ins can afford.
    patch = pytest.MonkeyPatch()
    _empty(app)
    try:
        with app.app_context():
            load_catalogue(read_catalogue(INSTRUMENTS_DIR))
            for language in LANGUAGES:
                for role in ("admin", "researcher"):
                    create_user(f"{role}.{language}@example.org", f"{role.title()} {language}", PASSWORD,
                                {Role(role)}, language)
            study = db.session.scalar(sa.select(Study).where(Study.slug == "front-door-phase1"))
            victims = {language: _victims(app, study, language) for language in LANGUAGES}
            db.session.commit()
            long_text = frozenset(q.key for q in study.survey.as_survey().questions.values()
                                  if q.type == "long_text")
            slug = study.slug
            db.session.remove()
        staff = {(role, language): Staff(app, language, f"{role}.{language}@example.org")
                 for role in ("admin", "researcher") for language in LANGUAGES}
        catalogue = Catalogue(PROJECT_ROOT / "translations" / "cy" / "LC_MESSAGES" / "messages.po")
        yield World(app, slug, Audit(app, long_text), catalogue, smtp, staff, victims, [0])
    finally:
        _empty(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        patch.undo()
        smtp.stop()


