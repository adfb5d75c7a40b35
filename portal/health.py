"""Health for what runs the portal. ``GET /livez`` (liveness): the process
answers, touching nothing else, so a supervisor restarts only a stuck app,
never every app because the database is down. ``GET /readyz`` (readiness,
also at its older address ``/healthz``): can the portal reach its database,
object store and malware scanner, and how old are the scanner's signatures;
a load balancer sends traffic only where it is ready."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.scanning import clamav

bp = Blueprint("health", __name__)


def database_ok() -> bool:
    """True when the database answers ``SELECT 1``."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


def scanner_status(config) -> tuple[str, int | None]:
    """``ok``, ``unavailable`` or ``off``, and the age of its signatures in
    whole days (None when it does not say)."""
    if not clamav.enabled(config):
        return "off", None
    if not clamav.ping(config):
        return "unavailable", None
    built = clamav.signatures_date(config)
    return "ok", (datetime.now() - built).days if built else None  # clamd gives local time


@bp.route("/livez")
def livez():
    """200 while the process serves requests; no dependency is asked."""
    return jsonify(status="alive"), 200


@bp.route("/readyz")
@bp.route("/healthz")
def healthz():
    """JSON status of each dependency; 503 when the database or the store
    does not answer. A scanner that does not answer makes it ``degraded``
    (still 200: files are kept, closed, until it is back). Says nothing
    more (no versions, no hosts)."""
    checks = {"database": database_ok(), "storage": current_app.extensions["storage"].ping()}
    body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
    body["scanner"], body["signatures_age_days"] = scanner_status(current_app.config)
    up = all(checks.values())
    body["status"] = ("unavailable" if not up
                      else "degraded" if body["scanner"] == "unavailable" else "ok")
    return jsonify(body), 200 if up else 503
