"""Upload/download benchmark of the evidence vault, side by side with plain boto3.

Run:  make bench
  or  .venv/bin/python bench/upload.py [--sizes 256,1024] [--slow-mb 40]

Everything runs on loopback in a temporary directory: an embedded SeaweedFS
(bucket "portal-bench"), a SQLite database, one client with one case, and
gunicorn (gthread, 1 worker, 8 threads, --timeout 30) serving wsgi:app.

Measured, per file size (MiB):
  upload    POST /cases/<uuid>/documents streamed (1 MiB chunks) until the 303,
            against boto3 upload_fileobj of the same bytes to the same SeaweedFS
            (default TransferConfig).  Targets: portal/direct >= 0.8, growth
            of the worker's peak RSS (VmHWM after - VmRSS before, reset through
            /proc/<pid>/clear_refs) < 64 MiB.
  download  streamed GET .../download against a streamed boto3 get_object.
            Targets: portal/direct >= 0.5, worker peak growth < 64 MiB.
  slow      two concurrent uploads throttled to ~1 MB/s, each lasting longer
            than the 30 s worker timeout, while GET / is timed every 0.25 s.
            Target: median page latency < 100 ms; both uploads must succeed.
MB/s is 10^6 bytes per second.  A missed target is reported as MISS and the
exit status stays 0; a functional failure (upload refused, wrong download
length, slow upload lost) exits 1.
"""
from __future__ import annotations

import argparse
import http.client
import io
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
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.embedded_s3 import EmbeddedS3, free_port  # noqa: E402

MiB = 1 << 20
EMAIL, PASSWORD = "bench-client@example.org", "bench-lantern-harbor-violet-42"
BOUNDARY = "----portal-bench-" + uuid.uuid4().hex
BLOCK = os.urandom(MiB)
FIRST = b"%PDF-1.7\n" + BLOCK[9:]  # the app checks the magic bytes


class Failure(Exception):
    """Something did not work (as opposed to being slow)."""


def content(size: int, chunk: int = MiB):
    """``size`` bytes of the test file, in ``chunk``-sized pieces (chunk divides MiB)."""
    for i in range(0, size, MiB):
        block = (FIRST if i == 0 else BLOCK)[:size - i]
        for j in range(0, len(block), chunk):
            yield block[j:j + chunk]


class ContentReader(io.RawIOBase):
    """The same bytes as a readable, non-seekable file object, for boto3."""

    def __init__(self, size: int):
        self.chunks, self.pending = content(size), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.pending:
            self.pending = next(self.chunks, b"")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


