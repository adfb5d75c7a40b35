"""Settings for the portal.

Every value comes from the environment (prefix ``PORTAL_``). ``Development`` and
``Testing`` have safe local defaults; ``Production`` refuses to start while a
required setting is missing and names each one that is.
"""
from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit


def env(name: str, default: str | None = None) -> str | None:
    """Return ``PORTAL_<name>`` from the environment, or ``default``."""
    return os.environ.get(f"PORTAL_{name}", default)


def env_int(name: str, default: int) -> int:
    """Return ``PORTAL_<name>`` as an integer, or ``default``."""
    value = env(name)
    return int(value) if value not in (None, "") else default


def env_bool(name: str, default: bool) -> bool:
    """Return ``PORTAL_<name>`` read as a yes/no flag, or ``default``."""
    value = env(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# What the pages call the portal while no firm name is set (translated there).
DEFAULT_FIRM_NAME = "Client portal"


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = env("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Object storage (any S3-compatible endpoint).
    S3_ENDPOINT_URL = env("S3_ENDPOINT_URL")
    S3_REGION = env("S3_REGION", "us-east-1")
    S3_ACCESS_KEY_ID = env("S3_ACCESS_KEY_ID")
    S3_SECRET_ACCESS_KEY = env("S3_SECRET_ACCESS_KEY")
    S3_BUCKET = env("S3_BUCKET")
    S3_CONNECT_TIMEOUT = env_int("S3_CONNECT_TIMEOUT", 3)
    S3_READ_TIMEOUT = env_int("S3_READ_TIMEOUT", 6)
    S3_MAX_ATTEMPTS = env_int("S3_MAX_ATTEMPTS", 2)

    # Evidence vault. The master key wraps the data keyset (flask generate-master-key).
    MASTER_KEY = env("MASTER_KEY")
    UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_MB", 500) * 1024 * 1024
    CASE_QUOTA_BYTES = env_int("CASE_QUOTA_MB", 10240) * 1024 * 1024
    # S3 part size: the most plaintext-derived data one upload holds in memory.
    UPLOAD_PART_BYTES = env_int("UPLOAD_PART_MB", 5) * 1024 * 1024
    # Resumable (tus) uploads: by default the browser sends a file in one PATCH
    # and a dropped line loses only the bytes in flight (the server keeps what
    # arrived); behind a proxy that caps request bodies, a size in KiB makes it
    # send pieces of at most that. An unfinished upload can be resumed for this
    # many hours, then its pieces are deleted.
    TUS_CHUNK_BYTES = env_int("TUS_CHUNK_KB", 0) * 1024
    TUS_RESUME_HOURS = env_int("TUS_RESUME_HOURS", 24)
    # The agenda and the calendar feed: how many days ahead they look, and the
    # most items either lists (overdue first), so a firm-wide agenda stays a page.
    AGENDA_DAYS = env_int("AGENDA_DAYS", 180)
    FEED_DAYS = env_int("FEED_DAYS", 365)
    AGENDA_MAX_ITEMS = env_int("AGENDA_MAX_ITEMS", 300)
    # A thread export (made by a job) can be downloaded for this many hours, then is deleted.
    EXPORT_HOURS = env_int("EXPORT_HOURS", 24)
    # The portal's log lines: "json" (one object a line, with the request id)
    # or "text" (Python's default); JSON unless set, in production.
    LOG_FORMAT = (env("LOG_FORMAT") or "text").strip().lower()
    # Prometheus metrics (portal.metrics): GET /metrics answers a scraper sending
    # "Authorization: Bearer <token>" (production wants 32 characters at least); unset,
    # /metrics is a 404 like any unknown page. A job consumer serves its own counters on
    # this port when set, on loopback unless the address says otherwise (no token there).
    METRICS_TOKEN = env("METRICS_TOKEN")
    WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
    WORKER_METRICS_ADDR = env("WORKER_METRICS_ADDR", "127.0.0.1")

    # Malware scanning by clamd (ClamAV) over its INSTREAM protocol: a Unix socket,
    # or a host and port. Until the scanner clears a file, only its uploader opens
    # it. "off" stores files unscanned (the firm's pages then say so); production
    # starts without a scanner only when this is set to "off" explicitly.
    SCANNING = (env("SCANNING") or "on").strip().lower()
    CLAMD_SOCKET = env("CLAMD_SOCKET")
    CLAMD_HOST = env("CLAMD_HOST")
    CLAMD_PORT = env_int("CLAMD_PORT", 3310)
    # Seconds clamd may stay silent (connecting, reading, answering) before a scan
    # is given up as "could not be scanned".
    CLAMD_TIMEOUT = env_int("CLAMD_TIMEOUT", 60)
    # Previews (images and the first pages of PDFs, PNG pixels only) are made in a
    # sandboxed process with these limits; "off" makes none.
    PREVIEWS = (env("PREVIEWS") or "on").strip().lower()
    # The firm's seal on signed copies: a PEM certificate and its unencrypted PEM
    # private key (readable by the app only). ``make run`` makes a self-signed pair
    # under instance/; production refuses to start without a usable pair.
    SIGNING_CERT = env("SIGNING_CERT")
    SIGNING_KEY = env("SIGNING_KEY")
    PREVIEW_MEMORY_MB = env_int("PREVIEW_MEMORY_MB", 1024)
    PREVIEW_CPU_SECONDS = env_int("PREVIEW_CPU_SECONDS", 20)

    # Mail. Without a server, development prints mail to the log instead.
    MAIL_SERVER = env("MAIL_SERVER")
    MAIL_PORT = env_int("MAIL_PORT", 587)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", True)
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_FROM = env("MAIL_FROM", "portal@localhost")
    # Base of the links put in emails, e.g. https://portal.example-firm.com
    BASE_URL = env("BASE_URL")

    # Reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or
    # networks, comma-separated). Nobody's by default: a client could claim any address.
    TRUSTED_PROXIES = env("TRUSTED_PROXIES", "")

    # Throttling: Redis when configured (shared by all workers), memory otherwise.
    REDIS_URL = env("REDIS_URL")
    # Failed sign-ins (and wrong current passwords) count against: the account
    # from one address (an attacker elsewhere cannot lock the owner out), the
    # address (a sprayer over many accounts), and, more slowly, the account from
    # anywhere (a guesser spread over many addresses).
    LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS = env("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS",
                                              "5 per 10 minutes")
    LOGIN_LIMIT_PER_ADDRESS = env("LOGIN_LIMIT_PER_ADDRESS", "20 per 10 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = env("LOGIN_LIMIT_PER_ACCOUNT", "30 per day")
    # Requests for a password reset link, per address and per email address.
    PASSWORD_RESET_LIMIT_PER_ADDRESS = env("PASSWORD_RESET_LIMIT_PER_ADDRESS", "10 per hour")
    PASSWORD_RESET_LIMIT_PER_EMAIL = env("PASSWORD_RESET_LIMIT_PER_EMAIL", "3 per hour")
    # Calendar feed fetches per address (calendar apps poll every few minutes to hours;
    # an office behind one address shares the budget).
    CALENDAR_FEED_LIMIT = env("CALENDAR_FEED_LIMIT", "60 per 10 minutes")
    # Requests to /metrics refused for a wrong or missing token, per address (requests
    # with the right one use up nothing).
    METRICS_LIMIT = env("METRICS_LIMIT", "10 per minute")
    # How often an open message thread asks for new messages (JavaScript).
    MESSAGE_POLL_SECONDS = env_int("MESSAGE_POLL_SECONDS", 15)

    # Background jobs (Huey): a Redis queue when PORTAL_REDIS_URL is set (consumers on
    # several machines share it), else a SQLite queue file (one machine; default
    # instance/jobs.sqlite). Immediate mode runs each job as it is enqueued (tests).
    JOBS_QUEUE_NAME = env("JOBS_QUEUE_NAME", "portal")
    JOBS_SQLITE_PATH = env("JOBS_SQLITE_PATH")
    JOBS_IMMEDIATE = env_bool("JOBS_IMMEDIATE", False)
    # Mail outbox: minutes to wait before each new attempt after a failure (the last
    # value repeats), attempts before a message is 'failed', and how long a send may
    # take before a message still 'sending' is taken as crashed ('unknown').
    OUTBOX_RETRY_MINUTES = tuple(int(minutes) for minutes
                                 in env("OUTBOX_RETRY_MINUTES", "1,5,15,60").split(","))
    OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_LEASE_MINUTES = env_int("OUTBOX_LEASE_MINUTES", 10)
    # Days after sending until an email's recipient address is blanked (the row stays).
    OUTBOX_KEEP_SENT_DAYS = env_int("OUTBOX_KEEP_SENT_DAYS", 30)

    # Reminders of due document requests: days before the due date on which the
    # person is reminded, and every how many days once it is overdue (from the day
    # after). At most one email a person a day, sent from this hour of their day on.
    REMINDER_DAYS_BEFORE = tuple(int(days) for days
                                 in env("REMINDER_DAYS_BEFORE", "3,1").split(","))
    REMINDER_OVERDUE_EVERY_DAYS = env_int("REMINDER_OVERDUE_EVERY_DAYS", 3)
    REMINDER_LOCAL_HOUR = env_int("REMINDER_LOCAL_HOUR", 9)
    # Re-parole: reminders to the attorney team and the client this many days
    # before the parole end date, and the day by which it should be filed.
    REPAROLE_REMINDER_DAYS = tuple(int(days) for days
                                   in env("REPAROLE_REMINDER_DAYS", "120,90,60").split(","))
    REPAROLE_FILE_DAYS_BEFORE = env_int("REPAROLE_FILE_DAYS_BEFORE", 90)

    # Accounts.
    INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7))
    PASSWORD_RESET_TTL = timedelta(minutes=env_int("PASSWORD_RESET_TTL_MINUTES", 30))
    # Server-side session limits: without a request for this long, and after
    # sign-in however active (a stolen cookie does not live forever).
    SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30))
    SESSION_MAX_AGE = timedelta(hours=env_int("SESSION_MAX_HOURS", 12))
    # The firm's people (admins, attorneys, staff) must set up a second factor
    # before anything else; not a setting: only the demo and the tests turn it off.
    SECOND_FACTOR_REQUIRED_FOR_FIRM = True
    # The firm's name: in the page header and titles, in emails, and beside the
    # portal's codes in authenticator apps. A profile's name replaces it.
    FIRM_NAME = env("FIRM_NAME", DEFAULT_FIRM_NAME)
    # The firm's profile (portal.firm.profile): a TOML file with its name, phone and
    # logo, and its address, office hours and privacy notice in each language.
    # Without one, the pages show only the name.
    FIRM_PROFILE = env("FIRM_PROFILE")
    # An SVG or PNG logo, for a firm without a profile or whose profile names none.
    FIRM_LOGO = env("FIRM_LOGO")
    # Email a person when their account is signed in to from a browser new to it.
    NEW_BROWSER_EMAIL = env_bool("NEW_BROWSER_EMAIL", True)
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = env_int("ARGON2_MEMORY_COST", 65536)  # KiB

    LANGUAGES = ("en", "es", "ru")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "portal", "translations"
    )

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    REMEMBER_COOKIE_DURATION = timedelta(0)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    HSTS = False

    # Names of the settings Production cannot start without.
    REQUIRED = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "MASTER_KEY", "S3_ENDPOINT_URL",
                "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_BUCKET",
                "MAIL_SERVER", "BASE_URL", "REDIS_URL")


