"""Outgoing webhooks, the pieces that need no database: the Standard Webhooks signature,
the guard that keeps an endpoint from reaching the tracker's own network (SSRF), and the
POST to the address the guard checked. The endpoints, their outbox and the send job are in
outgoing.py."""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from tracker.rules import RuleViolation

# The spec's fixed prefix, not a secret.
SECRET_PREFIX = "whsec_"  # nosec B105


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: v1, and the HMAC-SHA256 of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def allowed_hosts(text: str | None) -> set[str]:
    """WEBHOOK_ALLOWED_HOSTS: comma-separated host names the admin lets through the guard."""
    return {h.strip().lower() for h in (text or "").split(",") if h.strip()}


def checked_address(url: str, allowed: set[str]) -> str:
    """The IP address to connect to for `url`, refusing one on a private, loopback,
    link-local, multicast or reserved network unless its host is allowed. The sender
    connects to this address (not a second lookup), so a rebinding DNS gains nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation("A webhook URL must start with http:// or https:// and name a host.",
                            field="url")
    host = parts.hostname.lower()
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise RuleViolation(f"The host {host} could not be found.", field="url") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if host not in allowed:
        for address in addresses:
            if _internal(address):
                raise RuleViolation(
                    f"{host} resolves to {address}, an internal address; webhooks may only "
                    "reach it if the host is in WEBHOOK_ALLOWED_HOSTS.", field="url")
    return str(addresses[0])


def _internal(address) -> bool:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified)


def post(url: str, address: str, body: bytes, headers: dict, timeout: float,
         max_response: int) -> int:
    """POST `body` to `url`, connecting to `address` (from checked_address) while the Host
    header and TLS certificate check use the URL's host. Redirects are not followed: they
    could lead past the guard. Returns the HTTP status."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    cls = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    connection = cls(parts.hostname, parts.port or (443 if https else 80), timeout=timeout)
    connection.address = address
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(max_response)
        return response.status
    finally:
        connection.close()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    address = ""

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    address = ""

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
