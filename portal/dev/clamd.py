"""An embedded ClamAV daemon (clamd) for development and tests: a private
Unix socket, and a signature database of our own that detects only the EICAR
test file (production gets the real signatures from ``freshclam``).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from clamav_client.clamd import ClamdError, ClamdUnixSocket

from portal.dev.embedded_s3 import _die_with_parent

# The EICAR test string, kept in two halves joined only at run time: written out
# whole, it would make this source file itself "infected" to every virus scanner
# that reads the repository (editors, CI runners, backup tools).
_EICAR_HEAD = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$"
_EICAR_TAIL = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR = _EICAR_HEAD + _EICAR_TAIL

# clamd reports it with ".UNOFFICIAL" appended, as it does for every signature
# that does not come from a signed ClamAV database.
SIGNATURE_NAME = "Portal.Test.EICAR"

# sun_path of struct sockaddr_un is 108 bytes, the terminating NUL included.
_MAX_SOCKET_PATH = 107


def _binary(name: str) -> str | None:
    """Path of the ClamAV program ``name``: Debian puts clamd in /usr/sbin,
    which is not on an ordinary user's PATH."""
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", os.defpath),
                                                    "/usr/sbin", "/usr/bin"]))


def clamd_installed() -> bool:
    """Whether both ``clamd`` and ``sigtool`` are installed."""
    return _binary("clamd") is not None and _binary("sigtool") is not None


def write_signatures(directory: Path) -> Path:
    """Write, into ``directory``, a ClamAV body-signature database (.ndb) that
    detects the EICAR string anywhere in a file; returns its path."""
    sigtool = _binary("sigtool")
    if sigtool is None:
        raise RuntimeError("ClamAV 'sigtool' not found: apt-get install clamav")
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # sigtool, not Python's bytes.hex(): the database is then made by ClamAV's own tool.
    dump = subprocess.run([sigtool, "--hex-dump"], input=EICAR,  # noqa: S603 - fixed arguments
                          capture_output=True, check=True)
    hex_dump = dump.stdout.decode().strip()
    # Target 0 (any file type), offset * (anywhere): also inside a PDF or a zip member.
    database = directory / "portal-test.ndb"
    database.write_text(f"{SIGNATURE_NAME}:0:*:{hex_dump}\n")
    return database


class EmbeddedClamd:
    """A clamd whose socket, database, logs and temporary files live under
    ``directory``, refusing streams longer than ``stream_max_bytes``."""

    def __init__(self, directory: Path, stream_max_bytes: int = 100 * 2**20):
        self.directory = Path(directory)
        self.stream_max_bytes = stream_max_bytes
        self.process: subprocess.Popen | None = None
        self.config_path = self.directory / "clamd.conf"
        self.log_path = self.directory / "clamd.log"
        # clamd's console (stdout and stderr): errors from before LogFile is open.
        self.output_path = self.directory / "clamd.out"
        self._output = None
        # A short folder of our own for the socket, when directory's path is too long.
        self._socket_dir: Path | None = None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_signatures(self.directory / "db")
        self._configure()

    @property
    def socket_path(self) -> Path:
        """The Unix socket clamd listens on (it may change after ``stop``)."""
        return self._socket_path

    def app_config(self) -> dict:
        """The settings that point the portal at this clamd."""
        return {"CLAMD_SOCKET": str(self.socket_path), "SCANNING": "on"}

    def _configure(self) -> None:
        """Choose the socket path and write clamd.conf."""
        socket_path = self.directory / "clamd.sock"
        if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
            # pytest's tmp_path can be too long for a Unix socket address.
            if self._socket_dir is None:
                self._socket_dir = Path(tempfile.mkdtemp(prefix="clamd-"))
            socket_path = self._socket_dir / "clamd.sock"
            if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
                raise ValueError(f"socket path too long for AF_UNIX: {socket_path}")
        self._socket_path = socket_path
        lines = [
            f"LocalSocket {socket_path}",
            f"DatabaseDirectory {self.directory / 'db'}",
            # Not a daemon: it stays our child, so _die_with_parent and stop() reach it.
            "Foreground yes",
            f"LogFile {self.log_path}",
            f"PidFile {self.directory / 'clamd.pid'}",
            f"TemporaryDirectory {self.directory}",
            f"StreamMaxLength {self.stream_max_bytes}",
            # A stream clamd accepts must also be scanned whole: a file past MaxFileSize
            # (default 100M) would be answered OK without being scanned.
            f"MaxFileSize {max(self.stream_max_bytes, 100 * 2**20)}",
            f"MaxScanSize {max(self.stream_max_bytes, 400 * 2**20)}",
            "MaxThreads 4",     # dev and tests scan a few files at a time
            "ReadTimeout 30",   # a client stalled mid-stream holds a thread this long
            "SelfCheck 0",      # the database is written once and never changes
            "LogTime yes",
        ]  # No User line: clamd runs as whoever runs the tests.
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 30) -> None:
        """Start clamd and wait until it answers PING on its socket."""
        clamd = _binary("clamd")
        if clamd is None:
            raise RuntimeError("ClamAV 'clamd' not found: apt-get install clamav-daemon")
        if self.process is not None and self.process.poll() is None:
            return
        self._configure()
        self._output = open(self.output_path, "ab")  # closed in stop()
        # Its own process group: Ctrl-C in a terminal must not reach it before we stop it.
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [clamd, "-c", str(self.config_path)], stdout=self._output, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        client = ClamdUnixSocket(str(self.socket_path), timeout=2)
        while True:
            # Only OSError escapes the client when clamd drops the connection mid-command.
            try:
                if client.ping() == "PONG":
                    return
            except (ClamdError, OSError):
                pass  # no socket yet: clamd is still loading its database
            if self.process.poll() is not None:
                problem = f"clamd exited with status {self.process.returncode}"
            elif time.monotonic() > deadline:
                problem = f"clamd did not answer PING within {timeout} s"
            else:
                time.sleep(0.05)
                continue
            self.stop()
            raise RuntimeError(f"{problem}; {self.output_path} ends with:\n{self._tail()}")

    def _tail(self, size: int = 2000) -> str:
        """The end of clamd's console output, or else of its log file."""
        for path in (self.output_path, self.log_path):
            try:
                text = path.read_bytes()[-size:].decode(errors="replace").strip()
            except OSError:
                continue
            if text:
                return text
        return "(nothing)"

    def stop(self, timeout: float = 10) -> None:
        """Stop clamd (SIGTERM, then SIGKILL after ``timeout`` seconds) and remove
        its socket; does nothing more if it is not running."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGCONT)  # a paused clamd cannot act on SIGTERM
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None
        # clamd removes them itself only on a clean exit; a stale socket refuses
        # connections, which reads as "down" rather than "not there".
        self.socket_path.unlink(missing_ok=True)
        (self.directory / "clamd.pid").unlink(missing_ok=True)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _running(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("clamd is not running")
        return self.process

    def pause(self) -> None:
        """Freeze clamd (SIGSTOP), as a hung scanner would be: connections are
        still accepted (by the kernel) but never answered."""
        self._running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause``."""
        self._running().send_signal(signal.SIGCONT)
