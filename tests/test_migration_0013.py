"""Migration 0013 chains the audit events already written, in id order
(the order they were written in until then), so ``flask audit verify``
passes on an upgraded database; and the chain's writers take over from there."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal import audit
from portal.extensions import db

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

events = sa.table("audit_events", sa.column("occurred_at", sa.DateTime(True)),
                  sa.column("actor_id"), sa.column("action"), sa.column("case_id"),
                  sa.column("target"), sa.column("ip_address"),
                  sa.column("details", sa.JSON))


@pytest.fixture()
def app_at_0012(fresh_url, base_config):
    from portal import create_app

    app = create_app("testing", {**base_config, "SQLALCHEMY_DATABASE_URI": fresh_url})
    with app.app_context():
        upgrade(revision="0012")
        yield app
        db.session.remove()
        db.engine.dispose()


def test_upgrade_chains_existing_events_in_id_order_and_verify_passes(app_at_0012):
    # Ids and times disagree on purpose (a clock step back): the chain follows the ids.
    rows = [dict(occurred_at=WHEN - timedelta(minutes=n, microseconds=n), actor_id=None,
                 action=f"test.old_{n}", case_id=None, target=f"t{n}",
                 ip_address="192.0.2.1" if n % 2 else None,
                 details={"n": n, "name": "Zoë"} if n != 3 else {})
            for n in range(1, 6)]
    with db.engine.begin() as conn:
        for row in rows:  # one by one: ids in this order
            conn.execute(events.insert(), row)

    upgrade(revision="0013")
    chained = db.session.execute(sa.text(
        "SELECT id, sequence, previous_hash, content_hash FROM audit_events ORDER BY id")).all()
    assert [row.sequence for row in chained] == [1, 2, 3, 4, 5]
    previous = audit.GENESIS
    for row, stored in zip(rows, chained):
        # The migration's frozen copy of the format agrees with the app's.
        expected = audit.content_hash(previous, row["occurred_at"], None, row["action"], None,
                                      row["target"], row["ip_address"], row["details"])
        assert (stored.previous_hash, stored.content_hash) == (previous, expected)
        previous = expected
    report = audit.verify(chunk=2)  # several chunks
    assert (report.broken, report.rows, report.head) == (None, 5, previous)

    audit.record("test.new")
    db.session.commit()
    assert audit.verify().rows == 6

    db.session.remove()  # its reads would hold the table the downgrade alters
    downgrade(revision="0012")
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("audit_events")}
    assert not {"sequence", "previous_hash", "content_hash"} & columns


def test_upgrade_of_an_empty_trail(app_at_0012):
    upgrade(revision="0013")
    assert audit.verify().rows == 0
