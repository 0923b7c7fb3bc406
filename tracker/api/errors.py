"""API errors: always `{"error": {"code", "message"}}` with the right status, never HTML."""

from flask import Blueprint, jsonify
from werkzeug.exceptions import BadRequest, HTTPException

from tracker.extensions import db

MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Send a valid token: Authorization: Bearer <token>."),
    403: ("forbidden", "Your role does not allow this."),
    404: ("not_found", "There is nothing here, or it is not visible to you."),
    405: ("method_not_allowed", "This path does not accept that method; see "
                                "/api/v1/openapi.json."),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as application/json."),
}


class ApiError(Exception):
    """Refuse the request with `status` and a message that says what to do instead."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 current: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.current, self.headers = field, current, headers or {}


def error_response(status: int, code: str, message: str, *, field=None, current=None,
                   items=None, headers=None):
    detail = {"code": code, "message": message}
    if field:
        detail["field"] = field
    if current is not None:
        detail["current"] = current
    if items is not None:  # the items that stand in the way (tracker.rules.ItemsLeft)
        detail["items"] = items
    response = jsonify(error=detail)
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def init_api_errors(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, field=exc.field,
                              current=exc.current, headers=exc.headers)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """Anything Werkzeug raises inside the API (413 from a large upload, 415, ...)."""
        db.session.rollback()
        code, message = MESSAGES.get(exc.code or 500, ("error", exc.description or "Error."))
        if exc.code == 400 and exc.description != BadRequest.description:
            message = exc.description  # a guard's own words (a NUL byte, JSON too deep)
        if exc.code == 413:
            from flask import current_app

            limit = current_app.config["MAX_EVIDENCE_BYTES"] // (1024 * 1024)
            message = (f"The request is larger than the {limit} MB limit. Upload a smaller "
                       "file, or attach a link to where it is kept.")
        return error_response(exc.code or 500, code, message)
