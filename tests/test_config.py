"""Settings: production refuses to start unsafely."""
from __future__ import annotations

import pytest

from portal import create_app

COMPLETE = {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://", "MASTER_KEY": "k",
            "S3_ENDPOINT_URL": "https://s3.example.org", "S3_ACCESS_KEY_ID": "a",
            "S3_SECRET_ACCESS_KEY": "b", "S3_BUCKET": "c", "MAIL_SERVER": "smtp.example.org",
            "BASE_URL": "https://portal.example.org"}


def test_production_names_every_missing_setting():
    with pytest.raises(RuntimeError) as error:
        create_app("production", {**COMPLETE, "SECRET_KEY": None, "S3_ENDPOINT_URL": "",
                                  "SQLALCHEMY_DATABASE_URI": None})
    message = str(error.value)
    for name in ("PORTAL_SECRET_KEY", "PORTAL_DATABASE_URL", "PORTAL_S3_ENDPOINT_URL"):
        assert name in message
    assert "PORTAL_S3_BUCKET" not in message


def test_production_locks_cookies_and_sends_hsts():
    app = create_app("production", COMPLETE)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    response = app.test_client().get("/login", base_url="https://portal.example.org")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_environment_is_production_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    with pytest.raises(RuntimeError, match="Missing required settings"):
        create_app(overrides={"SECRET_KEY": None})
