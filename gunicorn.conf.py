"""gunicorn settings for Readiness Tracker: `gunicorn -c gunicorn.conf.py -w 4 -b … app:app`
(gunicorn also reads this file by itself when started from this folder).

Every error is JSON, even the ones gunicorn answers before the app sees the request (a
request line or header over the limits below, a malformed request line): gunicorn writes
those as an HTML page through `gunicorn.util.write_error`, which this file replaces with one
that writes `{"error": {"code", "message"}}` — the API's format — for every path, as the
path of a request too long to read is not known.
"""

import json

from gunicorn import util

# The longest request line and header gunicorn accepts with a bound (its defaults are 4094
# and 8190): the app, not gunicorn, answers URLs up to this length.
limit_request_line = 8190
limit_request_field_size = 8190

_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long",
          417: "expectation_failed", 431: "header_too_large", 500: "server_error",
          501: "not_implemented"}
_MESSAGES = {
    414: f"The request line is longer than {limit_request_line} bytes. Send long values in "
         "a request body (POST) instead of the URL.",
    431: f"A request header is longer than {limit_request_field_size} bytes, or there are "
         "too many headers.",
}


def write_json_error(sock, status_int, reason, mesg):
    message = _MESSAGES.get(status_int) or (f"{reason}: {mesg}" if mesg else reason)
    body = json.dumps({"error": {"code": _CODES.get(status_int, "error"),
                                 "message": message}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = write_json_error


def post_worker_init(worker):
    """Without Redis, each worker's job thread starts with the worker, not at its first
    request: it sweeps first, so reports a stopped worker left pending are made now."""
    from tracker.jobs import start_local_worker

    if hasattr(worker.wsgi, "config"):
        start_local_worker(worker.wsgi)
