"""Thread exports run as jobs: asked for on the thread page, "being prepared"
until a job has laid the file out and stored it encrypted in the vault, then
downloadable by the person who asked, until it expires and is deleted.
Asked for many times at once, one job and one file; a store outage is tried
again and then reported, and a lost job is found again."""
# ruff: noqa: F811 (people, the fixture, is imported and named as a parameter)
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.dev.embedded_s3 import free_port
from portal.evidence.services import limits
from portal.extensions import db
from portal.messages import export_files, services
from portal.models import (AuditEvent, CaseMembership, ExportState, ObjectState, Purpose,
                           StoredObject, ThreadExport)
from portal.models.case import CaseRole
from portal.models.types import utcnow
from portal.storage import StorageError
from tests.conftest import PortalClient
from tests.jobs import pending_jobs, queued_jobs, run_jobs
from tests.test_messages import people, thread_url  # noqa: F401 (the fixture)

BODY = "Letter from the hospital, page two: ZEBRA"


@pytest.fixture()
def thread(app, people):
    with app.test_request_context():
        from portal.messages.permissions import get_thread_or_404
        found = get_thread_or_404(people["case"].uuid, people["lawyer"])
        services.post(people["client"], found, BODY, "key-1")
    return found


def take_off_the_case(people) -> None:
    """The lawyer is no longer on the case's team (not committed)."""
    for membership in list(people["case"].memberships):
        if membership.user_id == people["lawyer"].id:
            people["case"].memberships.remove(membership)
    people["case"].attorney = None


def ask(client, people, fmt="txt", internal=False):
    return client.submit(f"{thread_url(people)}/export.{fmt}",
                         {"internal": "1"} if internal else {})


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("messages.export%")).order_by(AuditEvent.id)))


def exports_stored() -> list[StoredObject]:
    return list(db.session.scalars(select(StoredObject).where(
        StoredObject.purpose == Purpose.THREAD_EXPORT)))


def test_the_export_is_prepared_by_a_job_and_then_downloaded(app, client, login_as, people,
                                                             thread):
    login_as(people["lawyer"])
    with queued_jobs(app):
        asked = ask(client, people)
        assert asked.status_code == 303
        page_url = asked.headers["Location"]
        page = client.get(page_url).text
        # Nothing is laid out in the request: the page says so and asks again by itself.
        assert "Your export is being prepared" in page and "data-export-url" in page
        assert "/file" not in page and exports_stored() == []
        state_url = re.search(r'data-export-url="([^"]+)"', page).group(1)
        assert client.get(state_url).json == {"state": "preparing"}
        assert pending_jobs() == ["prepare_export"]
        # The thread page lists it for its asker.
        assert "being prepared" in client.get(thread_url(people)).text
        assert run_jobs() == 1
    assert client.get(state_url).json == {"state": "ready"}
    page = client.get(page_url).text
    assert "Your export is ready." in page and "Only you can download it" in page
    file_url = re.search(r'href="([^"]+/file)"', page).group(1)
    response = client.get(file_url)
    assert response.status_code == 200 and f"> {BODY}" in response.data.decode()
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    # Stored encrypted like any file of the case: the bucket holds no plaintext.
    (stored,) = exports_stored()
    raw = app.extensions["storage"].reader(stored.key)
    assert BODY.encode() not in b"".join(iter(lambda: raw.read(1 << 16), b""))
    assert actions() == ["messages.export_requested", "messages.exported",
                         "messages.export_downloaded"]


def test_asked_ten_times_at_once_one_job_and_one_file(app, people, thread):
    """Ten tabs (or ten clicks) at once: one row, one job, one file."""
    lawyer_id, thread_id = people["lawyer"].id, thread.id
    made, errors, start = [], [], threading.Barrier(10)

    def click():
        try:
            with app.app_context():
                from portal.models import MessageThread, User
                actor, found = db.session.get(User, lawyer_id), db.session.get(MessageThread,
                                                                               thread_id)
                start.wait()
                made.append(export_files.ask(actor, found, "pdf", False).uuid)
        except Exception as error:  # reported below
            errors.append(error)

    with queued_jobs(app):
        clickers = [threading.Thread(target=click) for _ in range(10)]
        for clicker in clickers:
            clicker.start()
        for clicker in clickers:
            clicker.join()
        assert errors == [] and len(made) == 10 and len(set(made)) == 1
        assert pending_jobs() == ["prepare_export"]
        run_jobs()
    assert db.session.scalar(select(func.count()).select_from(ThreadExport)) == 1
    assert len(exports_stored()) == 1
    assert actions() == ["messages.export_requested", "messages.exported"]


def test_once_ready_a_new_ask_makes_a_new_file(app, client, login_as, people,
                                              thread):
    login_as(people["lawyer"])
    first = ask(client, people).headers["Location"]
    second = ask(client, people).headers["Location"]
    assert first != second and len(exports_stored()) == 2


def test_an_export_is_its_askers_alone(app, client, login_as, people, make_user,
                                       thread):
    login_as(people["lawyer"])
    page_url = ask(client, people).headers["Location"]
    client.submit("/logout")
    # Another attorney of the same case may export the thread, but not fetch this file.
    colleague = make_user("attorney")
    people["case"].memberships.append(CaseMembership(user=colleague, role=CaseRole.ATTORNEY))
    db.session.commit()
    for who in (colleague, make_user("admin"), people["client"]):
        login_as(who)
        for tail in ("", "/state", "/file"):
            assert client.get(page_url + tail).status_code == 404, (who.role, tail)
        client.submit("/logout")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "messages.export_denied")) == 9
    # An export of another case's thread is not reached through this case either.
    assert actions().count("messages.export_downloaded") == 0


