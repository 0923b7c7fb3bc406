"""The one exception every feature raises when a business rule refuses a change."""


class RuleViolation(Exception):
    """A business rule refused the change. `field` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
