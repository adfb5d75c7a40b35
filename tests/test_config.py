"""Settings: production refuses to start unsafely, and says why."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from sqlalchemy import text

import portal
from portal import create_app
from portal.dev import demo
from portal.crypto import generate_master_key
from portal.extensions import db
from portal.signing.seal import make_self_signed, seal_key_problem
from tests.sealing import seal_files

ROOT = portal.ROOT

COMPLETE = {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "MASTER_KEY": generate_master_key(),
            "S3_ENDPOINT_URL": "https://s3.example.org", "S3_ACCESS_KEY_ID": "a",
            "S3_SECRET_ACCESS_KEY": "b", "S3_BUCKET": "c", "MAIL_SERVER": "smtp.example.org",
            "BASE_URL": "https://portal.example.org", "REDIS_URL": "redis://127.0.0.1:6379/15",
            "JOBS_IMMEDIATE": False, "CLAMD_SOCKET": "/run/clamav/clamd.ctl", **seal_files()}


def refusal(**changes) -> str:
    with pytest.raises(RuntimeError) as error:
        create_app("production", {**COMPLETE, **changes})
    return str(error.value)


def test_complete_production_settings_start():
    assert create_app("production", COMPLETE).config["PORTAL_ENV"] == "production"


def test_production_names_every_missing_setting():
    message = refusal(SECRET_KEY=None, S3_ENDPOINT_URL="", SQLALCHEMY_DATABASE_URI=None)
    for name in ("PORTAL_SECRET_KEY", "PORTAL_DATABASE_URL", "PORTAL_S3_ENDPOINT_URL"):
        assert name in message
    assert "PORTAL_S3_BUCKET" not in message


@pytest.mark.parametrize("setting, name", [("BASE_URL", "PORTAL_BASE_URL"),
                                           ("S3_BUCKET", "PORTAL_S3_BUCKET")])
def test_production_has_no_default_for_base_url_or_bucket(monkeypatch, setting, name):
    monkeypatch.delenv(name, raising=False)
    settings = {k: v for k, v in COMPLETE.items() if k != setting}
    with pytest.raises(RuntimeError, match=name):
        create_app("production", settings)


@pytest.mark.parametrize("url", ["http://portal.example.org", "portal.example.org", "https://"])
def test_production_base_url_must_be_https(url):
    assert "PORTAL_BASE_URL must be an https:// address" in refusal(BASE_URL=url)


def test_production_refuses_a_short_secret_key():
    assert "at least 32 bytes" in refusal(SECRET_KEY="s" * 31)
    create_app("production", {**COMPLETE, "SECRET_KEY": "s" * 32})


@pytest.mark.parametrize("key", ["k", "bm90IGEga2V5c2V0", "{}"])
def test_production_refuses_a_malformed_master_key(key):
    assert "PORTAL_MASTER_KEY is not a key" in refusal(MASTER_KEY=key)


def test_production_never_runs_jobs_inside_requests():
    assert "PORTAL_JOBS_IMMEDIATE is for tests" in refusal(JOBS_IMMEDIATE=True)


def test_production_needs_redis():
    assert "PORTAL_REDIS_URL" in refusal(REDIS_URL=None)


def test_production_never_runs_in_debug_mode(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert "debug mode" in refusal()
    monkeypatch.delenv("FLASK_DEBUG")
    assert "debug mode" in refusal(DEBUG=True)


def test_unknown_environment_names_the_valid_ones():
    with pytest.raises(RuntimeError) as error:
        create_app("prod")
    assert "'prod'" in str(error.value)
    assert "development, production, testing" in str(error.value)


def test_production_locks_cookies_and_sends_hsts():
    app = create_app("production", COMPLETE)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    response = app.test_client().get("/login", base_url="https://portal.example.org")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_environment_is_production_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    with pytest.raises(RuntimeError, match="Missing required settings"):
        create_app(overrides={"SECRET_KEY": None})


def test_demo_seed_refuses_production():
    app = create_app("production", COMPLETE)
    with app.app_context(), pytest.raises(RuntimeError, match="never seeded in production"):
        demo.seed()


def test_development_database_and_keys_are_private(monkeypatch, tmp_path):
    monkeypatch.setattr(portal, "ROOT", tmp_path)
    monkeypatch.delenv("PORTAL_DATABASE_URL", raising=False)
    (tmp_path / "instance").mkdir(mode=0o755)  # as an older make run left it
    app = create_app("development", {"S3_ENDPOINT_URL": "http://127.0.0.1:9",
                                     "SQLALCHEMY_DATABASE_URI": None})
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.commit()
    instance = tmp_path / "instance"
    for path in (instance, instance / "portal.db", instance / "secret_key", instance / "master_key"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_production_never_loads_dev_only_code():
    """The embedded S3 server, the demo firm and the dev server live in
    ``portal.dev``; a production process neither imports it nor offers
    ``seed-demo``."""
    script = ("import sys, json; from portal import create_app; "
              f"app = create_app('production', json.loads({json.dumps(json.dumps(COMPLETE))})); "
              "assert 'seed-demo' not in app.cli.list_commands(None), 'seed-demo offered'; "
              "loaded = [m for m in sys.modules if m.startswith('portal.dev')]; "
              "assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "PORTAL_ENV": "production"})
    assert result.returncode == 0, result.stderr
    assert "seed-demo" in create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"}).cli.commands


def test_production_refuses_to_start_without_a_usable_signing_seal(tmp_path):
    assert "PORTAL_SIGNING_CERT" in refusal(SIGNING_CERT=None, SIGNING_KEY=None)
    other_cert, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
    make_self_signed(other_cert, other_key, common_name="Someone else")
    # A certificate with another certificate's key is no seal.
    assert "PORTAL_SIGNING" in refusal(SIGNING_KEY=str(other_key))


def test_development_makes_a_self_signed_seal_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SIGNING_CERT", raising=False)
    monkeypatch.delenv("PORTAL_SIGNING_KEY", raising=False)
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://",
                                     "SECRET_KEY": "x" * 40, "MASTER_KEY": generate_master_key()})
    assert app.config["SIGNING_SELF_SIGNED"] is True
    assert seal_key_problem(app.config["SIGNING_CERT"], app.config["SIGNING_KEY"]) is None
    assert stat.S_IMODE(os.stat(app.config["SIGNING_KEY"]).st_mode) == 0o600
