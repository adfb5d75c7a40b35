"""``make run``: the embedded S3 server, a clamd of its own (when ClamAV is
installed), migrations, demo data, a job consumer, then the app.

Everything lives under ``instance/`` (the job queue in ``instance/jobs.sqlite``);
running it again reuses the data. Ctrl-C stops the app, the consumer, then
the S3 server. Its request log leaves out the tokens of invitation, reset and
calendar links, as production's access log does (``portal.accesslog``).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import WSGIRequestHandler

from portal import ROOT, create_app, jobs
from portal.accesslog import redact
from portal.dev import demo
from portal.dev.clamd import EmbeddedClamd, clamd_installed
from portal.dev.embedded_s3 import EmbeddedS3


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class RedactingRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, whose log lines (one per request, and
    errors quoting the request line) have secret links' tokens replaced."""

    def log(self, type: str, message: str, *args) -> None:
        super().log(type, "%s", redact(message % args if args else message))


def serve(app: Flask, port: int) -> None:
    """Serve ``app`` on http://127.0.0.1:``port`` until interrupted, logging
    each request without the tokens of secret links."""
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False,
            request_handler=RedactingRequestHandler)


def start_consumer(app):
    """Run a Huey consumer for ``app`` on threads of this process (two
    workers, periodic jobs on), as ``huey_consumer portal.worker.huey`` does
    in production."""
    jobs.serve(app)
    with app.app_context():
        consumer = jobs.huey.create_consumer(workers=2, worker_type="thread", periodic=True,
                                             shutdown_timeout=15)
        consumer.start()
    # start() takes over SIGINT/SIGTERM for its own run loop, which is not used
    # here: give them back, so Ctrl-C still stops everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    return consumer


def start_scanner(instance: Path) -> tuple[EmbeddedClamd | None, dict]:
    """A clamd of the instance's own, with a development signature database
    that detects the EICAR test file (so the demo shows a quarantine), when
    ClamAV is installed and no scanner is configured; else scanning off,
    said plainly. Returns the server (to stop) and the settings for the app."""
    if os.environ.get("PORTAL_CLAMD_SOCKET") or os.environ.get("PORTAL_CLAMD_HOST") \
            or os.environ.get("PORTAL_SCANNING") == "off":
        return None, {}
    if not clamd_installed():
        print("Scanning is OFF: ClamAV is not installed (apt-get install clamav-daemon). Files "
              "are stored unscanned and the firm's pages say so.", flush=True)
        return None, {"SCANNING": "off"}
    clamd = EmbeddedClamd(instance / "clamd")
    print("Starting a malware scanner (clamd) with a development signature database that "
          "detects only the EICAR test file; production uses freshclam ...", flush=True)
    clamd.start()
    return clamd, clamd.app_config()


def main() -> None:
    """Start everything and serve on http://127.0.0.1:$PORT (default 5000)."""
    # SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    port = int(os.environ.get("PORT", "5000"))
    instance = Path(ROOT) / "instance"
    s3 = EmbeddedS3(instance / "s3", bucket=os.environ.get("PORTAL_S3_BUCKET", "portal-evidence"))
    print(f"Starting the embedded S3 server (SeaweedFS) on {s3.endpoint_url} ...", flush=True)
    s3.start()
    consumer = clamd = None
    try:
        clamd, scanner_config = start_scanner(instance)
        # localhost, not 127.0.0.1: a passkey's relying party must be a host
        # name, and browsers treat http://localhost as a secure context.
        base_url = f"http://localhost:{port}"
        # The demo firm's profile, unless the operator is trying their own.
        profile = os.environ.get("PORTAL_FIRM_PROFILE") or str(demo.FIRM_PROFILE)
        app = create_app("development", {**s3.app_config(), **scanner_config,
                                         "BASE_URL": base_url, "FIRM_PROFILE": profile})
        with app.app_context():
            upgrade()
            demo.seed()
            demo.print_logins(print)
            if not app.config["SECOND_FACTOR_REQUIRED_FOR_FIRM"]:
                print("Second factor: the demo firm may sign in without one; production sends "
                      "admins, attorneys and staff to set one up first (Settings > Sign-in "
                      "security shows the set-up pages).", flush=True)
            if app.config.get("SIGNING_SELF_SIGNED"):
                print(f"Signed copies are sealed with a self-signed certificate made for this "
                      f"demo ({app.config['SIGNING_CERT']}); PDF readers show the seal as not "
                      "trusted. Set PORTAL_SIGNING_CERT and PORTAL_SIGNING_KEY to the firm's "
                      "own.", flush=True)
        print("Starting a job consumer (mail is sent by it) ...", flush=True)
        consumer = start_consumer(app)
        print(f"\nThe portal is at {base_url}  (Ctrl-C stops it)\n", flush=True)
        serve(app, port)
    except KeyboardInterrupt:
        pass
    finally:
        if consumer is not None:
            print("Stopping the job consumer ...", flush=True)
            consumer.stop(graceful=True)
        if clamd is not None:
            print("Stopping the malware scanner ...", flush=True)
            clamd.stop()
        print("Stopping the embedded S3 server ...", flush=True)
        s3.stop()


if __name__ == "__main__":
    main()
