"""Upload/download benchmark of the evidence vault, side by side with plain boto3.

Run:  make bench
  or  .venv/bin/python bench/upload.py [--sizes 256,1024] [--slow-mb 40]

Everything runs on loopback in a temporary directory, removed at the end:
SeaweedFS (bucket "portal-bench"), SQLite, one client in one case, gunicorn
(gthread, 1 worker, 8 threads, --timeout 30) serving wsgi:app, and a job
consumer (huey_consumer portal.worker.huey -w 2 -k thread, default polling)
sharing its environment, hence its SQLite job queue file. The test file is
"%PDF-1.7\\n" followed by a random 1 MiB block repeated.

Portal and direct take turns three times per size and their medians are
compared: one run each swings by +-20% on this machine, and the first read
of an object after the uploads is the slowest, whichever side does it.

upload    POST /cases/<uuid>/documents (body streamed in 1 MiB chunks) until the
          303, against boto3 upload_fileobj of the same bytes to the same
          SeaweedFS (default TransferConfig, i.e. 10 parts in flight; the
          "serial" column, for information, is one run with max_concurrency=1).
          Targets: portal/direct >= 0.8; growth of the worker's peak RSS
          (VmHWM after minus VmRSS before, reset via /proc/PID/clear_refs) < 64 MiB.
download  streamed GET .../download against a streamed boto3 get_object.
          Targets: portal/direct >= 0.5; worker peak growth < 64 MiB.
resumable tus 1.0 upload as the uploader page sends it (TUS_CHUNK_BYTES: by default
          the whole file in one PATCH, streamed), from
          the POST /uploads until GET /uploads/<uuid> (polled every 50 ms) says
          "saved", so the queue wait and the assembly job are included, against
          the form upload of the same size taken in the same turns. Also shown:
          how much came after the last PATCH ("saving s") and the job's own
          time from the consumer's log ("job s"; nan when no job ran: a file
          sent in one PATCH is recorded by that PATCH); the rest of "saving s" is the
          queue wait (the SQLite queue is polled, huey backing off to 10 s when
          idle; a Redis queue, as in production, blocks instead). Each stored
          file is then downloaded and must have the right length.
          The same turns also time a direct boto3 upload of the same size.
          Targets: tus/direct MB/s >= 0.7 (tus/form shown for information);
          peak growth < 64 MiB for the worker over the whole tus
          upload ("peak +MiB") and for the consumer ("job +MiB").
concurrent N form uploads of M MiB at once (N threads, each its own connection)
          against N boto3 upload_fileobj of the same size at once (default
          TransferConfig each), wall time of the whole batch, in turns.
          Target: portal/direct >= 0.8 (defaults: 8 x 64 MiB).
slow      two concurrent uploads throttled to ~1 MB/s, each outlasting the 30 s
          worker timeout, while GET / is timed every 0.25 s.
          Target: median page latency < 100 ms; both uploads must be stored.

MB/s is 10^6 bytes/s. A missed target shows as MISS and the exit status stays
0; a functional failure (upload refused, wrong download length) makes it 1.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Config  # noqa: E402
from portal.dev.embedded_s3 import EmbeddedS3, free_port  # noqa: E402

MiB = 1 << 20
EMAIL, PASSWORD = "bench-client@example.org", "bench-lantern-harbor-violet-42"
ROUNDS = 3  # portal and direct take turns; their medians are compared
BOUNDARY = "----portal-bench-" + uuid.uuid4().hex
BLOCK = os.urandom(MiB)
TUS_CHUNK = Config.TUS_CHUNK_BYTES  # the pieces the uploader page sends (0: the whole file)
POLL = 0.05  # seconds between GET /uploads/<uuid> while the file is saved
FIRST = b"%PDF-1.7\n" + BLOCK[9:]  # the app checks the magic bytes


class Failure(Exception):
    """Something did not work (as opposed to being slow)."""


class Content:
    """The test file as a non-seekable file object whose ``read(n)`` returns
    exactly ``n`` bytes until the end, as s3transfer expects (after a short
    read it would treat the file as small and read it whole into memory)."""

    def __init__(self, size: int):
        self.size, self.position = size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self.position + n)
        pieces = []
        while self.position < end:  # one step per MiB
            offset = self.position % MiB
            take = min(MiB - offset, end - self.position)
            pieces.append((FIRST if self.position < MiB else BLOCK)[offset:offset + take])
            self.position += take
        return b"".join(pieces)


def _take(reader: Content, left: list[int]) -> bytes:
    """The next MiB (or less) of the ``left[0]`` bytes still to send of a piece."""
    data = reader.read(min(MiB, left[0]))
    left[0] -= len(data)
    return data


def content(size: int, chunk: int = MiB):
    """The test file as ``chunk``-sized pieces."""
    return iter(lambda reader=Content(size): reader.read(chunk), b"")


class Browser:
    """Talks HTTP/1.1 to the portal (a connection per request), keeping the
    session cookie from every Set-Cookie."""

    def __init__(self, port: int, cookie: str | None = None):
        self.port, self.cookie = port, cookie

    def open(self, method: str, path: str, body=None, headers=None):
        """Send a request; returns (connection, response), the body unread."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError) as error:
            try:  # the server may have answered before reading the whole body
                response = conn.getresponse()
            except OSError:
                raise Failure(f"{method} {path} broke off: {error!r}") from error
            print(f"  ({method} {path}: answered {response.status} before the body was sent)")
        else:
            response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            if m := re.match(r"session=([^;]*)", header):
                self.cookie = m.group(1) or None
        return conn, response

    def fetch(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, str]:
        conn, response = self.open(method, path, body, headers)
        with contextlib.closing(conn):
            return response.status, response.headers, response.read().decode("utf-8", "replace")

    def page(self, path: str) -> str:
        status, _, text = self.fetch("GET", path)
        if status != 200:
            raise Failure(f"GET {path} answered {status}")
        return text


