"""Previews of untrusted uploads, rendered in a sandboxed child process (``render.py``).

The child decodes the file with Pillow / pillow-heif / pdfium, code we do not trust with
hostile input. So it runs as a separate process with no network (a network namespace of
its own), no inherited environment (no ``PORTAL_*`` secrets), no file writes, capped memory,
CPU and wall time, and it dies with its parent. Only PNG frames come back, and only those
that start like a PNG. Nothing is written to disk: the file goes in through a pipe.
"""
from __future__ import annotations

import ctypes
import logging
import os
import resource
import selectors
import signal
import struct
import subprocess  # nosec B404  # fixed argv, no shell: see _spawn
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RENDERER = Path(__file__).with_name("render.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHILD_REASONS = {"too_large", "unreadable", "unsupported"}  # what render.py may refuse with
REFUSED = 2  # render.py's exit status for a refusal
# Python needs no more than this; nothing of ours (no PORTAL_* setting) reaches the child.
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
OPEN_FILES = 64  # enough for the imports (tested), not for much mischief
STDERR_TAIL = 64 * 1024  # keep only the end of the child's stderr: the reason is its last line
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """What one render may use. Measured need of the child (RLIMIT_AS): ~135 MiB to start
    and import its decoders (also enough for PDFs and a 64 MiB input), up to ~850 MiB for
    the largest image render.py accepts (50 Mpx; WebP is the hungriest decoder)."""

    memory_bytes: int = 1024 * 1024 * 1024  # RLIMIT_AS, address space
    cpu_seconds: int = 20  # RLIMIT_CPU
    wall_seconds: float = 60  # from start to reaped, including reading the input
    max_output_bytes: int = 40 * 1024 * 1024  # all pages together, with their frame headers
    max_pages: int = 5  # pages kept; render.py itself renders at most render.MAX_PAGES


@dataclass(frozen=True)
class Outcome:
    """PNG ``pages`` on success (``reason`` None), else no pages and a ``reason``:
    ``too_large``, ``unreadable`` or ``unsupported`` (the child refused the file),
    ``limits`` (the child was stopped by a limit, crashed or broke the protocol),
    ``sandbox`` (the sandbox could not be set up, so nothing was rendered)."""

    pages: list[bytes]
    reason: str | None


DEFAULT_LIMITS = Limits()


def render(chunks: Iterable[bytes], content_type: str,
           limits: Limits = DEFAULT_LIMITS) -> Outcome:
    """Preview the file whose bytes ``chunks`` yields, as ``content_type``, in a sandboxed
    child. Never raises for a bad file or a failed sandbox; an exception raised by
    ``chunks`` itself (e.g. a failed decryption) is raised again, once the child is gone."""
    return _run(RENDERER, [content_type], chunks, limits)


def _run(script: Path, args: list[str], chunks: Iterable[bytes], limits: Limits) -> Outcome:
    """Run ``script`` in the sandbox with ``chunks`` on its stdin, and judge what it did."""
    try:
        child = _spawn(script, args, limits)
    except (subprocess.SubprocessError, OSError):
        # SubprocessError: _confine raised in the child (no namespace, a limit refused);
        # OSError: fork or exec failed. Fail closed: no sandbox, no render.
        log.exception("preview sandbox could not be set up; not rendering")
        return Outcome([], "sandbox")
    source_failure: list[BaseException] = []
    feeder = threading.Thread(target=_feed, args=(child.stdin, chunks, source_failure),
                              name="preview-feeder", daemon=True)
    feeder.start()
    try:
        out, err, stopped = _collect(child, limits)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()  # always reaped
        child.stdout.close()
        child.stderr.close()
        # A dead child breaks the pipe, so a feeder stuck writing ends; one stuck in a
        # blocking ``chunks`` is left behind (daemon) rather than blocking the request.
        feeder.join(timeout=5)
    if source_failure:
        raise source_failure[0]
    if stopped:
        log.warning("preview child stopped: %s", stopped)
        return Outcome([], "limits")
    if child.returncode == 0:
        pages = _frames(out)
        if pages is None:
            log.warning("preview child wrote something other than PNG frames")
            return Outcome([], "limits")
        return Outcome(pages[:limits.max_pages], None)
    reason = err.decode("ascii", "replace").strip().rsplit("\n", 1)[-1]
    if child.returncode == REFUSED and reason in CHILD_REASONS:
        return Outcome([], reason)
    # A negative status is a signal: SIGKILL/SIGXCPU from RLIMIT_CPU, or a crash.
    log.warning("preview child ended with status %s", child.returncode)
    return Outcome([], "limits")


def _spawn(script: Path, args: list[str], limits: Limits) -> subprocess.Popen:
    """Start ``python script args...`` in the sandbox, with pipes on stdin/stdout/stderr.

    The script runs by path with ``-I`` (isolated: no PYTHON* variables, no user site, no
    script or working directory on sys.path), not as ``-m portal.previews.render``: that
    would import ``portal/__init__.py``, which imports Flask and the settings. ``-B``
    because the child may write no file, not even a .pyc. Raises SubprocessError when the
    sandbox cannot be set up."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded here: no dlopen after fork
    return subprocess.Popen(  # noqa: S603  # nosec B603  # fixed argv of our own, no shell
        [sys.executable, "-I", "-B", str(script), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=CHILD_ENV, cwd="/", close_fds=True, preexec_fn=_confine(libc, limits))


def _confine(libc: ctypes.CDLL, limits: Limits) -> Callable[[], None]:
    """The preexec_fn: runs in the forked child just before exec. An exception here makes
    Popen raise SubprocessError in the parent, so a missing sandbox cannot go unnoticed."""

    def confine() -> None:
        # No network: a network namespace of its own holds only a loopback that is down.
        # As an unprivileged user that needs a user namespace too; root can do without.
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0 and libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare: no network namespace for the child")
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # if the app dies, so does the child
        for limit, value in ((resource.RLIMIT_FSIZE, 0),  # may not write a byte to any file
                             (resource.RLIMIT_CORE, 0),  # no core dump of the file's pixels
                             (resource.RLIMIT_NOFILE, OPEN_FILES),
                             (resource.RLIMIT_CPU, limits.cpu_seconds),
                             (resource.RLIMIT_AS, limits.memory_bytes)):  # last: the others
            resource.setrlimit(limit, (value, value))  # allocate, this one may be tiny

    return confine


def _feed(pipe, chunks: Iterable[bytes], failure: list[BaseException]) -> None:
    """In a thread: write ``chunks`` to the child's stdin, then close it. A child that stops
    reading (it refused the file, or was killed) breaks the pipe: that is no error here."""
    try:
        for chunk in chunks:
            pipe.write(chunk)
    except BrokenPipeError:
        pass
    except BaseException as exc:  # noqa: BLE001  # the source failed: handed to the caller
        failure.append(exc)
    finally:
        try:
            pipe.close()
        except BrokenPipeError:  # close flushes the buffer into a pipe that may be gone
            pass


def _collect(child: subprocess.Popen, limits: Limits) -> tuple[bytes, bytes, str | None]:
    """Read the child's stdout (at most max_output_bytes) and stderr (its tail) until it
    exits. Returns (stdout, stderr, why it was stopped or None); it is killed when it
    writes too much or outlives wall_seconds."""
    deadline = time.monotonic() + limits.wall_seconds
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ, out)
        selector.register(child.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                child.kill()
                return bytes(out), bytes(err), "wall time"
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 64 * 1024)
                if not data:
                    selector.unregister(key.fileobj)
                key.data.extend(data)
            if len(out) > limits.max_output_bytes:
                child.kill()
                return b"", bytes(err), "output too big"
            del err[:-STDERR_TAIL]
    try:  # both pipes closed; the child still has to exit within the deadline
        child.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        child.kill()
        return bytes(out), bytes(err), "wall time"
    return bytes(out), bytes(err), None


def _frames(out: bytes) -> list[bytes] | None:
    """The PNGs in the child's output (4-byte big-endian length, then the bytes, for each
    page), or None unless it is at least one whole frame and each one starts like a PNG."""
    pages, at = [], 0
    while at < len(out):
        if len(out) - at < 4:
            return None
        (size,) = struct.unpack_from(">I", out, at)
        page = out[at + 4:at + 4 + size]
        if len(page) != size or not page.startswith(PNG_SIGNATURE):
            return None
        pages.append(page)
        at += 4 + size
    return pages or None
