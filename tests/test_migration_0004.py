"""Migration 0004 moves each document version's object (key, size, SHA-256,
type) into a stored_objects row with the version's UUID, and back on downgrade."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

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
                 sa.column("created_at"))
documents = sa.table("documents", sa.column("id"), sa.column("uuid", sa.Uuid),
                     sa.column("case_id"), sa.column("created_by_id"), sa.column("created_at"))
versions = sa.table("document_versions", sa.column("id"), sa.column("uuid", sa.Uuid),
                    sa.column("document_id"), sa.column("number"), sa.column("uploaded_by_id"),
                    sa.column("uploaded_at"), sa.column("filename"), sa.column("content_type"),
                    sa.column("size"), sa.column("sha256"), sa.column("storage_key"),
                    sa.column("status"))
stored_objects = sa.table("stored_objects", sa.column("id"), sa.column("uuid", sa.Uuid),
                          sa.column("key"), sa.column("size"), sa.column("sha256"),
                          sa.column("content_type"), sa.column("case_id"),
                          sa.column("stored_by_id"), sa.column("stored_at", sa.DateTime(True)),
                          sa.column("purpose"), sa.column("state"))


@pytest.fixture()
def app_at_0003(fresh_url, base_config):
    from portal import create_app

    app = create_app("testing", {**base_config, "SQLALCHEMY_DATABASE_URI": fresh_url})
    with app.app_context():
        upgrade(revision="0003")
        yield app
        db.session.remove()
        db.engine.dispose()


def _seed(conn) -> dict:
    """Two cases; three versions: available, purged and missing."""
    conn.execute(users.insert(), [
        dict(id=1, uuid=uuid.uuid4(), email="client@example.org", name="Client", role="client",
             language="es", timezone="UTC", active=True, created_at=WHEN),
        dict(id=2, uuid=uuid.uuid4(), email="sponsor@example.org", name="Sponsor",
             role="sponsor", language="en", timezone="UTC", active=True, created_at=WHEN)])
    conn.execute(cases.insert(), [
        dict(id=case_id, uuid=uuid.uuid4(), reference=f"HP-2026-000{case_id}",
             case_type="humanitarian_parole", title="Case", beneficiary_name="B",
             beneficiary_country="VE", stage="gathering_evidence", opened_on=date(2026, 1, 1),
             created_at=WHEN) for case_id in (1, 2)])
    conn.execute(documents.insert(), [
        dict(id=1, uuid=uuid.uuid4(), case_id=1, created_by_id=1, created_at=WHEN),
        dict(id=2, uuid=uuid.uuid4(), case_id=2, created_by_id=2, created_at=WHEN)])
    rows = [dict(id=10, document_id=1, number=1, uploaded_by_id=1, status="available",
                 content_type="application/pdf", size=1234),
            dict(id=11, document_id=1, number=2, uploaded_by_id=1, status="purged",
                 content_type="image/jpeg", size=5 << 30),  # past 32 bits: a BigInteger
            dict(id=12, document_id=2, number=1, uploaded_by_id=2, status="missing",
                 content_type="image/png", size=7)]
    for row in rows:
        row["uuid"] = uuid.uuid4()
        row["uploaded_at"] = WHEN.replace(minute=row["id"])
        row["filename"] = f"file-{row['id']}.bin"
        row["sha256"] = f"{row['id']:064x}"
        row["storage_key"] = f"cases/{uuid.uuid4()}/{row['uuid']}"
    conn.execute(versions.insert(), rows)
    return {row["id"]: row for row in rows}


def test_upgrade_moves_each_version_into_a_stored_object_and_downgrade_restores(app_at_0003):
    with db.engine.begin() as conn:
        seeded = _seed(conn)

    upgrade(revision="0004")
    with db.engine.connect() as conn:
        objects = {o.uuid: o for o in conn.execute(sa.select(stored_objects))}
        links = dict(conn.execute(sa.text(
            "SELECT id, stored_object_id FROM document_versions")).all())
        version_columns = {c["name"] for c in sa.inspect(conn).get_columns("document_versions")}
    assert len(objects) == 3
    case_of = {10: 1, 11: 1, 12: 2}
    state_of = {10: "stored", 11: "deleted", 12: "missing"}
    for version_id, row in seeded.items():
        # The version's UUID is the associated data its object was encrypted with.
        stored = objects[row["uuid"]]
        assert links[version_id] == stored.id
        assert (stored.key, stored.size, stored.sha256, stored.content_type) == (
            row["storage_key"], row["size"], row["sha256"], row["content_type"])
        assert (stored.case_id, stored.stored_by_id, stored.stored_at) == (
            case_of[version_id], row["uploaded_by_id"], row["uploaded_at"])
        assert (stored.purpose, stored.state) == ("document_version", state_of[version_id])
    assert not version_columns & {"storage_key", "size", "sha256", "content_type"}

    downgrade(revision="0003")
    with db.engine.connect() as conn:
        restored = {r.id: r._asdict() for r in conn.execute(sa.select(versions))}
        tables = sa.inspect(conn).get_table_names()
    assert "stored_objects" not in tables
    for version_id, row in seeded.items():
        assert {k: restored[version_id][k] for k in row if k != "uploaded_at"} == {
            k: v for k, v in row.items() if k != "uploaded_at"}


def test_upgraded_versions_keep_a_unique_object_each(app_at_0003):
    """Two versions cannot share one stored object after the upgrade."""
    with db.engine.begin() as conn:
        _seed(conn)
    upgrade(revision="0004")
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE document_versions SET stored_object_id = "
                             "(SELECT MIN(id) FROM stored_objects)"))