class Development(Config):
    """``make run``: SQLite and the embedded S3 server under ``instance/``."""

    DEBUG = False  # the Werkzeug debugger would be a remote shell; keep it off
    S3_BUCKET = env("S3_BUCKET", "portal-evidence")
    BASE_URL = env("BASE_URL", "http://localhost:5000")
    # The demo firm may look around before setting up a second factor (its
    # start-up banner says so); production never lets the firm skip it.
    SECOND_FACTOR_REQUIRED_FOR_FIRM = env_bool("SECOND_FACTOR_REQUIRED_FOR_FIRM", False)


class Testing(Config):
    """The test suite: cheap password hashing, settings injected by fixtures."""

    # Off unless a test brings its own clamd (tests/scanner.py): files are
    # stored ``unscanned`` and open at once, as most tests are about other things.
    SCANNING = (env("SCANNING") or "off").strip().lower()
    # Likewise previews (a sandboxed process per file): tests of them turn them on.
    PREVIEWS = (env("PREVIEWS") or "off").strip().lower()

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - the test suite's own
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    MAIL_USE_TLS = False
    # Jobs run as they are enqueued; the real-consumer tests turn this off.
    JOBS_IMMEDIATE = env_bool("JOBS_IMMEDIATE", True)
    # Most tests sign the firm in with a password alone; tests of the rule turn it on.
    SECOND_FACTOR_REQUIRED_FOR_FIRM = False
    # Off, or every fresh test client's first sign-in would add an email to the
    # mail counts of tests about other things; tests/test_session_list.py turns it on.
    NEW_BROWSER_EMAIL = False


