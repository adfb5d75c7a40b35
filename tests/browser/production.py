"""The portal's data and settings as production has them: every secret
new, ``PORTAL_*`` variables as an operator sets them, and the people and case
a browser test signs in to."""
from __future__ import annotations

import os
import secrets
from datetime import date

from sqlalchemy import select

from config import ENV_NAMES
from portal.auth.services import create_user
from portal.crypto import generate_master_key
from portal.dev import demo
from portal.extensions import db
from portal.models import Case, CaseMembership, Role, User
from portal.models.case import CaseRole
from tests.browser import signin
from tests.sealing import seal_files


def redis_url() -> str:
    """The Redis production settings point at: the machine's own (CI has one)."""
    return os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def settings(database_url: str, s3_server, smtp_server, base_url: str) -> dict:
    """The app's settings as production takes them, every secret new."""
    return {"SECRET_KEY": secrets.token_urlsafe(48), "SQLALCHEMY_DATABASE_URI": database_url,
            "MASTER_KEY": generate_master_key(), **s3_server.app_config(),
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "MAIL_USE_TLS": False,
            "BASE_URL": base_url, "TRUSTED_PROXIES": "127.0.0.2",
            # The machine's Redis (CI has one), with a queue name of this run's own.
            "REDIS_URL": redis_url(),
            "JOBS_QUEUE_NAME": f"portal-browser-{secrets.token_hex(4)}",
            # An open thread asks for new messages this often (seconds): quick, for the test.
            "MESSAGE_POLL_SECONDS": 2,
            # The demo firm's face, checked by production at start-up as an operator's is.
            "FIRM_PROFILE": str(demo.FIRM_PROFILE), **seal_files()}


def environment(values: dict) -> dict[str, str]:
    """``values`` (from ``settings``) as the ``PORTAL_*`` variables an operator sets, on top of
    this process's environment less any ``PORTAL_``/``FLASK_`` variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[ENV_NAMES.get(key, f"PORTAL_{key}")] = str(value)
    env["PORTAL_ENV"] = "production"
    return env


def _add_client_case(attorney: User, client: User, reference: str, title: str,
                     beneficiary: str, opened_on: date) -> str:
    """A parole case of ``attorney`` with ``client`` on it; returns its uuid."""
    case = Case(reference=reference, case_type="humanitarian_parole", title=title,
                beneficiary_name=beneficiary, beneficiary_country="VE",
                stage="gathering_evidence", opened_on=opened_on, assigned_attorney=attorney)
    case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY),
                        CaseMembership(user=client, role=CaseRole.CLIENT)]
    db.session.add(case)
    db.session.commit()
    return str(case.uuid)


def add_firm_member(app, email: str, name: str, role: Role, password: str) -> None:
    """An admin, attorney or staff member with a password and, as production
    requires of the firm, an authenticator app the tests hold
    (``signin.sign_in`` types its codes)."""
    with app.app_context():
        user = create_user(email, name, role, password)
        signin.add_authenticator_app(user, app.config["BASE_URL"])
        db.session.commit()
        db.session.remove()


def add_people_and_case(app, password: str) -> tuple[str, str, str]:
    """An attorney (with an authenticator app), a client with a password,
    and a case they share: (client email, case uuid, case title)."""
    title = "Humanitarian parole for Rosa Pérez"
    add_firm_member(app, "attorney@firm.example", "Laura Méndez", Role.ATTORNEY, password)
    with app.app_context():
        attorney = db.session.scalar(select(User).where(User.email == "attorney@firm.example"))
        client = create_user("ana.perez@example.org", "Ana Pérez", Role.CLIENT, password)
        case_uuid = _add_client_case(attorney, client, "HP-2026-0042", title, "Rosa Pérez",
                                     date(2026, 1, 12))
        result = client.email, case_uuid, title
        db.session.remove()
        return result


def empty_case_folder(app, case_uuid: str) -> None:
    """Delete what the browser stored in the shared bucket, so no other test
    meets it (this database is dropped, its objects would be orphans)."""
    with app.app_context():
        storage = app.extensions["storage"]
        for upload in storage.pending_uploads(f"cases/{case_uuid}/"):
            storage.abort_upload(upload.key, upload.upload_id)
        for obj in storage.list_objects(f"cases/{case_uuid}/"):
            storage.delete(obj.key)


def add_spanish_client_case(app, password: str) -> tuple[str, str]:
    """A second case of the same attorney, whose client reads Spanish and
    lives in Caracas: (client email, case uuid)."""
    with app.app_context():
        attorney = db.session.scalar(select(User).where(User.email == "attorney@firm.example"))
        client = create_user("marta.rivas@example.org", "Marta Rivas", Role.CLIENT, password)
        client.language, client.timezone = "es", "America/Caracas"
        case_uuid = _add_client_case(attorney, client, "HP-2026-0057",
                                     "Permiso humanitario para Jorge Rivas", "Jorge Rivas",
                                     date(2026, 2, 3))
        result = client.email, case_uuid
        db.session.remove()
        return result
