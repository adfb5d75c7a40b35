"""The client portal: ``create_app`` builds the Flask application."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from flask.helpers import get_debug_flag

import config as settings
from portal import (crypto, errors, firm, forms_common, i18n, jobs, logs, metrics, notify,
                    proxies, security, storage)
from portal.extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app for ``config_name`` (``PORTAL_ENV``; production by default,
    so a forgotten setting fails loudly instead of running unsafely).

    Raises ``RuntimeError`` naming every required setting that is missing.
    """
    config_name = config_name or os.environ.get("PORTAL_ENV", "production")
    config_class = settings.config_class(config_name)
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_path=str(ROOT / "instance"))
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    app.config["PORTAL_ENV"] = config_name
    if config_name == "development":
        _development_defaults(app)
    if config_name == "production":
        _refuse_unsafe(app)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = False

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, babel)
    firm.init_app(app)
    storage.init_app(app)
    crypto.init_app(app)
    notify.init_app(app)
    jobs.init_app(app)
    security.init_app(app)
    proxies.init_app(app)
    errors.init_app(app)
    forms_common.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    _register_blueprints(app)

    from portal import cli
    cli.init_app(app)
    return app


def _refuse_unsafe(app: Flask) -> None:
    """Production starts only with every required setting, and safe ones.

    Raises ``RuntimeError`` listing every problem at once. ``FLASK_DEBUG`` is
    read too: ``flask run`` turns debug on from it after this factory returns.
    """
    debug = app.debug or get_debug_flag()
    problems = settings.unsafe_settings({**app.config, "DEBUG": debug})
    key_problem = crypto.master_key_problem(app.config["MASTER_KEY"])
    if key_problem:
        problems.append(key_problem)
    firm_problem = firm.profile_problem(app.config)
    if firm_problem:
        problems.append(firm_problem)
    # Imported here, not at the top: the seal's libraries (pyHanko) load only
    # when an app is built, so importing a package never pulls in a feature.
    from portal.signing.seal import seal_key_problem
    seal_problem = seal_key_problem(app.config["SIGNING_CERT"], app.config["SIGNING_KEY"])
    if seal_problem:
        problems.append(seal_problem)
    if problems:
        raise RuntimeError("Refusing to start in production: " + "; ".join(problems))


def _development_defaults(app: Flask) -> None:
    """Local defaults for ``make run``: a SQLite file and a secret key kept
    under ``instance/`` so restarts keep sessions. The folder and the files
    in it are readable by their owner only: they hold every case."""
    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, exist_ok=True)
    instance.chmod(0o700)  # also when the embedded S3 server made it first
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        database = instance / "portal.db"
        # Created here with 0600 so SQLite never creates it with the umask's mode
        # (its journals take the database file's mode).
        database.touch(mode=0o600, exist_ok=True)
        database.chmod(0o600)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    if not app.config["SECRET_KEY"]:
        key_file = Path(app.instance_path) / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()
    if not (app.config["SIGNING_CERT"] or app.config["SIGNING_KEY"]):
        cert, key = instance / "signing_cert.pem", instance / "signing_key.pem"
        if not (cert.exists() and key.exists()):
            from portal.signing.seal import make_self_signed
            # Says so at start-up (portal.dev.server): fine for a demo, never for a firm.
            make_self_signed(cert, key, common_name=f"{app.config['FIRM_NAME']} (self-signed, "
                                                    "development)")
        app.config.update(SIGNING_CERT=str(cert), SIGNING_KEY=str(key), SIGNING_SELF_SIGNED=True)
    if not app.config["MASTER_KEY"]:
        key_file = Path(app.instance_path) / "master_key"
        if not key_file.exists():
            key_file.write_text(crypto.generate_master_key())
            key_file.chmod(0o600)
        app.config["MASTER_KEY"] = key_file.read_text().strip()


def _register_blueprints(app: Flask) -> None:
    from portal.admin.routes import bp as admin_bp
    from portal.audit_trail.routes import bp as audit_trail_bp
    from portal.agenda.routes import bp as agenda_bp
    from portal.auth.routes import bp as auth_bp
    from portal.cases.routes import bp as cases_bp
    from portal.evidence.routes import bp as evidence_bp
    from portal.firm.routes import bp as firm_bp
    from portal.health import bp as health_bp
    from portal.messages.routes import bp as messages_bp
    from portal.previews.routes import bp as previews_bp
    from portal.questionnaires.routes import bp as questionnaires_bp
    from portal.requests.routes import bp as requests_bp
    from portal.scanning.routes import bp as scanning_bp
    from portal.signing.routes import bp as signing_bp
    from portal.uploads.routes import bp as uploads_bp
    from portal.uscis.routes import bp as uscis_bp

    for blueprint in (auth_bp, cases_bp, evidence_bp, requests_bp, uscis_bp, agenda_bp,
                      messages_bp, uploads_bp, admin_bp, audit_trail_bp, health_bp, firm_bp,
                      scanning_bp, previews_bp, questionnaires_bp, signing_bp):
        app.register_blueprint(blueprint)
