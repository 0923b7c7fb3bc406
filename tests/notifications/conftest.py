"""Notification fixtures: the app sending e-mail to the real SMTP server on loopback."""

import pytest


@pytest.fixture
def mail(app, smtp_server):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                      MAIL_DEFAULT_SENDER="tracker@test.example",
                      BASE_URL="https://readiness.test.example")
    return smtp_server
