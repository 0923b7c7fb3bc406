"""The API keeps no session: each request authenticates with its bearer token, and the
web's cookie session is neither read nor written (a browser's cookie grants the API
nothing, and an API answer never sets one)."""

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface


class WebOnlySessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)
