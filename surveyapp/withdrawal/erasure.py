"""Erasing a participant's answers for good, keeping the minimal record.

What holds text that came from a participant (every model was checked):

- ``answer.value``: every answer, including an "other, please say" text. Deleted.
- ``response``: which survey version, its hash, the consent record it was given under, and
  when it was started, changed and submitted; no text. **Kept**: it is part of the record of
  what happened (the cut-off is counted from the submission), and deleting it would let the
  participant's link open an empty survey as if they had never taken part.
- ``participant``: P-ID, status, language, reference (a random code), times; no answers.
  Kept, with ``consent_record`` / ``consent_item_answer`` (what they agreed to) and the
  ``withdrawal`` row (when, scope, by whom): the minimal record the ICO expects.
- ``nominee``: the researcher's contact list (name, address, role as imported); not the
  participant's answers, so not erased here. ``link_email`` stores no address.
- ``audit_event``: never holds answer text (``surveyapp.audit.chain`` refuses anything but
  identifiers, codes and counts) and is never deleted.

There are no interview transcripts yet; when there are, they are erased here too.

On SQLite the deleted rows' bytes would stay in the file's free pages until reused:
``PRAGMA secure_delete``, set on every connection (``surveyapp.db``), makes SQLite overwrite
them with zeros as they are deleted (the write-ahead log holds the old page until the next
checkpoint). On
PostgreSQL a deleted row stays in its table's file until VACUUM reclaims it (autovacuum does
so in time); it is unreachable through SQL from the moment of the commit.
"""

from __future__ import annotations

import sqlalchemy as sa

from surveyapp.db import db
from surveyapp.participant.models import Participant
from surveyapp.responses.models import Answer, Response


def erase_answers(participant: Participant) -> int:
    """Delete every answer the participant gave (in the current transaction); return how
    many were deleted. Their responses, consent records and withdrawal are kept."""
    response_ids = sa.select(Response.id).where(Response.participant_id == participant.id)
    erased = db.session.execute(
        sa.delete(Answer).where(Answer.response_id.in_(response_ids))
        .execution_options(synchronize_session=False)
    ).rowcount
    # Answers already loaded in this session must not be written back or read again.
    for response in participant.responses:
        if "answers" in response.__dict__:
            db.session.expire(response, ["answers"])
    return erased
