"""Security headers on every response (OWASP ASVS 5, V3.4): a strict Content-Security-Policy
— no inline script or style anywhere — no framing, no MIME sniffing, no referrer leaks, and
HSTS when the site is served over HTTPS."""

from flask import Flask, g, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])

PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone",
    "payment", "usb", "interest-cohort",
))

BASE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

HSTS = "max-age=31536000; includeSubDomains"


def serves_https(app: Flask) -> bool:
    return bool(app.config.get("SESSION_COOKIE_SECURE")) or (
        app.config.get("PREFERRED_URL_SCHEME") == "https"
    )


def init_headers(app: Flask) -> None:
    if serves_https(app):
        # Cookies only travel over HTTPS once the site says it is served over HTTPS.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    @app.after_request
    def add_security_headers(response):
        # setdefault: a view that needs a different value (a report preview, say) sets its
        # own header and keeps it.
        for name, value in BASE_HEADERS.items():
            response.headers.setdefault(name, value)
        if serves_https(app):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        # Pages for a signed-in person are never kept by the browser or a shared cache:
        # after sign-out, Back must not show another person's audit.
        if request.endpoint != "static" and _signed_in():
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _signed_in() -> bool:
    """Whether this request ran for a signed-in person; reads the user Flask-Login already
    loaded, so it costs no query and works on error responses too."""
    user = g.get("_login_user")
    # is_anonymous reads no column: after a commit has expired the user, is_authenticated
    # would load it again.
    return user is not None and not user.is_anonymous
