"""Error pages that help, and a 500 that rolls back, logs with a request id and hides the
traceback."""

import logging
import sqlite3
import uuid

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tracker.extensions import db
from tracker.rules import Refusal

log = logging.getLogger("tracker")

BUSY_RETRY_SECONDS = 2
# PostgreSQL's answers that mean "another transaction was in the way": deadlock detected,
# serialization failure, lock not available. Retrying the request succeeds.
_BUSY_SQLSTATES = {"40P01", "40001", "55P03"}
UNAVAILABLE_RETRY_SECONDS = 30
# PostgreSQL classes that mean "no usable database": connection exception, insufficient
# resources (too many connections), operator intervention (shutdown, cancel), system error,
# invalid catalog name (the database was dropped). No SQLSTATE at all: no connection.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58", "3D")
# SQLite's words for a database file it cannot use.
_SQLITE_UNAVAILABLE = ("unable to open database", "disk i/o error", "readonly database",
                       "file is not a database", "database disk image is malformed")
UNAVAILABLE_MESSAGE = "The database is unavailable; nothing was saved."


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(status: int, code: str, message: str):
    if wants_json():
        return jsonify(error={"code": code, "message": message}), status
    return render_template("errors/error.html", status=status, message=message,
                           request_id=g.get("request_id")), status


def error_response(status: int, code: str, message: str):
    """The error page (or JSON under /api/) as a response object, to add headers to."""
    return make_response(_error(status, code, message))


def database_busy(exc: OperationalError) -> bool:
    """Whether the database refused because other writers held it, not because it is down:
    SQLite's write lock still held after the wait (tracker/transactions.py), or a PostgreSQL
    lock conflict."""
    original = exc.orig
    if isinstance(original, sqlite3.OperationalError):
        return "database is locked" in str(original) or "database is busy" in str(original)
    return getattr(original, "sqlstate", None) in _BUSY_SQLSTATES


def database_unavailable(exc: Exception) -> bool:
    """Whether the database cannot be used at all (down, unreachable, dropped, its file
    unreadable), as opposed to a busy database or a bug in a statement."""
    if isinstance(exc, PoolTimeout | InterfaceError):
        return True
    if not isinstance(exc, DatabaseError):
        return False
    original = exc.orig
    if isinstance(original, sqlite3.DatabaseError):
        text = str(original).lower()
        return any(words in text for words in _SQLITE_UNAVAILABLE)
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(original, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)


def database_full(exc: Exception) -> bool:
    """SQLite's file (or PostgreSQL's disk: 53100) has no room for the change."""
    original = getattr(exc, "orig", None)
    if isinstance(original, sqlite3.OperationalError):
        return "database or disk is full" in str(original)
    return getattr(original, "sqlstate", None) == "53100"


def unavailable_response(status: int = 503, code: str = "database_unavailable",
                         message: str = UNAVAILABLE_MESSAGE):
    """The answer when the database cannot be used: JSON under /api/, else a page that needs
    no database (no signed-in user, no navigation), with Retry-After."""
    detail = (f"{message} Try again in a minute; if it keeps happening, tell an admin "
              f"(request id {g.get('request_id')}).")
    if wants_json():
        response = jsonify(error={"code": code, "message": detail})
    else:
        # Straight from the environment: render_template would run Flask-Login's context
        # processor, which loads the session's user from the database.
        page = current_app.jinja_env.get_template("errors/unavailable.html")
        response = make_response(page.render(status=status, message=detail))
    response.status_code = status
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def rollback_quietly() -> None:
    """Roll the request back; with the database gone the rollback can fail too."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        log.debug("rollback failed", exc_info=True)


def init_errors(app: Flask) -> None:
    @app.before_request
    def assign_request_id():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]

    @app.after_request
    def echo_request_id(response):
        response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
        return response

    @app.errorhandler(400)
    def bad_request(exc):
        return _error(400, "bad_request", getattr(exc, "description", None) or
                      "The request could not be understood. Check the form and try again.")

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error(400, "csrf", "This form expired or came from another site. Go back, "
                                   "reload the page and submit it again.")

    @app.errorhandler(403)
    def forbidden(exc):
        return _error(403, "forbidden", "You do not have permission to do that. If you think "
                                        "you should, ask your team lead or an admin.")

    @app.errorhandler(404)
    def not_found(exc):
        return _error(404, "not_found", "There is nothing here. The link may be old, or you "
                                        "may not have access to it.")

    @app.errorhandler(405)
    def method_not_allowed(exc):
        response, status = _error(405, "method_not_allowed",
                                  "That action is not available this way.")
        if getattr(exc, "valid_methods", None):  # RFC 9110: a 405 lists what is allowed
            response = app.make_response((response, status))
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response, status

    @app.errorhandler(413)
    def too_large(exc):
        limit = app.config["MAX_EVIDENCE_BYTES"] // (1024 * 1024)
        return _error(413, "too_large", f"The upload is larger than the {limit} MB limit. "
                                        "Upload a smaller file or attach a link instead.")

    @app.errorhandler(Refusal)
    def refused(exc: Refusal):
        db.session.rollback()
        if wants_json():
            return _error(exc.status, exc.code, exc.message)
        return render_template("errors/refused.html", message=exc.message, audit=None,
                               status=exc.status), exc.status

    @app.errorhandler(DatabaseError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_error(exc: SQLAlchemyError):
        if database_unavailable(exc) or database_full(exc):
            rollback_quietly()
            full = database_full(exc)
            log.error("request %s: database %s: %s %s: %s", g.get("request_id"),
                      "full" if full else "unavailable", request.method, request.path,
                      getattr(exc, "orig", exc))
            if full:
                return unavailable_response(507, "storage_full", "The database's disk is "
                                            "full; nothing was saved.")
            return unavailable_response()
        if not (isinstance(exc, OperationalError) and database_busy(exc)):
            return server_error(exc)
        db.session.rollback()
        log.warning("request %s: database busy: %s %s: %s", g.get("request_id"),
                    request.method, request.path, exc.orig)
        again = ("Send it again in a few seconds." if wants_json() else "Go back (what you "
                 "entered is still in the form) and save it again in a few seconds.")
        response = error_response(503, "busy", "Many changes are being saved at this moment "
                                  f"and yours was not saved. {again}")
        response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response

    @app.errorhandler(500)
    def server_error(exc):
        rollback_quietly()
        original = getattr(exc, "original_exception", exc)
        log.error("request %s failed: %s %s", g.get("request_id"), request.method, request.path,
                  exc_info=original)
        message = ("Something went wrong on our side and nothing was saved. Try again; if it "
                   f"keeps happening, give an admin the request id {g.get('request_id')}.")
        try:
            return _error(500, "server_error", message)
        except SQLAlchemyError:  # the page's user needed the database, which failed too
            rollback_quietly()
            return unavailable_response(500, "server_error", message)
