"""Rules of the vault that only show under load or damage: the quota is
enforced while a file streams and under real parallel uploads, and a file
whose content no longer matches its recorded SHA-256 is never handed out.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest
from sqlalchemy import func, select, text, update

from portal.extensions import db
from portal.models import AuditEvent, Document, StoredObject
from portal.vault import IntegrityFailure
from tests.conftest import PASSWORD
from tests.uploads import (PDF, Interrupted, documents_url, flashes, pattern, pending_uploads,
                           stored_keys, upload, versions)

MiB = 1 << 20
NO_ROOM = "does not fit in the case&#39;s remaining storage"
# How long a test waits for something that should take a second or two
# before it calls it hung; never an assertion on speed.
HUNG = 120


@pytest.fixture()
def people(make_user, make_case):
    client, sponsor = make_user("client"), make_user("sponsor")
    case = make_case(client=client, sponsors=[sponsor])
    return dict(client=client, sponsor=sponsor, case=case)


def signed_in(app, user):
    """A fresh browser signed in as ``user``."""
    browser = app.test_client()
    assert browser.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def bucket(app) -> tuple[list[str], list[str]]:
    """(keys of stored objects, keys of unfinished multipart uploads) under cases/."""
    return stored_keys(app), [u.key for u in pending_uploads(app)]


# --- the quota -------------------------------------------------------------------

def test_upload_over_the_remaining_quota_is_cut_off_while_it_streams(app, people):
    """With 2 MiB left, a 40 MiB file is given up at about 2 MiB: when 30 MiB
    have been sent, no multipart upload is open any more. Checked only at the
    end, the whole 40 MiB would have gone to the store first."""
    app.config["CASE_QUOTA_BYTES"] = 2 * MiB
    browser = signed_in(app, people["client"])
    seen = {}
    body = Interrupted(40 * MiB, after=30 * MiB, act=lambda: seen.update(at_30_mib=bucket(app)))
    response = upload(browser, documents_url(people["case"]), [("huge.pdf", body)])
    (flash,) = flashes(browser.get(response.headers["Location"]).text)
    assert flash.startswith("huge.pdf was not saved: ") and NO_ROOM in flash
    assert seen["at_30_mib"] == ([], [])  # already aborted, 10 MiB before the body's end
    assert bucket(app) == ([], []) and versions() == []


class HeldWrites:
    """What a test may do while ``writes_held`` blocks the document tables;
    usable from another thread (it needs no app context)."""

    def __init__(self, observer):
        self.observer = observer

    def waiting(self) -> list[int]:
        """Server pids of the app's connections waiting on a lock."""
        return list(self.observer.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).scalars())

    def terminate(self, pids: list[int]) -> None:
        """Kill those connections, as a database restart or failover would."""
        for pid in pids:
            self.observer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@contextlib.contextmanager
def writes_held(app):
    """Hold an EXCLUSIVE lock on the document tables from a connection of our
    own (PostgreSQL): readers go on, but every upload that reaches the point
    of writing its row waits there until the block ends. Yields a
    ``HeldWrites``."""
    conn = db.engine.connect()
    # Should the test go wrong while an upload waits on us, the server ends
    # the block by itself instead of leaving the run deadlocked.
    conn.execute(text(f"SET idle_in_transaction_session_timeout = '{HUNG}s'"))
    conn.execute(text("LOCK TABLE documents, document_versions IN EXCLUSIVE MODE"))
    # Autocommit: within a transaction PostgreSQL would show one snapshot of
    # pg_stat_activity however often it is asked.
    observer = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield HeldWrites(observer)
    finally:
        observer.close()
        with contextlib.suppress(Exception):  # gone already if the timeout ended it
            conn.rollback()
        conn.close()


def wait_for(condition, what: str):
    """Poll ``condition`` until it returns something true; fail if it never does."""
    deadline = time.monotonic() + HUNG
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_two_uploads_at_the_same_time_cannot_overshoot_the_quota(app, people):
    """Two people upload 2 MiB each into 3 MiB at the same moment, each from
    its own thread and connection. Both fit when they begin; the document
    tables are held so that both are inside the final check together, which
    is the race the case row lock (SELECT ... FOR UPDATE) exists for."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the guard is PostgreSQL's row lock on the case (SELECT ... FOR UPDATE), "
                    "which SQLite does not have; set PORTAL_TEST_DATABASE_URL (CI does)")
    app.config["CASE_QUOTA_BYTES"] = 3 * MiB
    browsers = {role: signed_in(app, people[role]) for role in ("client", "sponsor")}
    url = documents_url(people["case"])  # the threads have no app context to load it in
    outcomes, errors = {}, []

    def send(role):
        try:
            response = upload(browsers[role], url,
                              [(f"{role}.pdf", [PDF + role[0].encode() * (2 * MiB)])])
            outcomes[role] = flashes(browsers[role].get(response.headers["Location"]).text)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=send, args=(role,), daemon=True) for role in browsers]
    with writes_held(app) as held:
        for thread in threads:
            thread.start()
        # Both have streamed and stored their object, and wait at the check.
        wait_for(lambda: errors or len(held.waiting()) == 2,
                 "both uploads to reach the final quota check")
    for thread in threads:
        thread.join(HUNG)
        assert not thread.is_alive(), "an upload never finished"
    assert errors == []

    messages = sorted(flash for flashes_ in outcomes.values() for flash in flashes_)
    assert len(messages) == 2 and sum(NO_ROOM in m for m in messages) == 1, messages
    (kept,) = versions()
    assert f"{kept.filename} was uploaded." in messages
    total = db.session.scalar(select(func.sum(StoredObject.size)))
    assert total <= 3 * MiB
    assert bucket(app) == ([kept.storage_key], [])  # the refused object was deleted


# --- downloads ---------------------------------------------------------------------

def received_bytes(response) -> tuple[int, BaseException | None]:
    """How many body bytes a client got, and what broke the stream off."""
    received = 0
    try:
        for chunk in response.iter_encoded():
            received += len(chunk)
    except Exception as error:
        return received, error
    return received, None


@pytest.mark.parametrize("size", [len(PDF) + 1000, 3 * MiB + 77], ids=["small", "large"])
def test_download_not_matching_its_recorded_sha256_is_refused(app, people, caplog, size):
    """The object decrypts fine, but the plaintext is not what was recorded
    (the row's SHA-256 changed). The client must never receive the whole
    file: a small one is refused before any byte; a large one is broken off
    before its last bytes, so no client takes a short or wrong file for a
    whole one."""
    browser = signed_in(app, people["client"])
    upload(browser, documents_url(people["case"]), [("scan.pdf", pattern(size, head=PDF))])
    (version,) = versions()
    db.session.execute(update(StoredObject).where(StoredObject.id == version.stored_object_id)
                       .values(sha256="0" * 64))
    db.session.commit()
    link = f"/cases/{people['case'].uuid}/versions/{version.uuid}/download"

    with caplog.at_level(logging.ERROR, logger="portal.vault"):
        response = browser.get(link)
        if response.status_code == 200:  # headers already sent: the stream must break
            received, error = received_bytes(response)
            assert isinstance(error, IntegrityFailure)
            assert received < version.size, "the client got every byte of a file that failed"
        else:
            assert response.status_code == 500 and "could not be verified" in response.text
            assert db.session.scalar(select(AuditEvent).where(
                AuditEvent.action == "document.integrity_failed")).target == str(version.uuid)
    if size < (1 << 20):  # one read holds the whole file: it can be refused with a page
        assert response.status_code == 500
    assert any(str(version.uuid) in r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 1  # nothing removed
