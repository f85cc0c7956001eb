"""Domain exceptions raised by services; views turn them into pages."""


class DomainError(Exception):
    pass


class ConsentRequired(DomainError):
    """No consent to the study's current consent-form version is on record."""


class AlreadySubmitted(DomainError):
    """The response has been submitted; it can no longer change."""


class InstrumentChanged(DomainError):
    """An instrument version that is already in use was edited."""
