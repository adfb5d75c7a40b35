"""``GET /healthz``: can the portal reach its database and object store?"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db

bp = Blueprint("health", __name__)


def database_ok() -> bool:
    """True when the database answers ``SELECT 1``."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


@bp.route("/healthz")
def healthz():
    """JSON status of each dependency; 200 when all answer, 503 otherwise.
    Says nothing more (no versions, no hosts)."""
    checks = {"database": database_ok(), "storage": current_app.extensions["storage"].ping()}
    body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
    body["status"] = "ok" if all(checks.values()) else "unavailable"
    return jsonify(body), 200 if all(checks.values()) else 503
