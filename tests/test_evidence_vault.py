"""One table owns every stored object, one module (the vault) encrypts and
stores it: what a version points at, and what reconcile works from."""
from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal import vault
from portal.evidence import services
from portal.evidence.reconcile import reconcile
from portal.extensions import db
from portal.models import AuditEvent, ObjectState, Purpose, StoredObject, VersionStatus
from tests.uploads import PDF, documents_url, pending_uploads, stored_keys, upload, versions


@pytest.fixture()
def people(make_user, make_case):
    client, attorney = make_user("client"), make_user("attorney")
    return dict(client=client, attorney=attorney,
                case=make_case(attorney=attorney, client=client))


def set_state(version, state: ObjectState) -> None:
    db.session.execute(update(StoredObject).where(StoredObject.id == version.stored_object_id)
                       .values(state=state))
    db.session.commit()
    db.session.expire_all()


def test_an_upload_is_a_stored_object_its_version_points_at(app, as_client, people):
    upload(as_client, documents_url(people["case"]), [("passport.pdf", [PDF + b"x" * 1000])])
    (version,) = versions()
    stored = db.session.scalar(select(StoredObject))
    assert version.stored_object_id == stored.id
    # One UUID for both: it is the associated data the object is encrypted with.
    assert stored.uuid == version.uuid
    assert stored.key == f"cases/{people['case'].uuid}/{stored.uuid}"
    assert stored_keys(app) == [stored.key]
    assert (stored.size, stored.sha256) == (len(PDF) + 1000,
                                           hashlib.sha256(PDF + b"x" * 1000).hexdigest())
    assert (stored.content_type, stored.purpose, stored.state) == (
        "application/pdf", Purpose.DOCUMENT_VERSION, ObjectState.STORED)
    assert (stored.case_id, stored.stored_by_id) == (people["case"].id, people["client"].id)


def test_the_vault_stores_and_opens_an_object_for_any_owner(app, people):
    """No document version involved: what a message attachment or a preview will do."""
    content = PDF + bytes(range(256)) * 9000  # two read chunks
    stored = vault.put([content[:5000], content[5000:]], case=people["case"],
                       stored_by=people["attorney"], purpose=Purpose.DOCUMENT_VERSION,
                       content_type="application/pdf", max_size=10 << 20, room=10 << 20)
    assert stored.id is None and stored not in db.session  # the caller records it
    db.session.add(stored)
    db.session.commit()
    assert b"".join(vault.open(stored)) == content
    # Another row (another UUID) pointing at this ciphertext cannot read it.
    impostor = StoredObject(uuid=uuid.uuid4(), key=stored.key, size=stored.size,
                            sha256=stored.sha256, content_type=stored.content_type)
    with pytest.raises(vault.IntegrityFailure):
        b"".join(vault.open(impostor))
    assert vault.delete(stored) and stored_keys(app) == []


@pytest.mark.parametrize("limit", ["max_size", "room"])
def test_the_vault_refuses_past_a_limit_and_stores_nothing(app, people, limit):
    sizes = {"max_size": 10 << 20, "room": 10 << 20, limit: 4000}
    with pytest.raises(vault.TooLarge if limit == "max_size" else vault.NoRoom):
        vault.put([PDF, b"x" * 5000], case=people["case"], stored_by=people["attorney"],
                  purpose=Purpose.DOCUMENT_VERSION, content_type="application/pdf", **sizes)
    assert stored_keys(app) == [] and pending_uploads(app) == []


def test_purge_deletes_the_object_and_frees_the_quota(app, as_client, people, make_user):
    upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF + b"x" * 1000])])
    (version,) = versions()
    assert services.limits(people["case"]).used == len(PDF) + 1000
    services.purge(make_user("admin"), people["case"], version, "wrong case")
    assert version.stored_object.state is ObjectState.DELETED and stored_keys(app) == []
    assert services.limits(people["case"]).used == 0


def test_a_version_whose_object_is_not_stored_cannot_be_downloaded(app, as_client, people):
    """Downloadable needs both: a version people may have, and its object in the store."""
    upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF])])
    (version,) = versions()
    link = f"/cases/{people['case'].uuid}/versions/{version.uuid}/download"
    assert version.downloadable and link in as_client.get(documents_url(people["case"])).text
    set_state(version, ObjectState.MISSING)
    assert version.status is VersionStatus.AVAILABLE and not version.downloadable
    assert link not in as_client.get(documents_url(people["case"])).text
    assert as_client.get(link).status_code == 410


def test_reconcile_deletes_an_object_whose_row_says_deleted(app, as_client, people, runner):
    """A purge the store did not carry out: the row no longer expects the object."""
    upload(as_client, documents_url(people["case"]),
           [("kept.pdf", [PDF]), ("gone.pdf", [PDF + b"x"])])
    kept, gone = versions()
    set_state(gone, ObjectState.DELETED)
    report = runner.invoke(args=["reconcile-storage", "--grace-minutes", "0"])
    assert f"orphan object     {gone.storage_key}" in report.output
    assert kept.storage_key not in report.output
    runner.invoke(args=["reconcile-storage", "--grace-minutes", "0", "--repair"])
    assert stored_keys(app) == [kept.storage_key]


def test_reconcile_checks_stored_objects_whoever_owns_them(app, people):
    """A row with no version behind it (a future owner) whose object is
    missing is reported and marked; one that turns up again is no orphan."""
    stored = vault.put([PDF], case=people["case"], stored_by=people["attorney"],
                       purpose=Purpose.DOCUMENT_VERSION, content_type="application/pdf",
                       max_size=1 << 20, room=1 << 20)
    db.session.add(stored)
    db.session.commit()
    storage = app.extensions["storage"]
    storage.delete(stored.key)
    report = reconcile(repair=True, grace=timedelta(0))
    assert report.missing_objects == [stored] and report.orphan_objects == []
    assert stored.state is ObjectState.MISSING
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "storage.object_missing")).target == str(stored.uuid)
    assert reconcile(grace=timedelta(0)).clean  # reported once
    storage.client.put_object(Bucket=storage.bucket, Key=stored.key, Body=b"restored")
    assert reconcile(grace=timedelta(0)).clean  # restored from a backup: not deleted as an orphan