def test_the_asker_removed_from_the_case_loses_the_file(app, client, login_as, people,
                                                        thread):
    login_as(people["lawyer"])
    page_url = ask(client, people).headers["Location"]
    take_off_the_case(people)
    db.session.commit()
    assert client.get(page_url + "/file").status_code == 404


def test_an_export_is_reached_through_its_own_case_only(app, client, login_as, people,
                                                        make_case, thread):
    login_as(people["lawyer"])
    page_url = ask(client, people).headers["Location"]
    other = make_case(attorney=people["lawyer"])  # a case the asker runs too
    elsewhere = page_url.replace(str(people["case"].uuid), str(other.uuid))
    assert client.get(elsewhere + "/file").status_code == 404
    assert client.get(page_url + "/file").status_code == 200


@pytest.mark.parametrize("lost", ["deactivated", "off the case"])
def test_a_job_for_someone_who_lost_access_makes_nothing(app, people, thread,
                                                         lost):
    with queued_jobs(app):
        with app.test_request_context():
            export = export_files.ask(people["lawyer"], thread, "txt", False)
        if lost == "deactivated":
            people["lawyer"].active = False
        else:
            take_off_the_case(people)
        db.session.commit()
        run_jobs()
    db.session.refresh(export)
    assert export.state is ExportState.FAILED and exports_stored() == []
    assert actions()[-1] == "messages.export_failed"


def test_expired_exports_say_so_and_are_deleted(app, client, login_as, people,
                                                thread):
    login_as(people["lawyer"])
    page_url = ask(client, people).headers["Location"]
    keep_url = ask(client, people, "pdf").headers["Location"]
    expired, kept = db.session.scalars(select(ThreadExport).order_by(ThreadExport.id)).all()
    expired.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    # Past its time, before the purge has run: refused all the same, and said why.
    response = client.get(page_url + "/file")
    assert response.status_code == 410 and "This export has expired" in response.text
    assert "This export has expired" in client.get(page_url).text
    assert export_files.purge() == 1
    db.session.refresh(expired)
    assert expired.state is ExportState.EXPIRED
    assert expired.stored_object.state is ObjectState.DELETED
    keys = {o.key for o in app.extensions["storage"].list_objects("cases/")}
    assert expired.stored_object.key not in keys and kept.stored_object.key in keys
    assert client.get(keep_url + "/file").status_code == 200
    assert "being prepared" not in client.get(thread_url(people)).text


def test_exports_do_not_count_against_the_case_quota(app, client, login_as, people,
                                                    thread):
    login_as(people["lawyer"])
    ask(client, people, "pdf")
    (stored,) = exports_stored()
    assert stored.size > 0 and limits(people["case"]).used == 0


def test_a_store_outage_is_tried_again_then_reported(base_config, app, client, login_as, people,
                                                     thread):
    login_as(people["lawyer"])
    with queued_jobs(app):
        page_url = ask(client, people).headers["Location"]
    export_uuid = str(db.session.scalar(select(ThreadExport.uuid)))
    down = create_app("testing", {**base_config,
                                  "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    down.test_client_class = PortalClient
    with down.app_context():
        for attempt in range(export_files.ATTEMPTS):
            if attempt < export_files.ATTEMPTS - 1:
                with pytest.raises(StorageError):  # raised: Huey tries again later
                    export_files.prepare(export_uuid)
            else:
                export_files.prepare(export_uuid)  # the last try gives up and says so
        db.session.remove()
    db.session.expire_all()
    export = db.session.scalar(select(ThreadExport))
    assert export.state is ExportState.FAILED and export.attempts == export_files.ATTEMPTS
    assert "could not be prepared" in client.get(page_url).text
    assert exports_stored() == [] and list(app.extensions["storage"].list_objects("cases/")) == []
    # Nothing of the thread was touched: asking again works once the store is back.
    again = ask(client, people).headers["Location"]
    assert client.get(again + "/file").status_code == 200


def test_a_lost_job_is_found_again(app, client, login_as, people, thread):
    login_as(people["lawyer"])
    with queued_jobs(app):
        page_url = ask(client, people).headers["Location"]
    # The queue lost it (the queue above is gone); ten minutes on, the purge enqueues it again.
    export = db.session.scalar(select(ThreadExport))
    assert export_files.purge() == 0 and export.state is ExportState.PREPARING
    export.requested_at = utcnow() - export_files.STUCK_AFTER - timedelta(seconds=1)
    db.session.commit()
    export_files.purge()  # jobs run at once here
    db.session.refresh(export)
    assert export.state is ExportState.READY
    assert client.get(page_url + "/file").status_code == 200


def test_asking_needs_the_forms_csrf_token(app, client, login_as, people, thread):
    login_as(people["lawyer"])
    response = client.post(f"{thread_url(people)}/export.txt", data={})
    assert response.status_code == 400
    assert db.session.scalar(select(ThreadExport.id)) is None