class Production(Config):
    """Behind gunicorn: every secret from the environment, cookies locked down."""

    DEBUG = False
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    PREFERRED_URL_SCHEME = "https"
    HSTS = True
    LOG_FORMAT = (env("LOG_FORMAT") or "json").strip().lower()


# Setting names as the operator writes them, for the start-up error.
ENV_NAMES = {"SQLALCHEMY_DATABASE_URI": "PORTAL_DATABASE_URL"}
MIN_SECRET_KEY_BYTES = 32
MIN_METRICS_TOKEN_CHARS = 32


def missing_settings(config: dict) -> list[str]:
    """Return the environment variable names of required settings left empty."""
    return [ENV_NAMES.get(key, f"PORTAL_{key}")
            for key in config.get("REQUIRED", ()) if not config.get(key)]


def unsafe_settings(config: dict) -> list[str]:
    """What makes ``config`` unfit for production, one sentence each
    (the master key's form is checked by ``portal.crypto``)."""
    problems = []
    missing = missing_settings(config)
    if missing:
        problems.append("Missing required settings: " + ", ".join(missing))
    base_url = urlsplit(config.get("BASE_URL") or "")
    if config.get("BASE_URL") and (base_url.scheme != "https" or not base_url.hostname):
        problems.append("PORTAL_BASE_URL must be an https:// address (links in emails use it)")
    secret = config.get("SECRET_KEY") or ""
    if secret and len(secret.encode()) < MIN_SECRET_KEY_BYTES:
        problems.append(f"PORTAL_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes")
    # Metrics are optional; a token, when set, is a credential that must not be guessable.
    metrics_token = config.get("METRICS_TOKEN") or ""
    if metrics_token and len(metrics_token) < MIN_METRICS_TOKEN_CHARS:
        problems.append(f"PORTAL_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_CHARS} "
                        "characters (or unset, to turn metrics off)")
    if config.get("DEBUG"):
        problems.append("debug mode (FLASK_DEBUG) can never be on in production")
    if config.get("JOBS_IMMEDIATE"):
        problems.append("PORTAL_JOBS_IMMEDIATE is for tests: production runs jobs on consumers")
    scanning = config.get("SCANNING", "on")
    if scanning not in ("on", "off"):
        problems.append('PORTAL_SCANNING must be "on" or "off"')
    elif scanning == "on" and not (config.get("CLAMD_SOCKET") or config.get("CLAMD_HOST")):
        problems.append("No malware scanner: set PORTAL_CLAMD_SOCKET (or PORTAL_CLAMD_HOST and "
                        "PORTAL_CLAMD_PORT), or PORTAL_SCANNING=off to store files unscanned")
    return problems


CONFIGS = {"development": Development, "testing": Testing, "production": Production}


def config_class(name: str) -> type[Config]:
    """The settings class for ``PORTAL_ENV`` ``name``; raises ``RuntimeError``
    naming the valid ones for anything else."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"Unknown PORTAL_ENV {name!r}; use one of: "
                           + ", ".join(sorted(CONFIGS))) from None
