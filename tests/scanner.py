"""A real clamd for tests (``portal.dev.clamd``), with a signature database
made by ``sigtool`` at test time that detects the EICAR test file."""
from __future__ import annotations

import os

import pytest

from portal.dev.clamd import EmbeddedClamd, clamd_installed


@pytest.fixture(scope="module")
def require_clamd() -> None:
    """Skip when ClamAV is not installed, or fail when PORTAL_TEST_CLAMD_REQUIRED=1
    (in CI, where a skip would hide a machine that lost ClamAV)."""
    if clamd_installed():
        return
    reason = "ClamAV (clamd and sigtool) is not installed: apt-get install clamav-daemon"
    if os.environ.get("PORTAL_TEST_CLAMD_REQUIRED") == "1":
        pytest.fail(f"{reason}, and PORTAL_TEST_CLAMD_REQUIRED=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def clamd(require_clamd, tmp_path_factory):
    """A started clamd shared by a module's tests (restarted by any test that stops it)."""
    server = EmbeddedClamd(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()
