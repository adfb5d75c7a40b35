"""Page benchmark: the portal's pages under concurrent users, against a firm
seeded by ``flask seed-scale``, each page's throughput compared with a
trivial signed-in page's.

Run:  make bench-pages   (installs bench/requirements.txt, i.e. locust, first)
  or  .venv/bin/python bench/pages.py [--users 10,50] [--seconds 5] [--scale 0.1] [--seed 1]
                                     [--think 1.0]

Everything runs on loopback in a temporary directory, removed at the end:
SeaweedFS (``portal.dev.embedded_s3``), a fresh SQLite database (or, when
PORTAL_BENCH_DATABASE_URL names a PostgreSQL server, a database of its own
there, dropped at the end), migrated and seeded by ``flask seed-scale
--scale SCALE`` (at 0.1: 1,000 cases, 20,000 document versions, 50,000
messages, 100,000 audit rows; the heavy case keeps its 2,000-message thread),
then gunicorn with the production worker settings of gunicorn.conf.py (gthread,
2 workers, 8 threads, its access log) serving wsgi:app. The app runs with the
development settings (production's need TLS, Redis, mail and a scanner), with
two changes said in the output: the firm signs in without a second factor
(SECOND_FACTOR_REQUIRED_FOR_FIRM off, as in development: a one-time TOTP code
per 30 s step cannot serve 50 sign-ins of one account), and the calendar
feed's per-address limit is raised (every simulated user shares 127.0.0.1).
Scanning and previews are off; no page measured touches S3.

Load: locust (as a library, FastHttpUser, in a subprocess of its own: gevent
monkey-patches whatever imports it). For each user count, that many users each
sign in three times (the heavy case's attorney, an admin, its client; separate
sessions), then all of them request one page back to back (no wait) for
SECONDS, then the next page, and so on; the sign-ins are not counted. Per page:
requests/s, p50 and p99 in ms (locust's, rounded as it rounds), errors (any
status but the expected one, redirects included: a lost session would show as
one), and its throughput as a share of the baseline's at the same user count:

  account         /account as the attorney: lists no case (the baseline)
  dashboard       /  as the attorney with the most cases
  case            the heavy case's page (a sponsor thread each of its sponsors:
                  23 at scale 0.1, 50 at 1; 40 versions; 12 requests)
  documents       its documents
  review queue    /requests (To review: submitted files, overdue requests)
  agenda          /agenda
  calendar feed   /calendar/<token>.ics without a session (token made via the agenda)
  thread          the heavy case's 2,000-message client thread (marks it read: a write)
  thread poll     its poll for messages after the newest
  admin users     /admin/users, as the admin
  admin outbox    /admin/outbox
  audit browser   /admin/audit (the trail's newest page)
  client case     the heavy case as its client
  client request  the client's page to answer an open request
  client thread   the thread as the client
  other case 404  the client asking for another case: 404 expected (audited, a write)

Then the lowest user count once more, each user pausing between pages
(uniformly THINK/2 to 3*THINK/2 s, as a person reads a page before the next):
back to back, ten users keep two cores busy and p99 is mostly queueing.

A PASS/MISS line per target: at the lowest user count, every page at least
0.1 of the baseline's throughput (back to back) and p99 under 300 ms (with
the pauses; back to back when --think 0); at the highest, no errors.
Nothing is asserted; the exit status is 1 only when something did not work
(seeding, start-up, sign-in).

Caveat: load generator, gunicorn and database share this machine's cores (2
here), so the figures are the whole machine's, not the portal's alone; ratios
to the baseline, taken in the same run, travel better than requests/s.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE = "account"
MIN_RATIO, MAX_P99_MS = 0.1, 300
SETTLE = 0.5  # seconds between switching pages and counting: requests in flight land


class Failure(Exception):
    """Something did not work (as opposed to being slow)."""


# --- the load generator (a subprocess: locust and gevent live only there) ------------

def sign_in(session, email: str, password: str) -> None:
    """Sign ``session`` (a locust FastHttpSession) in through the form."""
    page = session.get("/login", name="sign-in")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text or "")
    body = urlencode({"csrf_token": token.group(1) if token else "", "email": email,
                      "password": password})
    response = session.post("/login", name="sign-in", data=body, allow_redirects=False,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    if response.status_code != 302:
        raise Failure(f"sign-in as {email} answered {response.status_code}"
                      + (f" ({response.error!r})" if getattr(response, "error", None) else ""))


def load(spec: dict) -> dict:
    """Run ``spec["users"]`` users through ``spec["pages"]`` in turns of
    ``spec["seconds"]``; returns the figures of each page."""
    import gevent
    from locust import FastHttpUser, between, constant, task
    from locust.contrib.fasthttp import FastHttpSession
    from locust.env import Environment

    state = {"page": None, "ready": 0, "failed": []}
    pages = {page["name"]: page for page in spec["pages"]}

    class Person(FastHttpUser):
        host = spec["host"]
        # Back to back (capacity), or with a person's pause between pages (latency).
        think = spec.get("think", 0)
        wait_time = between(think / 2, think * 3 / 2) if think else constant(0)

        def session(self) -> FastHttpSession:
            """A cookie jar of its own, set up as FastHttpUser sets up ``client``
            (60 s timeouts, no retries: a timed-out request is an error, not a retry)."""
            return FastHttpSession(self.host, self.environment.events.request, self,
                                   network_timeout=self.network_timeout,
                                   connection_timeout=self.connection_timeout,
                                   max_retries=self.max_retries, max_redirects=self.max_redirects)

        def on_start(self):
            self.sessions = {"anonymous": self.session()}
            try:
                for persona, email in spec["people"].items():
                    session = self.session()
                    sign_in(session, email, spec["password"])
                    self.sessions[persona] = session
            except Exception as error:
                state["failed"].append(str(error))
                raise
            state["ready"] += 1

        @task
        def visit(self):
            name = state["page"]
            if name is None:
                gevent.sleep(0.05)
                return
            page = pages[name]
            with self.sessions[page["persona"]].get(
                    page["path"], name=name, allow_redirects=False,
                    catch_response=True) as response:
                if response.status_code == page["expect"]:
                    response.success()
                else:
                    response.failure(f"status {response.status_code}")

    env = Environment(user_classes=[Person])
    runner = env.create_local_runner()
    # Ten a second: fifty people signing in at the same instant is not the load measured.
    runner.start(spec["users"], spawn_rate=min(spec["users"], 10))
    deadline = time.monotonic() + 300
    while state["ready"] < spec["users"] and not state["failed"]:
        if time.monotonic() > deadline:
            state["failed"].append(f"only {state['ready']} of {spec['users']} users signed in")
            break
        gevent.sleep(0.1)
    results = {}
    if not state["failed"]:
        for name in pages:
            state["page"] = name
            gevent.sleep(SETTLE)
            env.stats.reset_all()
            started = time.monotonic()
            gevent.sleep(spec["seconds"])
            elapsed = time.monotonic() - started
            entry = env.stats.get(name, "GET")
            errors = sorted({f"{e.error} x{e.occurrences}" for e in env.stats.errors.values()
                             if e.name == name})
            done = entry.num_requests
            results[name] = {"requests": done, "errors": entry.num_failures,
                             "rps": done / elapsed,
                             # None: no request finished within the turn.
                             "p50": entry.get_response_time_percentile(0.5) if done else None,
                             "p99": entry.get_response_time_percentile(0.99) if done else None,
                             "error_kinds": errors[:3]}
        state["page"] = None
    runner.quit()
    return {"results": results, "failed": state["failed"]}


# --- setting up: servers, database, seed ---------------------------------------------

def database(tmp: Path):
    """(label, URL, drop): on the PostgreSQL server of PORTAL_BENCH_DATABASE_URL
    when set (a database of its own; ``drop`` removes it), else a SQLite file
    in ``tmp`` (``bench/dashboard.py`` makes them; its last one is wanted)."""
    from dashboard import databases  # bench/, this script's folder, is on the path
    return list(databases(tmp, "pages"))[-1]


def portal_env(tmp: Path, url: str, s3_config: dict) -> dict[str, str]:
    """The environment of the flask commands and gunicorn: one database,
    bucket, master key and job queue file."""
    from portal.crypto import generate_master_key
    from portal.signing.seal import make_self_signed

    cert, key = tmp / "seal-cert.pem", tmp / "seal-key.pem"
    make_self_signed(cert, key, common_name="Bench firm (self-signed)")
    names = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}
    return {**os.environ, "PORTAL_ENV": "development", "PORTAL_DATABASE_URL": url,
            "PORTAL_SECRET_KEY": secrets.token_hex(32), "PORTAL_MASTER_KEY": generate_master_key(),
            "PORTAL_SIGNING_CERT": str(cert), "PORTAL_SIGNING_KEY": str(key),
            "PORTAL_JOBS_SQLITE_PATH": str(tmp / "jobs.sqlite"), "PORTAL_JOBS_IMMEDIATE": "0",
            "PORTAL_SCANNING": "off", "PORTAL_PREVIEWS": "off",
            "PORTAL_SECOND_FACTOR_REQUIRED_FOR_FIRM": "0",
            "PORTAL_CALENDAR_FEED_LIMIT": "1000000 per minute",
            **{f"PORTAL_{names.get(k, k)}": v for k, v in s3_config.items()}}


def flask(env: dict, *args: str) -> str:
    """Run ``flask --app wsgi ARGS``; its output, or Failure with it."""
    result = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise Failure(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def targets(env: dict, output: str) -> dict:
    """Who signs in and which addresses are visited, from the seed's output
    and the database."""
    from sqlalchemy import create_engine, text

    found = re.search(r"Heavy case: \S+ \(([0-9a-f-]{36})\)", output)
    password = re.search(r"password for all: (\S+)\)", output)
    people = {role: re.search(rf"^\s+{role}\s+(\S+@\S+)", output, re.M)
              for role in ("admin", "attorney", "client")}
    if not (found and password and all(people.values())):
        raise Failure(f"could not read the seed's summary:\n{output}")
    case_uuid = found.group(1)
    engine = create_engine(env["PORTAL_DATABASE_URL"])
    hexes = (case_uuid, case_uuid.replace("-", ""))  # SQLite keeps UUIDs as 32 hex digits
    with engine.connect() as conn:
        case_id = conn.execute(text("SELECT id FROM cases WHERE CAST(uuid AS TEXT) IN (:a, :b)"),
                               {"a": hexes[0], "b": hexes[1]}).scalar_one()
        client_email = people["client"].group(1)
        request_uuid = conn.execute(text(
            "SELECT r.uuid FROM document_requests r JOIN users u ON u.id = r.addressee_id "
            "WHERE r.case_id = :c AND u.email = :e AND r.state = 'requested' ORDER BY r.id"),
            {"c": case_id, "e": client_email}).first()[0]
        newest, count = conn.execute(text(
            "SELECT (SELECT m.uuid FROM messages m WHERE m.thread_id = t.id "
            "        ORDER BY m.created_at DESC, m.id DESC LIMIT 1), "
            "       (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id) "
            "FROM message_threads t WHERE t.case_id = :c AND t.audience = 'client'"),
            {"c": case_id}).one()
        other = conn.execute(text("SELECT uuid FROM cases WHERE id <> :c ORDER BY id LIMIT 1"),
                             {"c": case_id}).scalar_one()
    engine.dispose()

    def as_uuid(value) -> str:
        return str(uuid.UUID(str(value)))
    return {"password": password.group(1),
            "people": {role: m.group(1) for role, m in people.items()},
            "case": case_uuid, "request": as_uuid(request_uuid), "newest": as_uuid(newest),
            "thread_length": count, "other": as_uuid(other)}


def pages(t: dict, feed: str) -> list[dict]:
    case = f"/cases/{t['case']}"
    rows = [
        (BASELINE, "attorney", "/account"), ("dashboard", "attorney", "/"),
        ("case", "attorney", case), ("documents", "attorney", f"{case}/documents"),
        ("review queue", "attorney", "/requests"), ("agenda", "attorney", "/agenda"),
        ("calendar feed", "anonymous", feed),
        (f"thread ({t['thread_length']:,})", "attorney", f"{case}/messages"),
        ("thread poll", "attorney", f"{case}/messages/poll?after={t['newest']}"),
        ("admin users", "admin", "/admin/users"), ("admin outbox", "admin", "/admin/outbox"),
        ("audit browser", "admin", "/admin/audit"), ("client case", "client", case),
        ("client request", "client", f"{case}/requests/{t['request']}/upload"),
        ("client thread", "client", f"{case}/messages"),
        ("other case 404", "client", f"/cases/{t['other']}"),
    ]
    return [{"name": name, "persona": persona, "path": path,
             "expect": 404 if name.endswith("404") else 200} for name, persona, path in rows]


class Browser:
    """A signed-in HTTP/1.1 client (stdlib) for the set-up steps."""

    def __init__(self, port: int):
        self.port, self.cookie = port, None

    def fetch(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": f"session={self.cookie}"} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with contextlib.closing(conn):
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                if m := re.match(r"session=([^;]*)", header):
                    self.cookie = m.group(1) or None
            return response.status, response.read().decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        status, page = self.fetch("GET", path)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or not token:
            raise Failure(f"GET {path} answered {status} without a form")
        return token.group(1)


def calendar_feed(port: int, email: str, password: str) -> str:
    """Sign in as ``email``, make a calendar link on the agenda, return its path."""
    browser = Browser(port)
    status, _ = browser.fetch("POST", "/login", {"csrf_token": browser.csrf("/login"),
                                                 "email": email, "password": password})
    if status != 302:
        raise Failure(f"sign-in as {email} answered {status}")
    status, page = browser.fetch("POST", "/agenda/calendar", {"csrf_token": browser.csrf("/agenda")})
    found = re.search(r"(/calendar/[^\"'\s<]+\.ics)", page)
    if status != 200 or not found:
        raise Failure(f"no calendar link made ({status})")
    return found.group(1)


def warm_up(port: int, t: dict, page_list: list[dict], rounds: int = 4) -> list[str]:
    """Request every page ``rounds`` times, one at a time, so both workers have
    compiled its templates before anything is timed; returns what answered
    other than expected (shown, and counted again under load)."""
    browsers = {"anonymous": Browser(port)}
    for persona, email in t["people"].items():
        browser = browsers[persona] = Browser(port)
        status, _ = browser.fetch("POST", "/login", {"csrf_token": browser.csrf("/login"),
                                                     "email": email, "password": t["password"]})
        if status != 302:
            raise Failure(f"sign-in as {email} answered {status}")
    problems = []
    for page in page_list:
        for _ in range(rounds):
            status, _ = browsers[page["persona"]].fetch("GET", page["path"])
        if status != page["expect"]:
            problems.append(f"{page['name']}: GET {page['path']} answered {status}")
    return problems


def start_gunicorn(tmp: Path, env: dict, port: int) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py (the production worker settings), bound
    to ``port``; waits for /healthz."""
    # --no-control-socket: gunicorn >= 25.1 otherwise opens ~/.gunicorn/gunicorn.ctl
    with open(tmp / "gunicorn.log", "ab") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            if Browser(port).fetch("GET", "/healthz")[0] == 200:
                return proc
        time.sleep(0.3)
    stop(proc)
    raise Failure("gunicorn did not come up:\n" + (tmp / "gunicorn.log").read_text()[-3000:])


def stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM (gunicorn's graceful stop), SIGKILL after ``timeout`` seconds."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_load(spec: dict) -> dict:
    """``load(spec)`` in a child process (so gevent patches only that one)."""
    result = subprocess.run([sys.executable, __file__, "--load", json.dumps(spec)],
                            capture_output=True, text=True,
                            timeout=600 + spec["seconds"] * len(spec["pages"]) * 2)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise Failure(f"the load generator failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    outcome = json.loads(lines[-1])
    if outcome["failed"]:
        raise Failure("sign-in failed under load: " + "; ".join(outcome["failed"][:3]))
    return outcome["results"]


# --- reporting -----------------------------------------------------------------------

def report(title: str, results: dict) -> None:
    base = results[BASELINE]["rps"] or float("nan")
    print(f"\n{title}")
    print(f"{'page':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'x baseline':>12}")
    def ms(value) -> str:
        return f"{value:>9.0f}" if value is not None else f"{'-':>9}"
    for name, r in results.items():
        print(f"{name:<22}{r['rps']:>9.1f}{ms(r['p50'])}{ms(r['p99'])}{r['errors']:>8}"
              f"{r['rps'] / base:>12.2f}")
    for name, r in results.items():
        if r["error_kinds"]:
            print(f"  {name} errors: {', '.join(r['error_kinds'])}")


def verdicts(runs: dict[int, dict], paced: dict | None) -> list[str]:
    """PASS/MISS per target: throughput at the fewest users, p99 at the fewest
    users pausing between pages (``paced``; back to back without it), errors
    at the most users."""
    low, high = min(runs), max(runs)
    lines = []
    base = runs[low][BASELINE]["rps"]
    for name, r in runs[low].items():
        if name != BASELINE:
            ratio = r["rps"] / base if base else 0.0
            lines.append(f"{'PASS' if ratio >= MIN_RATIO else 'MISS'}  {low} users: {name} "
                         f"throughput {ratio:.2f} of the baseline's (target >= {MIN_RATIO})")
    for name, r in (paced or runs[low]).items():
        p99 = r["p99"]
        lines.append(f"{'PASS' if p99 is not None and p99 < MAX_P99_MS else 'MISS'}  {low} "
                     f"users: {name} p99 "
                     + (f"{p99:.0f} ms" if p99 is not None else "unknown (no request finished)")
                     + f" (target < {MAX_P99_MS} ms)")
    errors = {name: r["errors"] for name, r in runs[high].items() if r["errors"]}
    lines.append(f"{'MISS' if errors else 'PASS'}  {high} users: errors on any page: "
                 + (", ".join(f"{name} {n}" for name, n in errors.items()) if errors else "none")
                 + " (target: none)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", default="10,50", help="concurrent users, comma-separated")
    parser.add_argument("--seconds", type=float, default=5,
                        help="seconds of load on each page at each user count")
    parser.add_argument("--scale", type=float, default=0.1, help="flask seed-scale --scale")
    parser.add_argument("--seed", type=int, default=1, help="flask seed-scale --seed")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a user pauses between pages in the latency run "
                             "(0: no such run; p99 is then judged back to back)")
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load generator's own run
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(json.loads(args.load))))
        return 0
    user_counts = sorted(int(n) for n in args.users.split(",") if n.strip())

    from portal.dev.embedded_s3 import EmbeddedS3, free_port

    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-pages-"))
    s3 = gunicorn = drop = None
    runs: dict[int, dict] = {}
    paced = None
    try:
        s3 = EmbeddedS3(tmp / "s3", bucket="portal-bench")
        s3.start()
        label, url, drop = database(tmp)
        env = portal_env(tmp, url, s3.app_config())
        flask(env, "db", "upgrade")
        started = time.monotonic()
        output = flask(env, "seed-scale", "--scale", str(args.scale), "--seed", str(args.seed))
        print(f"Seeded {label} at scale {args.scale:g} in {time.monotonic() - started:.1f} s "
              "(flask seed-scale):")
        print("\n".join(line for line in output.splitlines() if line.startswith("  ")
                        and not line.lstrip().startswith("[")))
        t = targets(env, output)
        port = free_port()
        gunicorn = start_gunicorn(tmp, env, port)
        feed = calendar_feed(port, t["people"]["attorney"], t["password"])
        print("gunicorn -c gunicorn.conf.py (gthread, 2 workers x 8 threads), PORTAL_ENV="
              "development; firm signs in WITHOUT a second factor "
              "(SECOND_FACTOR_REQUIRED_FOR_FIRM off); calendar feed limit raised for one address.")
        print(f"Each page: {args.seconds:g} s of back-to-back requests by every user, after "
              f"{SETTLE} s to settle; locust in a process of its own on the same machine "
              f"({os.cpu_count()} cores).")
        spec = {"host": f"http://127.0.0.1:{port}", "password": t["password"],
                "people": t["people"], "pages": pages(t, feed), "seconds": args.seconds}
        for problem in warm_up(port, t, spec["pages"]):
            print(f"warm-up: {problem}")
        for users in user_counts:
            runs[users] = run_load({**spec, "users": users})
            report(f"{users} users, back to back", runs[users])
        if args.think:
            # Back to back, ten users keep two cores busy and p99 is mostly queueing;
            # people read a page before the next, so latency is judged with pauses.
            paced = run_load({**spec, "users": user_counts[0], "think": args.think})
            report(f"{user_counts[0]} users, pausing {args.think / 2:g}-{args.think * 1.5:g} s "
                   "between pages", paced)
    except Failure as error:
        print(f"FAILED: {error}")
        if (log := tmp / "gunicorn.log").exists():
            print("gunicorn.log (end):\n" + log.read_text(errors="replace")[-3000:])
        return 1
    finally:
        stop(gunicorn)
        if s3 is not None:
            s3.stop()
        if drop:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("\n".join(verdicts(runs, paced)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
