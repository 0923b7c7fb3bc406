"""Configuration: embedded defaults, overridden by environment variables."""

import os
from pathlib import Path

from tracker.clock import DEFAULT_ZONE


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str) -> dict:
    instance = Path(instance_path)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'tracker.db'}"
    secure = _bool("SESSION_COOKIE_SECURE", False)
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _instance_secret(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "EVIDENCE_DIR": os.environ.get("EVIDENCE_DIR") or str(instance / "evidence"),
        "REPORTS_DIR": os.environ.get("REPORTS_DIR") or str(instance / "reports"),
        "MAX_EVIDENCE_BYTES": int(os.environ.get("MAX_EVIDENCE_BYTES", 20 * 1024 * 1024)),
        "SIGNING_KEY_PATH": os.environ.get("SIGNING_KEY_PATH")
        or str(instance / "signing" / "key.pem"),
        "SIGNING_CERT_PATH": os.environ.get("SIGNING_CERT_PATH")
        or str(instance / "signing" / "cert.pem"),
        "SIGNING_PKCS12_PATH": os.environ.get("SIGNING_PKCS12_PATH"),
        "SIGNING_PKCS12_PASSWORD": os.environ.get("SIGNING_PKCS12_PASSWORD"),
        "ORGANISATION_NAME": os.environ.get("ORGANISATION_NAME", "Readiness Tracker"),
        # The organisation's calendar: what day it is for due dates and quarters (clock.py).
        "TIMEZONE": os.environ.get("TIMEZONE") or DEFAULT_ZONE,
        "REDIS_URL": os.environ.get("REDIS_URL"),
        # The heaviest pages kept as rendered (tracker/cache.py); off only to measure.
        "PAGE_CACHE": _bool("PAGE_CACHE", True),
        "CACHE_REDIS_URL": os.environ.get("CACHE_REDIS_URL"),  # default: REDIS_URL
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "tracker"),
        # Background jobs (tracker/jobs.py): RQ's retries and their backoff, its time limit,
        # how often the periodic sweep runs, and — without Redis — a job thread per process.
        "JOB_RETRIES": int(os.environ.get("JOB_RETRIES", 2)),
        "JOB_RETRY_SECONDS": os.environ.get("JOB_RETRY_SECONDS", "30,300"),
        "JOB_TIMEOUT_SECONDS": int(os.environ.get("JOB_TIMEOUT_SECONDS", 900)),
        "PERIODIC_SECONDS": int(os.environ.get("PERIODIC_SECONDS", 60)),
        "JOBS_THREAD": _bool("JOBS_THREAD", True),
        # A signed report's attempts (tracker/reports/jobs.py), and how long one may run
        # before a sweep takes it back (longer than JOB_TIMEOUT_SECONDS).
        "REPORT_ATTEMPTS": int(os.environ.get("REPORT_ATTEMPTS", 3)),
        "REPORT_RENDER_LIMIT_SECONDS": int(os.environ.get("REPORT_RENDER_LIMIT_SECONDS", 1800)),
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", 0)),
        # scrypt with N=2^16, r=8, p=1 (64 MiB per hash): slow enough to hurt a stolen table.
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt:65536:8:1"),
        # Single sign-on with OpenID Connect (tracker/auth/oidc.py): on when OIDC_ISSUER is set.
        "OIDC_ISSUER": os.environ.get("OIDC_ISSUER"),
        "OIDC_CLIENT_ID": os.environ.get("OIDC_CLIENT_ID"),
        "OIDC_CLIENT_SECRET": os.environ.get("OIDC_CLIENT_SECRET"),
        "OIDC_PROVIDER_NAME": os.environ.get("OIDC_PROVIDER_NAME"),  # default: issuer's host
        "OIDC_SCOPES": os.environ.get("OIDC_SCOPES", "openid email profile"),
        "OIDC_GROUPS_CLAIM": os.environ.get("OIDC_GROUPS_CLAIM", "groups"),
        "OIDC_GROUP_ROLES": os.environ.get("OIDC_GROUP_ROLES"),  # YAML or JSON: group → role
        "OIDC_ONLY": _bool("OIDC_ONLY", False),
        "OIDC_BREAK_GLASS": os.environ.get("OIDC_BREAK_GLASS", ""),  # comma-separated emails
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        "WTF_CSRF_TIME_LIMIT": None,
        # Account notices (tracker/mail.py): sent only when MAIL_SERVER is set, else logged.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT") or 0) or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER"),
        # Notifications (tracker/notifications): where e-mails link to, when reminders go
        # out, and the waits between attempts at an e-mail the server refused.
        "BASE_URL": os.environ.get("BASE_URL"),
        "REMINDER_HOUR": int(os.environ.get("REMINDER_HOUR", 7)),
        "DELIVERY_RETRY_SECONDS": os.environ.get("DELIVERY_RETRY_SECONDS", "60,300,1800,7200"),
        # Outgoing webhooks: hosts on internal networks they may reach (comma-separated;
        # none by default), and how long an endpoint has to answer.
        "WEBHOOK_ALLOWED_HOSTS": os.environ.get("WEBHOOK_ALLOWED_HOSTS", ""),
        "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", 10)),
    }


def _instance_secret(instance: Path) -> str:
    """A random secret kept in the instance folder, so `make run` needs no set-up step.

    Every process on the machine reads the same file; more machines set SECRET_KEY.
    """
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
    return path.read_text().strip()
