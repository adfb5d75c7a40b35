"""The firm's seal for tests: a self-signed certificate and key made once
per run (``portal.signing.seal.make_self_signed``), as ``make run`` makes one."""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from portal.signing.seal import make_self_signed


@cache
def seal_files() -> dict[str, str]:
    """``SIGNING_CERT`` and ``SIGNING_KEY`` settings naming a fresh pair."""
    folder = Path(tempfile.mkdtemp(prefix="portal-seal-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    make_self_signed(cert, key, common_name="Test firm seal")
    return {"SIGNING_CERT": str(cert), "SIGNING_KEY": str(key)}
