"""Migration 0011 puts every assigned attorney on their case's team (access
is the team alone from then on) and keeps only the newest pending invitation
of an email to a case, before the database starts to insist on one."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal.extensions import db

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

users = sa.table("users", sa.column("id"), sa.column("uuid", sa.Uuid), sa.column("email"),
                 sa.column("name"), sa.column("role"), sa.column("language"),
                 sa.column("timezone"), sa.column("active"), sa.column("created_at"))
cases = sa.table("cases", sa.column("id"), sa.column("uuid", sa.Uuid), sa.column("reference"),
                 sa.column("case_type"), sa.column("title"), sa.column("beneficiary_name"),
                 sa.column("beneficiary_country"), sa.column("stage"), sa.column("opened_on"),
                 sa.column("assigned_attorney_id"), sa.column("version"),
                 sa.column("created_at"))
memberships = sa.table("case_memberships", sa.column("case_id"), sa.column("user_id"),
                       sa.column("role"), sa.column("added_at"))
invitations = sa.table("invitations", sa.column("id"), sa.column("uuid", sa.Uuid),
                       sa.column("token_hash"), sa.column("email"), sa.column("name"),
                       sa.column("language"), sa.column("role"), sa.column("case_id"),
                       sa.column("case_role"), sa.column("invited_by_id"),
                       sa.column("created_at"), sa.column("expires_at"),
                       sa.column("used_at"), sa.column("voided_at"))


@pytest.fixture()
def app_at_0010(fresh_url, base_config):
    from portal import create_app

    app = create_app("testing", {**base_config, "SQLALCHEMY_DATABASE_URI": fresh_url})
    with app.app_context():
        upgrade(revision="0010")
        yield app
        db.session.remove()
        db.engine.dispose()


def _seed(conn) -> None:
    """Case 1's attorney is a member, case 2's is not (a case of the old
    rule: the assignment alone gave access); an email with two pending
    invitations to case 1 (possible before: only the service prevented it)."""
    conn.execute(users.insert(), [
        dict(id=n, uuid=uuid.uuid4(), email=f"lawyer{n}@firm.example", name=f"Lawyer {n}",
             role="attorney", language="en", timezone="UTC", active=True, created_at=WHEN)
        for n in (1, 2)])
    conn.execute(cases.insert(), [
        dict(id=n, uuid=uuid.uuid4(), reference=f"HP-2026-000{n}", case_type="humanitarian_parole",
             title="Case", beneficiary_name="B", beneficiary_country="VE",
             stage="gathering_evidence", opened_on=date(2026, 1, 1), assigned_attorney_id=n,
             version=1, created_at=WHEN) for n in (1, 2)])
    conn.execute(memberships.insert(), [dict(case_id=1, user_id=1, role="attorney",
                                             added_at=WHEN)])
    conn.execute(invitations.insert(), [
        dict(id=n, uuid=uuid.uuid4(), token_hash=f"{n:064x}", email="ana@example.org",
             name="Ana", language="es", role="client", case_id=1, case_role="client",
             invited_by_id=1, created_at=WHEN + timedelta(minutes=n),
             expires_at=WHEN + timedelta(days=7), used_at=None, voided_at=None)
        for n in (1, 2)])


def test_upgrade_puts_assigned_attorneys_on_their_team_and_keeps_the_newest_invitation(
        app_at_0010):
    with db.engine.begin() as conn:
        _seed(conn)

    upgrade(revision="0011")
    with db.engine.connect() as conn:
        members = conn.execute(sa.select(memberships.c.case_id, memberships.c.user_id,
                                         memberships.c.role)
                               .order_by(memberships.c.case_id)).all()
        pending = conn.execute(sa.select(invitations.c.id).where(
            invitations.c.voided_at.is_(None))).scalars().all()
    assert [tuple(m) for m in members] == [(1, 1, "attorney"), (2, 2, "attorney")]
    assert pending == [2]  # the newest, the only one whose link worked

    with db.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(invitations.insert(), [dict(
            id=3, uuid=uuid.uuid4(), token_hash=f"{3:064x}", email="ana@example.org",
            name="Ana", language="es", role="client", case_id=1, case_role="client",
            invited_by_id=1, created_at=WHEN, expires_at=WHEN + timedelta(days=7))])

    downgrade(revision="0010")
    upgrade(revision="0011")  # and back, with the rows in place
