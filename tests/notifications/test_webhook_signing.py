"""The Standard Webhooks signature and the SSRF guard, checked against an independent
implementation of the spec written here."""

import base64
import hashlib
import hmac

import pytest

from tracker.notifications import webhooks
from tracker.rules import RuleViolation


def test_signature_matches_the_standard_webhooks_algorithm():
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = '{"type":"audit.signed_off"}'
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, f"msg_1.1700000000.{body}".encode(), hashlib.sha256).digest()).decode()
    assert webhooks.signature(secret, "msg_1", 1700000000, body) == "v1," + expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.1.2.3/hook",
                                 "http://169.254.169.254/latest", "http://[::1]/hook",
                                 "http://224.0.0.1/hook"])
def test_internal_addresses_are_refused(url):
    with pytest.raises(RuleViolation, match="internal address"):
        webhooks.checked_address(url, set())


def test_an_allowed_host_passes_and_the_checked_address_is_returned():
    allowed = webhooks.allowed_hosts(" 127.0.0.1 , example.invalid")
    assert webhooks.checked_address("http://127.0.0.1:9/hook", allowed) == "127.0.0.1"


def test_a_public_address_passes():
    assert webhooks.checked_address("https://93.184.216.34/hook", set()) == "93.184.216.34"


@pytest.mark.parametrize("url", ["ftp://93.184.216.34/x", "http:///nohost"])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(RuleViolation, match="http"):
        webhooks.checked_address(url, set())
