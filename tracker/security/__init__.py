"""Defences that apply to every request: response headers, hostile-input guards, sign-in
throttling and the proxy set-up that makes the client's address trustworthy.

`init_security(app)` runs before the blueprints are registered, because the bounded URL
converters it installs must be in place when the routes are added.
"""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker.security.headers import init_headers
from tracker.security.input import init_input_guards
from tracker.security.throttling import init_throttling


def init_security(app: Flask) -> None:
    trust_proxies(app)
    init_input_guards(app)
    init_headers(app)
    init_throttling(app)


def trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies the client's address and scheme come from the headers the
    proxies set — only then does per-address throttling see clients rather than the proxy.
    With none configured those headers are ignored, so a client cannot forge its address."""
    count = int(app.config.get("TRUSTED_PROXIES") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