def hidden(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if not (value := tag and re.search(r'value="([^"]*)"', tag.group(0))):
        raise Failure(f"no {name} in the page")
    return value.group(1)


def login(browser: Browser) -> None:
    body = urlencode({"csrf_token": hidden(browser.page("/login"), "csrf_token"),
                      "email": EMAIL, "password": PASSWORD})
    status = browser.fetch("POST", "/login", body,
                           {"Content-Type": "application/x-www-form-urlencoded"})[0]
    if status != 302 or not browser.cookie:
        raise Failure(f"login failed: {status}")


def upload(browser: Browser, case: str, name: str, size: int, chunk: int = MiB,
           rate: float | None = None) -> float:
    """Upload one file through the form, at ``rate`` bytes/s if given; returns
    the seconds until the 303. Raises Failure unless the next page says stored."""
    form = browser.page(f"/cases/{case}/documents")
    fields = {key: hidden(form, key) for key in ("csrf_token", "submission_id")}  # first!
    head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items())
    head = (head + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: application/pdf\r\n\r\n').encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    start = time.monotonic()

    def body():
        yield head
        for sent, piece in enumerate(content(size, chunk)):
            if rate:
                time.sleep(max(0.0, start + sent * chunk / rate - time.monotonic()))
            yield piece
        yield tail
    status, headers, _ = browser.fetch("POST", f"/cases/{case}/documents", body(), {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(head) + size + len(tail))})
    elapsed = time.monotonic() - start
    if status != 303:
        raise Failure(f"upload of {name} answered {status}")
    page = browser.page(headers["Location"])
    if f"{name} was uploaded." not in page:
        flashes = re.findall(r'<p class="flash [a-z]+"[^>]*>(.*?)</p>', page, re.S)
        raise Failure(f"upload of {name} not stored: {flashes}")
    return elapsed