class Browser:
    """A cookie-keeping HTTP/1.1 client of the portal (one connection per request)."""

    def __init__(self, port: int, cookie: str | None = None):
        self.port, self.cookie = port, cookie

    def clone(self) -> "Browser":
        return Browser(self.port, self.cookie)

    def open(self, method: str, path: str, body=None, headers=None, timeout: float = 600):
        """Send a request; returns (connection, response) with the body unread."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            if m := re.match(r"session=([^;]*)", header):
                self.cookie = m.group(1) or None
        return conn, response

    def fetch(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, str]:
        conn, response = self.open(method, path, body, headers)
        try:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def page(self, path: str) -> str:
        status, _, text = self.fetch("GET", path)
        if status != 200:
            raise Failure(f"GET {path} answered {status}")
        return text


def hidden(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    value = tag and re.search(r'value="([^"]*)"', tag.group(0))
    if not value:
        raise Failure(f"no {name} in the page")
    return value.group(1)


def login(browser: Browser) -> None:
    csrf = hidden(browser.page("/login"), "csrf_token")
    body = urlencode({"csrf_token": csrf, "email": EMAIL, "password": PASSWORD})
    status, headers, _ = browser.fetch("POST", "/login", body, {
        "Content-Type": "application/x-www-form-urlencoded"})
    if status != 302 or not browser.cookie:
        raise Failure(f"login failed: {status}")


def upload(browser: Browser, case: str, name: str, size: int, chunk: int = MiB,
           rate: float | None = None) -> float:
    """Upload one file through the form; returns the seconds until the 303.
    ``rate`` (bytes/s) throttles the sender. Raises Failure unless accepted."""
    form = browser.page(f"/cases/{case}/documents")
    head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in (("csrf_token", hidden(form, "csrf_token")),
                                ("submission_id", hidden(form, "submission_id"))))
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"'
             f'\r\nContent-Type: application/pdf\r\n\r\n')
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    start = time.monotonic()

    def body():
        yield head.encode()
        for sent, piece in enumerate(content(size, chunk)):
            if rate:
                time.sleep(max(0.0, start + sent * chunk / rate - time.monotonic()))
            yield piece
        yield tail
    length = len(head.encode()) + size + len(tail)
    try:
        status, headers, _ = browser.fetch("POST", f"/cases/{case}/documents", body(), {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length)})
    except OSError as error:
        raise Failure(f"upload of {name} broke off: {error!r}") from error
    elapsed = time.monotonic() - start
    if status != 303:
        raise Failure(f"upload of {name} answered {status}")
    page = browser.page(headers["Location"])
    if f"{name} was uploaded." not in page:
        flashes = re.findall(r'<p class="flash [a-z]+"[^>]*>(.*?)</p>', page, re.S)
        raise Failure(f"upload of {name} not accepted: {flashes}")
    return elapsed


def download(browser: Browser, path: str) -> tuple[int, float]:
    start = time.monotonic()
    conn, response = browser.open("GET", path)
    try:
        if response.status != 200:
            raise Failure(f"GET {path} answered {response.status}")
        total = 0
        for _ in range(1 << 20):  # bounded: 1 TiB of 1 MiB chunks
            chunk = response.read(MiB)
            if not chunk:
                break
            total += len(chunk)
    finally:
        conn.close()
    return total, time.monotonic() - start


class Worker:
    """Peak-RSS probe of the gunicorn worker through /proc."""

    def __init__(self, pid: int):
        self.pid = pid

    def field(self, name: str) -> float:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1)) / 1024

    def reset(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.before = self.field("VmRSS")

    def growth(self) -> float:
        return self.field("VmHWM") - self.before


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
        attorney = User(role=Role.ATTORNEY, email="bench-attorney@example.org",
                        name="Bench Attorney")
        case = Case(reference="BENCH-0001", case_type="humanitarian_parole", title="Bench",
                    beneficiary_name="Bench Beneficiary", beneficiary_country="VE",
                    stage="gathering_evidence", opened_on=date.today(),
                    assigned_attorney=attorney)
        case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY),
                            CaseMembership(user=client, role=CaseRole.CLIENT)]
        db.session.add(case)
        db.session.commit()
        case_uuid = str(case.uuid)
    return s3, config, case_uuid


def start_gunicorn(tmp: Path, config: dict, port: int) -> tuple[subprocess.Popen, int]:
    """Start gunicorn, wait for /healthz; returns the process and its worker's pid."""
    names = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}
    env = {**os.environ, "PORTAL_ENV": "development", "PORTAL_UPLOAD_MAX_FILE_MB": "2048",
           "PORTAL_CASE_QUOTA_MB": "100000",
           **{f"PORTAL_{names.get(k, k)}": v for k, v in config.items()}}
    log = open(tmp / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-k", "gthread", "--workers", "1", "--threads", "8",
         "--timeout", "30", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if Browser(port).fetch("GET", "/healthz")[0] == 200:
                children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
                if children:
                    return proc, int(children[0])
        except OSError:
            pass
        time.sleep(0.3)
    raise Failure(f"gunicorn did not come up; see {tmp / 'gunicorn.log'}")


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256,1024", help="file sizes in MiB (comma-separated)")
    parser.add_argument("--slow-mb", type=int, default=40, help="MiB per throttled upload")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    summary: list[tuple[str, str, str, bool]] = []  # (figure, value, target, ok)
    failed: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    s3 = gunicorn = None
    try:
        s3, config, case = setup(tmp)
        from portal.storage import make_client
        direct = make_client(config["S3_ENDPOINT_URL"], config["S3_ACCESS_KEY_ID"],
                             config["S3_SECRET_ACCESS_KEY"], config["S3_REGION"])
        port = free_port()
        gunicorn, worker_pid = start_gunicorn(tmp, config, port)
        worker, browser = Worker(worker_pid), Browser(port)
        login(browser)
        print(f"gunicorn master {gunicorn.pid}, worker {worker_pid}; temp dir {tmp}\n")

        print(f"{'upload':<9}{'portal MB/s':>12}{'direct MB/s':>12}{'ratio':>7}{'peak +MiB':>11}")
        for size_mb in sizes:
            size, name = size_mb * MiB, f"bench-{size_mb}MiB.pdf"
            worker.reset()
            portal_s = upload(browser, case, name, size)
            growth = worker.growth()
            start = time.monotonic()
            direct.upload_fileobj(ContentReader(size), config["S3_BUCKET"], f"bench/direct-{size_mb}")
            direct_s = time.monotonic() - start
            ratio = direct_s / portal_s
            print(f"{size_mb:>5} MiB{mbps(size, portal_s):>12.1f}{mbps(size, direct_s):>12.1f}"
                  f"{ratio:>7.2f}{growth:>11.1f}", flush=True)
            summary += [(f"upload {size_mb} MiB portal/direct", f"{ratio:.2f}", ">= 0.8", ratio >= 0.8),
                        (f"upload {size_mb} MiB worker peak growth", f"{growth:.1f} MiB", "< 64 MiB",
                         growth < 64)]

        print(f"\n{'download':<9}{'portal MB/s':>12}{'direct MB/s':>12}{'ratio':>7}{'peak +MiB':>11}")
        listing = browser.page(f"/cases/{case}/documents")
        links = dict(re.findall(r'<li class="card">\s*<a href="[^"]*">([^<]+)</a>.*?'
                                r'href="([^"]*/download)"', listing, re.S))
        for size_mb in sizes:
            size, name = size_mb * MiB, f"bench-{size_mb}MiB.pdf"
            if name not in links:
                raise Failure(f"no download link for {name}")
            worker.reset()
            got, portal_s = download(browser, links[name])
            growth = worker.growth()
            if got != size:
                raise Failure(f"download of {name} gave {got} bytes, expected {size}")
            start = time.monotonic()
            body = direct.get_object(Bucket=config["S3_BUCKET"], Key=f"bench/direct-{size_mb}")["Body"]
            got = sum(len(c) for c in iter(lambda: body.read(MiB), b""))
            direct_s = time.monotonic() - start
            if got != size:
                raise Failure(f"direct download gave {got} bytes, expected {size}")
            ratio = direct_s / portal_s
            print(f"{size_mb:>5} MiB{mbps(size, portal_s):>12.1f}{mbps(size, direct_s):>12.1f}"
                  f"{ratio:>7.2f}{growth:>11.1f}", flush=True)
            summary += [(f"download {size_mb} MiB portal/direct", f"{ratio:.2f}", ">= 0.5", ratio >= 0.5),
                        (f"download {size_mb} MiB worker peak growth", f"{growth:.1f} MiB",
                         "< 64 MiB", growth < 64)]

        print(f"\nslow clients: 2 x {args.slow_mb} MiB at ~1 MB/s while GET / every 0.25 s")
        outcomes: dict[int, str] = {}

        def slow(i: int, client: Browser) -> None:
            try:
                seconds = upload(client, case, f"bench-slow-{i}.pdf", args.slow_mb * MiB,
                                 chunk=64 * 1024, rate=1e6)
                outcomes[i] = f"ok, {seconds:.1f} s"
            except Exception as error:  # reported below, never lost with the thread
                outcomes[i] = f"FAILED: {error}"
        threads = [threading.Thread(target=slow, args=(i, browser.clone()), daemon=True)
                   for i in (1, 2)]
        for t in threads:
            t.start()
        latencies, errors = [], 0
        deadline = time.monotonic() + args.slow_mb * MiB / 1e6 * 3 + 120
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            start = time.monotonic()
            try:
                status = browser.clone().fetch("GET", "/")[0]
            except OSError:
                status = 0
            latencies.append(time.monotonic() - start)
            errors += status != 200
            time.sleep(0.25)
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        median = statistics.median(latencies) * 1000 if latencies else float("nan")
        p95 = (statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) >= 2
               else float("nan"))
        print(f"  page requests {len(latencies)} ({errors} not 200), median {median:.0f} ms, "
              f"p95 {p95:.0f} ms")
        for i in (1, 2):
            outcome = outcomes.get(i, "FAILED: did not finish in time")
            print(f"  slow upload {i}: {outcome}")
            if outcome.startswith("FAILED"):
                failed.append(f"slow upload {i}: {outcome}")
            done = not outcome.startswith("FAILED")
            summary.append((f"slow upload {i} completed", outcome if done else "no", "ok", done))
        summary += [("dashboard median latency (slow clients)", f"{median:.0f} ms", "< 100 ms",
                     median < 100),
                     ("dashboard p95 latency (slow clients)", f"{p95:.0f} ms", "(info)", True),
                     ("dashboard requests not 200", str(errors), "0", errors == 0)]
    except Failure as error:
        failed.append(str(error))
        log = tmp / "gunicorn.log"
        if log.exists():
            print("gunicorn.log (tail):\n" + log.read_text(errors="replace")[-3000:])
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(40)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        if s3 is not None:
            s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'figure':<44}{'value':>18}  {'target':<10}result")
    for figure, value, target, ok in summary:
        print(f"{figure:<44}{value:>18}  {target:<10}{'OK' if ok else 'MISS'}")
    for message in failed:
        print(f"FAILED: {message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
