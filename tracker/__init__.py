"""Readiness Tracker: quarterly operational readiness audits with signed reports."""

import logging
import os
from pathlib import Path

from flask import Flask

from tracker.clock import check_zone
from tracker.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"),
                template_folder=str(ROOT / "templates"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    app.config.update(config or {})
    app.config["TIMEZONE"] = check_zone(app.config["TIMEZONE"])
    # Uploads above the evidence limit are cut off before they are read into memory.
    # (Flask's defaults hold MAX_CONTENT_LENGTH = None, so setdefault would never apply.)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_EVIDENCE_BYTES"] + 1024 * 1024
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("tracker").setLevel(logging.INFO)

    _init_extensions(app)
    # Pages kept by this process belong to the database of the app before.
    from tracker.cache import clear_local

    clear_local()
    _register_security(app)
    _register_sign_in(app)
    _register_blueprints(app)
    _register_templates(app)
    _register_errors(app)
    _register_cli(app)
    _register_jobs(app)
    return app


def _init_extensions(app: Flask) -> None:
    from tracker import models  # noqa: F401 — every model registered before migrations run
    from tracker.db import ping_idle_connections
    from tracker.extensions import csrf, db, login_manager, migrate
    from tracker.transactions import configure_transactions

    db.init_app(app)
    from tracker.search.schema import include_object

    # The search indexes are not in the models: autogenerate leaves them to their migration.
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), include_object=include_object)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    with app.app_context():
        configure_transactions(db.engine)
        ping_idle_connections(db.engine)

    from tracker.auth.loader import load_user

    login_manager.user_loader(load_user)


def _register_security(app: Flask) -> None:
    """Headers, input guards and throttling; before the blueprints, whose routes use the
    bounded URL converters it installs."""
    from tracker.security import init_security

    init_security(app)


def _register_sign_in(app: Flask) -> None:
    """Single sign-on with the OIDC provider, when OIDC_ISSUER is set."""
    from tracker.auth.oidc import init_oidc

    init_oidc(app)


def _register_blueprints(app: Flask) -> None:
    from tracker.actions.views import bp as actions_bp
    from tracker.api.sessions import WebOnlySessions
    from tracker.api.views import bp as api_bp
    from tracker.audits.views import bp as audits_bp
    from tracker.auth.views import bp as auth_bp
    from tracker.dashboard.views import bp as dashboard_bp
    from tracker.exchange.views import bp as exchange_bp
    from tracker.extensions import csrf
    from tracker.home.views import bp as home_bp
    from tracker.library.views import bp as library_bp
    from tracker.notifications.views import bp as notifications_bp
    from tracker.reports.views import bp as reports_bp
    from tracker.search.views import bp as search_bp
    from tracker.signals.views import bp as signals_bp

    for bp in (auth_bp, home_bp, library_bp, audits_bp, dashboard_bp, signals_bp, reports_bp,
               actions_bp, exchange_bp, notifications_bp, search_bp, api_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # bearer tokens, never cookies: nothing for a forged form to ride on
    app.session_interface = WebOnlySessions()


def _register_templates(app: Flask) -> None:
    from tracker.templating import init_templating

    init_templating(app)


def _register_errors(app: Flask) -> None:
    from tracker.errors import init_errors

    init_errors(app)


def _register_cli(app: Flask) -> None:
    from tracker.cli import init_cli

    init_cli(app)


def _register_jobs(app: Flask) -> None:
    """Without Redis, each serving process runs background jobs on a thread of its own,
    started with its first request (and recovering what a stopped process left pending)."""
    from tracker.jobs import start_local_worker

    if app.config.get("REDIS_URL") or not app.config.get("JOBS_THREAD", True):
        return

    @app.before_request
    def _job_thread():
        start_local_worker(app)