def tus_upload(browser: Browser, case: str, name: str, size: int,
               chunk: int = TUS_CHUNK) -> tuple[float, float]:
    """Upload one file over tus in ``chunk``-byte PATCHes standing in for the
    documents form, then poll its status; returns (seconds from the POST until
    it says "saved", of which after the last PATCH). Raises Failure."""
    tus = {"Tus-Resumable": "1.0.0",
           "X-CSRFToken": hidden(browser.page(f"/cases/{case}/documents"), "csrf_token")}
    meta = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value
                    in (("filename", name), ("form", f"/cases/{case}/documents")))
    start = time.monotonic()
    status, headers, text = browser.fetch("POST", "/uploads", b"", {
        **tus, "Upload-Length": str(size), "Upload-Metadata": meta})
    if status != 201:
        raise Failure(f"POST /uploads for {name} answered {status}: {text[:200]}")
    location, offset, reader = urlsplit(headers["Location"]).path, 0, Content(size)
    while offset < size:
        length = min(chunk or size, size - offset)  # 0: the whole file in one PATCH
        piece = iter(lambda left=[length]: _take(reader, left), b"")  # streamed, a MiB a step
        status, headers, text = browser.fetch("PATCH", location, piece, {
            **tus, "Upload-Offset": str(offset), "Content-Length": str(length),
            "Content-Type": "application/offset+octet-stream"})
        offset += length
        if status != 204 or headers.get("Upload-Offset") != str(offset):
            raise Failure(f"PATCH {location} of {name} up to {offset} answered {status} "
                          f"(Upload-Offset {headers.get('Upload-Offset')}): {text[:200]}")
    sent = time.monotonic()
    deadline = sent + 120 + size / 1e6
    while True:
        status, _, text = browser.fetch("GET", location)
        answer = json.loads(text) if status == 200 else {}
        if answer.get("state") == "saved":
            break
        if answer.get("state") != "saving" or time.monotonic() > deadline:
            raise Failure(f"{name} not saved: GET {location} answered {status} {text[:200]}")
        time.sleep(POLL)
    end = time.monotonic()
    return end - start, end - sent


def download_links(browser: Browser, case: str) -> dict[str, str]:
    """The case's documents: file name -> download path (the last one listed
    when names repeat)."""
    listing = browser.page(f"/cases/{case}/documents")
    return dict(re.findall(r'<li class="card">\s*<a href="[^"]*">([^<]+)</a>.*?'
                           r'href="([^"]*/download)"', listing, re.S))


def download(browser: Browser, path: str) -> tuple[int, float]:
    """Stream ``path`` in 1 MiB reads; returns (bytes, seconds)."""
    start, total = time.monotonic(), 0
    conn, response = browser.open("GET", path)
    with contextlib.closing(conn):
        if response.status != 200:
            raise Failure(f"GET {path} answered {response.status}")
        for chunk in iter(lambda: response.read(MiB), b""):
            total += len(chunk)
    return total, time.monotonic() - start


class PeakRSS:
    """Growth of a process's peak RSS over a block: VmHWM after - VmRSS before."""

    def __init__(self, pid: int):
        self.pid = pid

    def _kb(self, name: str) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1))

    def __enter__(self):
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.before, self.growth = self._kb("VmRSS"), None
        return self

    def __exit__(self, *exc):
        self.growth = (self._kb("VmHWM") - self.before) / 1024


def setup(tmp: Path) -> tuple[EmbeddedS3, dict, str]:
    """Start SeaweedFS, migrate the database, create the client and the case."""
    from flask_migrate import upgrade
    from portal import create_app
    from portal.auth.passwords import hash_password
    from portal.crypto import generate_master_key
    from portal.extensions import db
    from portal.models import Case, CaseMembership, Role, User
    from portal.models.case import CaseRole

    s3 = EmbeddedS3(tmp / "s3", bucket="portal-bench")
    s3.start()
    config = {**s3.app_config(), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/portal.db",
              "SECRET_KEY": os.urandom(32).hex(), "MASTER_KEY": generate_master_key()}
    app = create_app("development", config)
    with app.app_context():
        upgrade()
        client = User(role=Role.CLIENT, email=EMAIL, name="Bench Client",
                      password_hash=hash_password(PASSWORD))
        attorney = User(role=Role.ATTORNEY, email="bench-attorney@example.org", name="Attorney")
        case = Case(reference="BENCH-0001", case_type="humanitarian_parole", title="Bench",
                    beneficiary_name="Beneficiary", beneficiary_country="VE",
                    stage="gathering_evidence", opened_on=date.today(), assigned_attorney=attorney)
        case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY),
                            CaseMembership(user=client, role=CaseRole.CLIENT)]
        db.session.add(case)
        db.session.commit()
        return s3, config, str(case.uuid)


