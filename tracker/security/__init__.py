"""Defences that apply to every request: response headers, hostile-input guards, sign-in
throttling and the proxy set-up that makes the client's address trustworthy.

`init_security(app)` runs before the blueprints are registered, because the bounded URL
converters it installs must be in place when the routes are added.
"""

from flask import Flask

from tracker.security.headers import init_headers
from tracker.security.input import init_input_guards
from tracker.security.throttling import init_throttling


def init_security(app: Flask) -> None:
    init_input_guards(app)
    init_headers(app)
    init_throttling(app)
