"""Refusals: what every feature raises when it will not make a change. Each kind carries its
HTTP status, so that each blueprint's error handler answers the same way (a page or JSON),
and every message says what to do instead. A refusal is raised before anything is
committed: the request rolls back and nothing changes."""


class Refusal(Exception):
    status = 422
    code = "rule_violation"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class RuleViolation(Refusal):
    """A business rule refused the change (422). `field` names the form field it concerns."""


class Conflict(Refusal):
    """The thing is not in the state the change needs — an audit in review or signed off, a
    period that already exists, a newer version saved by someone else (409)."""
    status = 409
    code = "conflict"


class Forbidden(Refusal):
    """The person's role does not allow it (403)."""
    status = 403
    code = "forbidden"


class NotFound(Refusal):
    """Nothing there, or nothing this person may know of (404)."""
    status = 404
    code = "not_found"


class ItemsLeft(Conflict):
    """The items that stand in the way of a step (submit, sign off), each with id, code,
    title and status: the page links them, the API lists them (409)."""

    def __init__(self, message: str, items):
        super().__init__(message)
        self.items = list(items)