def portal_env(tmp: Path, config: dict) -> dict[str, str]:
    """The environment of gunicorn and the job consumer: the same settings,
    so the same database, bucket, keys and job queue (a SQLite file in ``tmp``)."""
    names = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}
    return {**os.environ, "PORTAL_ENV": "development", "PORTAL_UPLOAD_MAX_FILE_MB": "2048",
            "PORTAL_CASE_QUOTA_MB": "100000", "PORTAL_JOBS_IMMEDIATE": "0",
            "PORTAL_JOBS_SQLITE_PATH": str(tmp / "jobs.sqlite"),
            # The vault's own speed: no clamd here (a file waiting for its scan
            # could not be downloaded), and no preview work in the consumer
            # competing with the measured transfers.
            "PORTAL_SCANNING": "off", "PORTAL_PREVIEWS": "off",
            **{f"PORTAL_{names.get(k, k)}": v for k, v in config.items()}}


def start_gunicorn(tmp: Path, env: dict, port: int) -> tuple[subprocess.Popen, int]:
    """Start gunicorn, wait for /healthz; returns the process and its worker's pid."""
    # --no-control-socket: gunicorn >= 25.1 otherwise opens ~/.gunicorn/gunicorn.ctl
    with open(tmp / "gunicorn.log", "ab") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-k", "gthread", "--workers", "1", "--threads", "8",
             "--timeout", "30", "--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError, Failure):
                if Browser(port).fetch("GET", "/healthz")[0] == 200:
                    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text()
                    if children.split():
                        return proc, int(children.split()[0])
            time.sleep(0.3)
        raise Failure("gunicorn did not come up")
    except BaseException:  # the caller only stops what this function returned
        proc.kill()
        proc.wait()
        raise


def start_consumer(tmp: Path, env: dict) -> subprocess.Popen:
    """Start the job consumer as the README says (2 threads here), wait
    until it says it started; returns its process."""
    log_path = tmp / "consumer.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/huey_consumer"), "portal.worker.huey", "-w", "2", "-k",
             "thread"], cwd=tmp, env={**env, "PYTHONPATH": str(ROOT)}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if "consumer started" in log_path.read_text(errors="replace"):
                return proc
            time.sleep(0.3)
        raise Failure("the job consumer did not come up")
    except BaseException:  # the caller only stops what this function returned
        proc.kill()
        proc.wait()
        raise


def job_seconds(log: Path, since: int) -> float:
    """The assembly job's own time, from the first "executed in" the
    consumer logged past byte ``since`` (nan if none within 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        with open(log, "rb") as file:
            file.seek(since)
            text = file.read().decode(errors="replace")
        if m := re.search(r"\.assemble: [^\n]*? executed in ([\d.]+)s", text):
            return float(m.group(1))
        if time.monotonic() > deadline:
            return float("nan")
        time.sleep(0.1)


def stop(proc: subprocess.Popen | None, sig: int, timeout: float) -> None:
    """Send ``sig`` (the graceful stop), kill after ``timeout`` seconds."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def header(kind: str, columns: tuple[str, ...]) -> None:
    print(f"\n{kind:<10}" + "".join(f"{c + ' MB/s':>13}" for c in columns)
          + f"{'ratio':>7}{'peak +MiB':>10}")


