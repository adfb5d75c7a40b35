"""A tus client no one here wrote (tuspy) uploads to the portal over real
HTTP, is killed halfway, and a new process resumes where the server says
the upload stands; the stored file matches byte for byte."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from portal.extensions import db
from portal.models import DocumentRequest, ResumableUpload, Role, UploadState
from tests.conftest import PASSWORD
from tests.uploads import PDF, pattern

CHUNK = 256 * 1024
SIZE = 3 * 1024 * 1024 + 12_345  # twelve whole pieces and a short one

# Run by each client process: upload piece by piece, saying the offset after
# each, with the URL kept in a file (tuspy's own storage) so a new process
# resumes the same upload. Checksums on: each piece is checked by the server.
CLIENT = """
import json, sys, time
from tusclient import client
from tusclient.storage.filestorage import FileStorage
args = json.loads(sys.argv[1])
tus = client.TusClient(args["endpoint"], headers=args["headers"])
uploader = tus.uploader(file_path=args["path"], chunk_size=args["chunk"],
                        metadata=args["metadata"], store_url=True,
                        url_storage=FileStorage(args["store"]), upload_checksum=True)
print("START", uploader.offset, flush=True)
while uploader.offset < uploader.get_file_size():
    uploader.upload_chunk()
    print("OFFSET", uploader.offset, flush=True)
    time.sleep(args["pause"])
print("DONE", uploader.url, flush=True)
"""


@pytest.fixture()
def live(app):
    """The test app served over HTTP on a loopback port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def sign_in(base: str, user) -> dict:
    """The headers a signed-in browser's uploader sends: its cookie and CSRF token."""
    session = requests.Session()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', session.get(f"{base}/login").text)
    answer = session.post(f"{base}/login", data={"email": user.email, "password": PASSWORD,
                                                 "csrf_token": token.group(1)},
                          allow_redirects=False)
    assert answer.status_code == 302
    page = session.get(f"{base}/account").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return {"Cookie": cookie, "X-CSRFToken": token}


def run_client(args: dict, kill_after: int | None = None) -> list[str]:
    """Run the tuspy client; with ``kill_after``, SIGKILL it once the server
    has taken that many bytes. Returns what it printed."""
    process = subprocess.Popen([sys.executable, "-c", CLIENT, json.dumps(args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if kill_after is not None and line.startswith("OFFSET") \
                and int(line.split()[1]) >= kill_after:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    if kill_after is None:
        assert process.returncode == 0, process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    return lines


def test_tuspy_killed_halfway_resumes_and_the_bytes_match(app, live, make_user, make_case,
                                                         tmp_path):
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT)
    case = make_case(attorney=attorney, client=client)
    passport = DocumentRequest(case=case, addressee=client, title="Passport", instructions="",
                               created_by=attorney)
    db.session.add(passport)
    db.session.commit()
    data = b"".join(pattern(SIZE, head=PDF))
    path = tmp_path / "pasaporte.pdf"
    path.write_bytes(data)
    args = {"endpoint": f"{live}/uploads", "headers": sign_in(live, client), "path": str(path),
            "chunk": CHUNK, "store": str(tmp_path / "tus-urls.json"), "pause": 0.05,
            "metadata": {"filename": "pasaporte.pdf",
                         "form": f"/cases/{case.uuid}/requests/{passport.uuid}/uploads"}}

    first = run_client(args, kill_after=SIZE // 2)
    assert first[0] == "START 0" and not any(line.startswith("DONE") for line in first)
    db.session.expire_all()
    upload = db.session.scalar(select(ResumableUpload))
    assert upload.state is UploadState.RECEIVING and 0 < upload.offset < SIZE
    stopped_at = upload.offset

    second = run_client({**args, "pause": 0})
    # A new process, from the URL tuspy stored: it starts where the server stood.
    assert second[0] == f"START {stopped_at}"
    assert second[-1].startswith("DONE ") and second[-1].endswith(str(upload.uuid))
    db.session.expire_all()
    upload = db.session.get(ResumableUpload, upload.id)
    assert upload.state is UploadState.SAVED
    assert len(upload.pieces) == -(-SIZE // CHUNK)  # no piece twice, none missing
    stored = requests.get(f"{live}/cases/{case.uuid}/versions/{upload.version.uuid}/download",
                          headers={"Cookie": args["headers"]["Cookie"]}, timeout=30)
    assert stored.status_code == 200 and stored.content == data
    assert uuid.UUID(second[-1].rsplit("/", 1)[1]) == upload.uuid
