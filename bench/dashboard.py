"""Dashboard benchmark: the firm's case list at a few hundred and at thousands
of cases, side by side with a trivial signed-in page.

Run:  make bench-dashboard
  or  .venv/bin/python bench/dashboard.py [--sizes 200,5000] [--rounds 7]

For each size N a fresh database is made in a temporary directory (SQLite),
and also on the PostgreSQL server named by PORTAL_BENCH_DATABASE_URL when it
is set (a database of its own, dropped at the end), then seeded with N cases
of both case types: 20 attorneys (one case in twenty unassigned), a client
per case and a sponsor for every other one, urgency flags on two cases in
five, two document requests per case (some owed with due dates), USCIS
deadlines on one case in three, parole end dates on the paroled ones, and
one case in ten closed. The app runs in this process (Flask's test client, no
server), signed in as an admin, who sees every case.

Timed, in turns, ROUNDS times each, medians compared:
  account   GET /account: a signed-in page that lists no case (the baseline)
  urgency   GET /           (the default: open cases, most urgent first)
  deadline  GET /?sort=deadline
  search    GET /?q=garcia  (about one case in eight matches)
Each page's column shows its median in ms and, in brackets, that median
divided by the baseline's. The point is the last table: how much each ratio
grew from the smallest N to the largest. A page that loaded every case would
grow with N; one that does its work in SQL grows far less. Nothing is judged
or asserted here: the figures are for reading.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EMAIL, PASSWORD = "bench-admin@example.org", "bench-lantern-harbor-violet-42"
PAGES = {"account": "/account", "urgency": "/", "deadline": "/?sort=deadline",
         "search": "/?q=garcia"}
SURNAMES = ("Garcia", "Rodriguez", "Ivanova", "Petrov", "Hernandez", "Lopez", "Morales",
            "Smirnova")
GIVEN = ("Ana", "Luis", "Maria", "Jose", "Olga", "Dmitri", "Carmen", "Pedro", "Elena", "Juan")


class Failure(Exception):
    """Something did not work (as opposed to being slow)."""


def databases(tmp: Path, n: int):
    """(label, URL, drop) for each database to run against at size ``n``;
    ``drop`` removes it afterwards (None for a SQLite file in ``tmp``)."""
    yield "sqlite", f"sqlite:///{tmp}/bench-{n}.db", None
    server_url = os.environ.get("PORTAL_BENCH_DATABASE_URL")
    if not server_url:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"portal_bench_{n}_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    yield "postgresql", server.set(database=name).render_as_string(hide_password=False), drop


def make_app(url: str):
    from portal import create_app
    from portal.crypto import generate_master_key
    return create_app("development", {
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32),
        "MASTER_KEY": generate_master_key(), "JOBS_IMMEDIATE": True})


def seed(app, n: int, rng: random.Random) -> None:
    """Migrate and fill the database with ``n`` cases (see the module docstring)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from portal.auth.passwords import hash_password
    from portal.case_types import case_types
    from portal.extensions import db
    from portal.models import (Case, CaseDeadline, CaseFlag, CaseMembership, DeadlineKind,
                               DocumentRequest, RequestState, Role, User)
    from portal.models.case import CaseRole, UrgencyFlag

    def insert_many(model, rows: list[dict]) -> list[int]:
        if not rows:
            return []
        return list(db.session.scalars(
            insert(model).returning(model.id, sort_by_parameter_order=True), rows))

    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # Alembic's log of each migration
            upgrade()
        admin = User(role=Role.ADMIN, email=EMAIL, name="Bench Admin",
                     password_hash=hash_password(PASSWORD))
        db.session.add(admin)
        db.session.flush()
        attorneys = insert_many(User, [{"role": Role.ATTORNEY, "email": f"attorney{i}@bench.test",
                                        "name": f"{rng.choice(GIVEN)} Attorney {i}"}
                                       for i in range(20)])
        people = insert_many(User, [{"role": Role.CLIENT if i < n else Role.SPONSOR,
                                     "email": f"person{i}@bench.test",
                                     "name": f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)} {i}"}
                                    for i in range(n + n // 2)])
        clients, sponsors = people[:n], people[n:]
        today = date.today()
        types = list(case_types().values())
        case_rows = []
        for i in range(n):
            case_type = types[0] if i % 10 else types[-1]
            stage = rng.choice(case_type.stages)
            closed = stage.closes or i % 10 == 3
            case_rows.append({
                "reference": f"B-{i:05d}", "case_type": case_type.key, "title": f"Bench case {i}",
                "beneficiary_name": f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}",
                "beneficiary_country": "VE",
                "assigned_attorney_id": None if i % 20 == 7 else rng.choice(attorneys),
                "stage": stage.key,
                "receipt_number": f"IOE{i:010d}" if i % 3 == 0 else None,
                "opened_on": today - timedelta(days=rng.randrange(700)),
                "closed_on": today - timedelta(days=rng.randrange(30)) if closed else None,
                "parole_ends_on": (today + timedelta(days=rng.randrange(-30, 365))
                                   if stage.key == "paroled" else None)})
        cases = insert_many(Case, case_rows)
        flags = list(UrgencyFlag)
        insert_many(CaseFlag, [{"case_id": c, "flag": f} for i, c in enumerate(cases) if i % 5 < 2
                               for f in rng.sample(flags, rng.randint(1, 3))])
        memberships = []
        for i, (case_id, row) in enumerate(zip(cases, case_rows)):
            if row["assigned_attorney_id"]:
                memberships.append({"case_id": case_id, "user_id": row["assigned_attorney_id"],
                                    "role": CaseRole.ATTORNEY})
            memberships.append({"case_id": case_id, "user_id": clients[i], "role": CaseRole.CLIENT})
            if i % 2 == 0:
                memberships.append({"case_id": case_id, "user_id": sponsors[i // 2],
                                    "role": CaseRole.SPONSOR})
        insert_many(CaseMembership, memberships)
        states = list(RequestState)
        insert_many(DocumentRequest, [
            {"case_id": case_id, "addressee_id": clients[i], "title": f"Document {k}",
             "state": rng.choice(states), "created_by_id": attorneys[0],
             "due_on": (today + timedelta(days=rng.randrange(-20, 90))
                        if rng.random() < .7 else None)}
            for i, case_id in enumerate(cases) for k in range(2)])
        kinds = list(DeadlineKind)
        insert_many(CaseDeadline, [
            {"case_id": case_id, "kind": rng.choice(kinds),
             "due_on": today + timedelta(days=rng.randrange(-10, 120)),
             "met_on": today if rng.random() < .3 else None}
            for i, case_id in enumerate(cases) if i % 3 == 1])
        db.session.commit()
        db.session.execute(text("ANALYZE"))  # as a database that has been running would have
        db.session.commit()


def login(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    response = client.post("/login", data={"csrf_token": token and token.group(1),
                                           "email": EMAIL, "password": PASSWORD})
    if response.status_code != 302:
        raise Failure(f"login failed: {response.status_code}")


def measure(app, rounds: int) -> dict[str, float]:
    """Median milliseconds per page, the pages taking turns ``rounds`` times."""
    client = app.test_client()
    login(client)
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    for path in PAGES.values():  # warm up: templates compiled, caches filled
        if (status := client.get(path).status_code) != 200:
            raise Failure(f"GET {path} answered {status}")
    for _ in range(rounds):
        for name, path in PAGES.items():
            start = time.perf_counter()
            response = client.get(path)
            times[name].append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise Failure(f"GET {path} answered {response.status_code}")
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200,5000", help="numbers of cases, comma-separated")
    parser.add_argument("--rounds", type=int, default=7, help="timed turns per page")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    results: dict[tuple[str, int], dict[str, float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-dashboard-"))
    pages = [name for name in PAGES if name != "account"]
    print(f"{'database':<12}{'cases':>7}{'seed s':>8}{'account ms':>12}"
          + "".join(f"{name + ' ms (x)':>20}" for name in pages))
    try:
        for n in sizes:
            for label, url, drop in databases(tmp, n):
                try:
                    app = make_app(url)
                    start = time.perf_counter()
                    seed(app, n, random.Random(n))
                    seeded = time.perf_counter() - start
                    ms = results[label, n] = measure(app, args.rounds)
                    with app.app_context():
                        from portal.extensions import db
                        db.engine.dispose()
                finally:
                    if drop:
                        drop()
                print(f"{label:<12}{n:>7}{seeded:>8.1f}{ms['account']:>12.1f}"
                      + "".join(f"{ms[p]:>12.1f} ({ms[p] / ms['account']:>4.1f})" for p in pages),
                      flush=True)
    except Failure as error:
        print(f"FAILED: {error}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    small, large = sizes[0], sizes[-1]
    if small != large:
        print(f"\nratio to the baseline at {large} cases / the same at {small} cases "
              "(1.0: the page grew no more than the baseline did)")
        for label in dict.fromkeys(label for label, _ in results):
            a, b = results[label, small], results[label, large]
            print(f"{label:<12}" + "".join(
                f"{p:>10} {(b[p] / b['account']) / (a[p] / a['account']):>5.2f}" for p in pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
