"""Run by tests/test_preview_sandbox.py inside the preview sandbox, by path like render.py,
so it sees exactly what the renderer would. Standard library only.

``probe PORT FILE``: print, as JSON, what the child can reach (network, environment, a file
to append to) and which limits it runs under. ``spin``, ``sleep``, ``flood``: misbehave, so
the parent's CPU, wall-time and output limits can be seen to hold."""
from __future__ import annotations

import ctypes
import json
import os
import resource
import socket
import sys
import time


def probe(port: int, target: str) -> dict:
    """What this process can reach and which limits it has."""
    report: dict = {"env": sorted(os.environ), "net_ns": os.readlink("/proc/self/ns/net")}
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            report["connected"] = True
    except OSError as exc:
        report["connected"], report["connect_error"] = False, str(exc)
    try:
        with open(target, "ab", buffering=0) as file:  # unbuffered: the write itself fails
            file.write(b"written by the sandboxed child")
        report["wrote"] = True
    except OSError as exc:
        report["wrote"], report["write_error"] = False, str(exc)
    names = ("FSIZE", "CORE", "NOFILE", "CPU", "AS")
    report["limits"] = {name: resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))
                        for name in names}
    try:  # lifting a hard limit needs CAP_SYS_RESOURCE in the host's user namespace
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
        report["raised_limit"] = True
    except (ValueError, OSError):
        report["raised_limit"] = False
    signal_number = ctypes.c_int()
    ctypes.CDLL("libc.so.6").prctl(2, ctypes.byref(signal_number))  # PR_GET_PDEATHSIG
    report["death_signal"] = signal_number.value
    return report


def main(argv: list[str]) -> None:
    """Do what argv[1] says."""
    if argv[1] == "probe":
        print(json.dumps(probe(int(argv[2]), argv[3])))
    elif argv[1] == "spin":
        while True:
            pass
    elif argv[1] == "sleep":
        time.sleep(60)
    elif argv[1] == "flood":
        while True:
            sys.stdout.buffer.write(b"\0" * 65536)


if __name__ == "__main__":
    main(sys.argv)