def report(rows: list, kind: str, mb: int, seconds: tuple[float, ...], growth: float,
           target: float) -> None:
    """Print a line of the table (portal first, then direct...); judge the
    portal/direct ratio against ``target`` and the worker's peak growth."""
    ratio = seconds[1] / seconds[0]
    print(f"{mb:>6} MiB" + "".join(f"{mb * MiB / s / 1e6:>13.1f}" for s in seconds)
          + f"{ratio:>7.2f}{growth:>10.1f}", flush=True)
    rows += [(f"{kind} {mb} MiB portal/direct", f"{ratio:.3f}", f">= {target}", ratio >= target),
             (f"{kind} {mb} MiB worker peak growth", f"{growth:.1f} MiB", "< 64 MiB", growth < 64)]


def resumable(browser: Browser, case: str, sizes: list[int], worker: int, consumer: int,
              log: Path, rows: list, direct_upload) -> None:
    """Tus uploads against direct boto3 uploads (``direct_upload(mb, turn)``,
    its seconds) and form uploads of each size, in turns; then each
    tus-stored file downloaded and its length checked."""
    print(f"\n{'resumable':<10}{'tus s':>8}{'direct s':>9}{'form s':>8}{'tus MB/s':>10}"
          f"{'/direct':>8}{'/form':>7}{'peak +MiB':>10}{'job +MiB':>9}{'saving s':>9}"
          f"{'job s':>7}")
    for mb in sizes:
        tus_s, form_s, saving_s, job_s, growth, job_growth = [], [], [], [], 0.0, 0.0
        direct_s = []
        for turn in range(ROUNDS):
            since = log.stat().st_size
            with PeakRSS(worker) as peak, PeakRSS(consumer) as job_peak:
                seconds, saving = tus_upload(browser, case, f"bench-tus-{mb}MiB-{turn}.pdf",
                                             mb * MiB)
            tus_s.append(seconds)
            saving_s.append(saving)
            job_s.append(job_seconds(log, since))
            growth, job_growth = max(growth, peak.growth), max(job_growth, job_peak.growth)
            form_s.append(upload(browser, case, f"bench-form-{mb}MiB.pdf", mb * MiB))
            direct_s.append(direct_upload(mb, turn))
        links = download_links(browser, case)
        for turn in range(ROUNDS):
            if (name := f"bench-tus-{mb}MiB-{turn}.pdf") not in links:
                raise Failure(f"no download link for {name}")
            if (got := download(browser, links[name])[0]) != mb * MiB:
                raise Failure(f"{name} downloads as {got} bytes instead of {mb * MiB}")
        tus, form = statistics.median(tus_s), statistics.median(form_s)
        direct = statistics.median(direct_s)
        ratio, of_form = direct / tus, form / tus  # MB/s tus / MB/s direct (form)
        print(f"{mb:>6} MiB{tus:>8.2f}{direct:>9.2f}{form:>8.2f}{mb * MiB / tus / 1e6:>10.1f}"
              f"{ratio:>8.2f}{of_form:>7.2f}{growth:>10.1f}{job_growth:>9.1f}"
              f"{statistics.median(saving_s):>9.2f}{statistics.median(job_s):>7.2f}", flush=True)
        rows += [(f"resumable {mb} MiB tus/direct", f"{ratio:.3f}", ">= 0.7", ratio >= 0.7),
                 (f"resumable {mb} MiB tus/form", f"{of_form:.3f}", "(info)", True),
                 (f"resumable {mb} MiB worker peak growth", f"{growth:.1f} MiB", "< 64 MiB",
                  growth < 64),
                 (f"resumable {mb} MiB consumer peak growth", f"{job_growth:.1f} MiB",
                  "< 64 MiB", job_growth < 64)]


