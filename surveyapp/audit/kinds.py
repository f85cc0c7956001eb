"""The kinds of audit event. Callers use these names, so the trail can be searched reliably."""

from flask_babel import lazy_gettext as _l

CONSENT_GIVEN = "consent_given"
CONSENT_REFUSED = "consent_refused"
CONSENT_WITHDRAWN = "consent_withdrawn"        # a withdrawal recorded (any scope, any outcome)
WITHDRAWAL_DECIDED = "withdrawal_decided"      # a researcher decided a late withdrawal
ANSWERS_ERASED = "answers_erased"
SUBMITTED = "submitted"
EXPORT_MADE = "export_made"
PACK_GENERATED = "pack_generated"
LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
ACCOUNT_CREATED = "account_created"
ACCOUNT_CHANGED = "account_changed"            # roles, active, name, password reset by an admin
BATCH_SENT = "batch_sent"                      # an invitation or reminder batch queued to send

TITLES = {
    CONSENT_GIVEN: _l("Consent given"),
    CONSENT_REFUSED: _l("Consent not given"),
    CONSENT_WITHDRAWN: _l("Withdrawal recorded"),
    WITHDRAWAL_DECIDED: _l("Late withdrawal decided"),
    ANSWERS_ERASED: _l("Answers erased"),
    SUBMITTED: _l("Answers submitted"),
    EXPORT_MADE: _l("Export made"),
    PACK_GENERATED: _l("PDF generated"),
    LOGIN_SUCCEEDED: _l("Signed in"),
    LOGIN_FAILED: _l("Sign-in failed"),
    ACCOUNT_CREATED: _l("Account created"),
    ACCOUNT_CHANGED: _l("Account changed"),
    BATCH_SENT: _l("Email batch sent"),
}

ALL = frozenset(TITLES)
