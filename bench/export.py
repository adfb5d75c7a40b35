"""Thread export benchmark: how long the job takes to lay out and store a
long thread, as PDF and as plain text.

Run:  .venv/bin/python bench/export.py [--messages 2000] [--rounds 3]

A fresh SQLite database and an embedded SeaweedFS are made in a temporary
directory; one case gets a client thread of N messages (bodies encrypted as
the app encrypts them, every tenth an internal note, some in Cyrillic), then
the export job (``export_files.prepare``, what the consumer runs) is timed for
each format, with internal notes included, ROUNDS times; the median is
printed with the file's size. The issue's target is a 2,000-message PDF ready
in under 30 s on this 2-core machine; nothing is asserted, the figures are
for reading.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.dev.embedded_s3 import EmbeddedS3  # noqa: E402

TARGET_SECONDS = 30
LINES = ("Buenos días, le envío la carta del hospital.",
         "Здравствуйте! Вот справка с работы, вторая страница.",
         "Thank you. We will file the I-134 this week; please check the address on page 2.")


def seed(app, messages: int):
    """A case with its client's thread of ``messages`` messages; returns the
    attorney's id and the thread's id."""
    from flask_migrate import upgrade

    from portal.auth.passwords import hash_password
    from portal.extensions import db
    from portal.messages import services
    from portal.models import Case, CaseMembership, MessageThread, Role, User
    from portal.models.case import CaseRole

    with app.app_context(), app.test_request_context():
        with contextlib.redirect_stderr(io.StringIO()):
            upgrade()
        password = hash_password(secrets.token_urlsafe(16))
        lawyer = User(role=Role.ATTORNEY, email="lawyer@bench.test", name="Ana Attorney",
                      password_hash=password)
        client = User(role=Role.CLIENT, email="client@bench.test", name="Olga Client",
                      password_hash=password)
        case = Case(reference="B-00001", case_type="humanitarian_parole", title="Bench",
                    beneficiary_name="Olga Client", beneficiary_country="VE", stage="intake",
                    assigned_attorney=lawyer)
        case.memberships += [CaseMembership(user=lawyer, role=CaseRole.ATTORNEY),
                             CaseMembership(user=client, role=CaseRole.CLIENT)]
        thread = MessageThread(case=case, audience="client")
        db.session.add_all([lawyer, client, case, thread])
        db.session.commit()
        for i in range(messages):
            author = lawyer if i % 2 else client
            services.post(author, thread, f"{LINES[i % 3]} ({i})\n" * (1 + i % 4), f"k{i}",
                          internal=author is lawyer and i % 10 == 1)
        return lawyer.id, thread.id


def run_export(app, lawyer_id: int, thread_id: int, fmt: str) -> tuple[float, int]:
    """Seconds the job takes for one export, and the file's size."""
    from portal.extensions import db
    from portal.messages import export_files
    from portal.models import MessageThread, ThreadExport, User

    with app.app_context(), app.test_request_context():
        export = export_files.ask(db.session.get(User, lawyer_id),
                                  db.session.get(MessageThread, thread_id), fmt, True)
        export_uuid = str(export.uuid)
    with app.app_context():  # as the consumer runs it: an app context of its own
        started = time.perf_counter()
        export_files.prepare(export_uuid)
        seconds = time.perf_counter() - started
        size = db.session.scalar(db.select(ThreadExport).where(
            ThreadExport.uuid == export.uuid)).stored_object.size
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from portal import create_app
    from portal.crypto import generate_master_key
    with tempfile.TemporaryDirectory() as tmp:
        s3 = EmbeddedS3(Path(tmp) / "s3", bucket="portal-bench")
        s3.start()
        try:
            # Jobs queued, not run at once: the bench runs the export job itself.
            app = create_app("development", {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "SECRET_KEY": secrets.token_hex(32), "MASTER_KEY": generate_master_key(),
                "JOBS_IMMEDIATE": False, "JOBS_SQLITE_PATH": f"{tmp}/jobs.sqlite",
                **s3.app_config()})
            started = time.perf_counter()
            lawyer_id, thread_id = seed(app, args.messages)
            print(f"seeded a thread of {args.messages} messages in "
                  f"{time.perf_counter() - started:.1f} s")
            for fmt in ("pdf", "txt"):
                runs = [run_export(app, lawyer_id, thread_id, fmt) for _ in range(args.rounds)]
                median = statistics.median(seconds for seconds, _size in runs)
                verdict = "PASS" if median < TARGET_SECONDS else "MISS"
                print(f"{fmt:4} median {median:6.2f} s over {args.rounds} "
                      f"({runs[0][1] / 1024:,.0f} KiB)  target < {TARGET_SECONDS} s: {verdict}")
        finally:
            s3.stop()


if __name__ == "__main__":
    main()
