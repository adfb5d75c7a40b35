"""The embedded SeaweedFS (make run, tests) answers only signed S3 requests:
its filer, volume and master listeners refuse anyone else on loopback."""
from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request

import pytest

from portal import storage

KEY = "cases/side-door-test"


@pytest.fixture()
def stored(s3_server):
    """An object stored through the S3 port with the app's identity."""
    client = storage.make_client(s3_server.endpoint_url, s3_server.app.access_key,
                                 s3_server.app.secret_key, "us-east-1")
    client.put_object(Bucket=s3_server.bucket, Key=KEY, Body=b"evidence")
    yield client
    client.delete_object(Bucket=s3_server.bucket, Key=KEY)


def http(method: str, url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "GET"])
def test_filer_http_refuses_unsigned_requests(s3_server, stored, method):
    url = f"http://127.0.0.1:{s3_server.side_ports['filer']}/buckets/{s3_server.bucket}/{KEY}"
    assert http(method, url, b"overwritten" if method in ("PUT", "POST") else None) == 401
    body = stored.get_object(Bucket=s3_server.bucket, Key=KEY)["Body"].read()
    assert body == b"evidence"


def test_volume_http_refuses_unsigned_writes(s3_server, stored):
    base = f"http://127.0.0.1:{s3_server.side_ports['volume']}"
    assert http("POST", f"{base}/1,01637037d6", b"planted") == 401
    assert http("DELETE", f"{base}/1,01637037d6") == 401


def tls_handshake(port: int) -> None:
    """A TLS handshake with no client certificate (raises when refused)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with context.wrap_socket(sock) as tls:
            tls.sendall(b"GET /col/delete?collection=x HTTP/1.1\r\nHost: x\r\n\r\n")
            tls.recv(100)


@pytest.mark.parametrize("listener", ["master", "master_grpc", "filer_grpc", "volume_grpc"])
def test_master_and_grpc_listeners_need_the_private_certificate(s3_server, stored, listener):
    port = s3_server.side_ports[listener]
    # Plain HTTP to the master (whose /col/delete drops a whole bucket) is refused...
    if listener == "master":
        assert http("GET", f"http://127.0.0.1:{port}/col/delete?collection={s3_server.bucket}") == 400
    # ...and so is TLS without the CA's client certificate.
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        tls_handshake(port)
    assert stored.get_object(Bucket=s3_server.bucket, Key=KEY)["Body"].read() == b"evidence"


def test_many_buckets_each_get_writable_volumes(s3_server):
    """Each bucket is a collection with volumes of its own; the server has
    slots for many, so writes never hang for want of a writable volume."""
    admin = storage.make_client(s3_server.endpoint_url, s3_server.admin.access_key,
                                s3_server.admin.secret_key, "us-east-1", read_timeout=10,
                                max_attempts=1)
    for n in range(4):
        bucket = f"slots-{n}"
        admin.create_bucket(Bucket=bucket)
        admin.put_object(Bucket=bucket, Key="x", Body=b"written")
        assert admin.get_object(Bucket=bucket, Key="x")["Body"].read() == b"written"
        admin.delete_object(Bucket=bucket, Key="x")
        admin.delete_bucket(Bucket=bucket)
