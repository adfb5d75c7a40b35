"""``make run``: the embedded S3 server, migrations, demo data, then the app.

Everything lives under ``instance/``; running it again reuses the data.
Ctrl-C stops the app, then the S3 server.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from flask_migrate import upgrade

from portal import ROOT, create_app
from portal.dev import demo
from portal.dev.embedded_s3 import EmbeddedS3


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    """Start everything and serve on http://127.0.0.1:$PORT (default 5000)."""
    # SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    port = int(os.environ.get("PORT", "5000"))
    instance = Path(ROOT) / "instance"
    s3 = EmbeddedS3(instance / "s3", bucket=os.environ.get("PORTAL_S3_BUCKET", "portal-evidence"))
    print(f"Starting the embedded S3 server (SeaweedFS) on {s3.endpoint_url} ...", flush=True)
    s3.start()
    try:
        app = create_app("development", {**s3.app_config(),
                                         "BASE_URL": f"http://127.0.0.1:{port}"})
        with app.app_context():
            upgrade()
            demo.seed()
            demo.print_logins(print)
        print(f"\nThe portal is at http://127.0.0.1:{port}  (Ctrl-C stops it)\n", flush=True)
        app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the embedded S3 server ...", flush=True)
        s3.stop()


if __name__ == "__main__":
    main()