def at_once(count: int, action) -> float:
    """Seconds until ``action(i)`` has returned for every i < ``count``, all
    started together in threads; an exception in any is raised here."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            action(i)
        except BaseException as error:  # reported below rather than lost with the thread
            errors.append(error)
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    if errors:
        raise Failure(f"{len(errors)} of {count} concurrent transfers failed: {errors[0]!r}")
    return seconds


def concurrent(port: int, cookie: str, case: str, count: int, mb: int, make_direct,
               bucket: str, rows: list) -> None:
    """``count`` form uploads at once against ``count`` boto3 uploads at once
    (a client each, as ``count`` separate programs would have: one shared
    client's pool of 10 connections would slow the direct side)."""
    portal_s, direct_s = [], []
    clients = [make_direct() for _ in range(count)]
    for turn in range(ROUNDS):
        portal_s.append(at_once(count, lambda i: upload(
            Browser(port, cookie), case, f"bench-concurrent-{turn}-{i}.pdf", mb * MiB)))
        direct_s.append(at_once(count, lambda i: clients[i].upload_fileobj(
            Content(mb * MiB), bucket, f"bench/concurrent-{turn}-{i}")))
    portal, direct_median = statistics.median(portal_s), statistics.median(direct_s)
    ratio, total = direct_median / portal, count * mb * MiB / 1e6
    print(f"{count} x {mb} MiB{portal:>10.2f}{direct_median:>10.2f}{total / portal:>13.1f}"
          f"{total / direct_median:>13.1f}{ratio:>7.2f}", flush=True)
    rows.append((f"{count} concurrent {mb} MiB uploads portal/direct", f"{ratio:.3f}", ">= 0.8",
                 ratio >= 0.8))


def slow_clients(port: int, cookie: str, case: str, slow_mb: int, rows: list, failed: list):
    """Two throttled uploads in threads; GET / timed meanwhile in this one."""
    outcomes: dict[int, str] = {}

    def send(i: int) -> None:
        try:
            seconds = upload(Browser(port, cookie), case, f"bench-slow-{i}.pdf", slow_mb * MiB,
                             chunk=64 * 1024, rate=1e6)
            outcomes[i] = f"ok, {seconds:.1f} s"
        except Exception as error:  # reported below rather than lost with the thread
            outcomes[i] = f"FAILED: {error!r}"
    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in (1, 2)]
    for thread in threads:
        thread.start()
    latencies, errors = [], 0
    deadline = time.monotonic() + slow_mb * MiB / 1e6 * 3 + 120
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        start = time.monotonic()
        try:
            errors += Browser(port, cookie).fetch("GET", "/")[0] != 200
        except (OSError, Failure):
            errors += 1
        latencies.append(time.monotonic() - start)
        time.sleep(0.25)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    median = statistics.median(latencies) * 1000 if latencies else float("nan")
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else float("nan")
    print(f"  {len(latencies)} page requests ({errors} not 200): median {median:.0f} ms, "
          f"p95 {p95:.0f} ms")
    for i in (1, 2):
        outcome = outcomes.get(i, "FAILED: still running at the deadline")
        print(f"  slow upload {i}: {outcome}")
        ok = not outcome.startswith("FAILED")
        failed += [] if ok else [f"slow upload {i}: {outcome}"]
        rows.append((f"slow upload {i} stored", outcome if ok else "no", "yes", ok))
    rows += [("page latency median (slow uploads)", f"{median:.0f} ms", "< 100 ms", median < 100),
             ("page latency p95 (slow uploads)", f"{p95:.0f} ms", "(info)", True),
             ("page requests not 200", str(errors), "0", errors == 0)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256,1024", help="file sizes in MiB, comma-separated")
    parser.add_argument("--slow-mb", type=int, default=40, help="MiB per throttled upload")
    parser.add_argument("--concurrent", type=int, default=8, help="uploads at once")
    parser.add_argument("--concurrent-mb", type=int, default=64, help="MiB per concurrent upload")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[tuple[str, str, str, bool]] = []  # figure, value, target, met
    failed: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    s3 = gunicorn = consumer = None
    try:
        from boto3.s3.transfer import TransferConfig
        from portal.storage import make_client
        s3, config, case = setup(tmp)
        bucket = config["S3_BUCKET"]
        direct = make_client(config["S3_ENDPOINT_URL"], config["S3_ACCESS_KEY_ID"],
                             config["S3_SECRET_ACCESS_KEY"], config["S3_REGION"])
        port = free_port()
        env = portal_env(tmp, config)
        gunicorn, worker = start_gunicorn(tmp, env, port)
        consumer = start_consumer(tmp, env)
        browser = Browser(port)
        login(browser)
        print(f"gunicorn worker pid {worker}, job consumer pid {consumer.pid}, "
              f"SeaweedFS pid {s3.process.pid}, temp dir {tmp}")

        header("upload", ("portal", "direct", "serial"))
        for mb in sizes:
            portal_s, direct_s, growth = [], [], 0.0
            for _ in range(ROUNDS):
                with PeakRSS(worker) as peak:
                    portal_s.append(upload(browser, case, f"bench-{mb}MiB.pdf", mb * MiB))
                growth = max(growth, peak.growth)
                direct_s.append(timed(lambda: direct.upload_fileobj(
                    Content(mb * MiB), bucket, f"bench/direct-{mb}")))
            serial_s = timed(lambda: direct.upload_fileobj(
                Content(mb * MiB), bucket, f"bench/serial-{mb}",
                Config=TransferConfig(max_concurrency=1)))
            report(rows, "upload", mb, (statistics.median(portal_s), statistics.median(direct_s),
                                        serial_s), growth, 0.8)

        header("download", ("portal", "direct"))
        links = download_links(browser, case)
        for mb in sizes:
            if f"bench-{mb}MiB.pdf" not in links:
                raise Failure(f"no download link for bench-{mb}MiB.pdf")
            portal_s, direct_s, growth = [], [], 0.0
            for _ in range(ROUNDS):
                with PeakRSS(worker) as peak:
                    got, seconds = download(browser, links[f"bench-{mb}MiB.pdf"])
                portal_s.append(seconds)
                growth = max(growth, peak.growth)
                start = time.monotonic()
                body = direct.get_object(Bucket=bucket, Key=f"bench/direct-{mb}")["Body"]
                got_direct = sum(len(chunk) for chunk in iter(lambda: body.read(MiB), b""))
                direct_s.append(time.monotonic() - start)
                if got != mb * MiB or got_direct != mb * MiB:
                    raise Failure(f"{mb} MiB download gave {got} bytes (direct {got_direct})")
            report(rows, "download", mb, (statistics.median(portal_s), statistics.median(direct_s)),
                   growth, 0.5)

        resumable(browser, case, sizes, worker, consumer.pid, tmp / "consumer.log", rows,
                  lambda mb, turn: timed(lambda: direct.upload_fileobj(
                      Content(mb * MiB), bucket, f"bench/tus-direct-{mb}-{turn}")))

        print(f"\n{'concurrent':<14}{'portal s':>10}{'direct s':>10}{'portal MB/s':>13}"
              f"{'direct MB/s':>13}{'ratio':>7}")
        concurrent(port, browser.cookie, case, args.concurrent, args.concurrent_mb,
                   lambda: make_client(config["S3_ENDPOINT_URL"], config["S3_ACCESS_KEY_ID"],
                                       config["S3_SECRET_ACCESS_KEY"], config["S3_REGION"]),
                   bucket, rows)

        print(f"\nslow clients: 2 x {args.slow_mb} MiB at ~1 MB/s, GET / every 0.25 s meanwhile")
        slow_clients(port, browser.cookie, case, args.slow_mb, rows, failed)
    except Failure as error:
        failed.append(str(error))
        for name in ("gunicorn.log", "consumer.log"):
            if (log := tmp / name).exists():
                print(f"{name} (end):\n" + log.read_text(errors="replace")[-3000:])
    finally:
        stop(consumer, signal.SIGINT, 40)  # huey's graceful stop: finish the job at hand
        stop(gunicorn, signal.SIGTERM, 40)
        if s3 is not None:
            s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'figure':<40}{'value':>14}  {'target':<10}result")
    for figure, value, target, met in rows:
        print(f"{figure:<40}{value:>14}  {target:<10}{'OK' if met else 'MISS'}")
    for message in failed:
        print(f"FAILED: {message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
