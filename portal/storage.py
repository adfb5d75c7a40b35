"""Object storage: the only module that imports boto3.

Works with any S3-compatible endpoint (SeaweedFS here, AWS S3 or MinIO in
production): path-style addressing, SigV4, and explicit timeouts with bounded
retries so an outage fails in seconds rather than minutes.
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask


log = logging.getLogger(__name__)
IN_FLIGHT = 3  # parts uploading at once per upload: throughput against memory
# What boto3 raises when the store is down, slow, or refuses a request.
BOTO_ERRORS = (BotoCoreError, ClientError)


class StorageError(Exception):
    """The object store could not be reached or refused the request."""


@dataclass(frozen=True)
class ListedObject:
    """An object found by a listing."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime


def make_client(endpoint_url: str | None, access_key: str, secret_key: str, region: str,
                connect_timeout: float = 3, read_timeout: float = 10, max_attempts: int = 2):
    """Build a boto3 S3 client with the portal's transport settings."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=BotoConfig(
            signature_version="s3v4",
            # Integrity comes from the x-amz-checksum-sha256 the store verifies
            # (and that is itself signed); hashing the body a second time for
            # the signature costs a core-second per GiB over plain HTTP.
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
        ),
    )


class Storage:
    """The portal's bucket, reached with the app's (bucket-limited) identity."""

    def __init__(self, app: Flask):
        cfg = app.config
        self.bucket = cfg["S3_BUCKET"]
        self.client = make_client(
            cfg["S3_ENDPOINT_URL"], cfg["S3_ACCESS_KEY_ID"], cfg["S3_SECRET_ACCESS_KEY"],
            cfg["S3_REGION"], cfg["S3_CONNECT_TIMEOUT"], cfg["S3_READ_TIMEOUT"],
            cfg["S3_MAX_ATTEMPTS"])
        self.quick_client = make_client(
            cfg["S3_ENDPOINT_URL"], cfg["S3_ACCESS_KEY_ID"], cfg["S3_SECRET_ACCESS_KEY"],
            cfg["S3_REGION"], connect_timeout=1, read_timeout=2, max_attempts=1)

    def writer(self, key: str, part_size: int) -> "MultipartWriter":
        """A write-only stream that stores ``key`` as a multipart upload,
        holding about ``IN_FLIGHT + 1`` parts in memory. Raises ``StorageError``."""
        return MultipartWriter(self, key, part_size)

    def reader(self, key: str) -> "ObjectReader":
        """A read-only stream of the object ``key``. Raises ``StorageError``."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error
        return ObjectReader(body)

    def exists(self, key: str) -> bool:
        """True if ``key`` is stored. Raises ``StorageError`` if the store does not answer."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(str(error)) from error
        except BotoCoreError as error:
            raise StorageError(str(error)) from error
        return True

    def delete(self, key: str) -> None:
        """Delete ``key`` (no error if it is already gone). Raises ``StorageError``."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """Every object under ``prefix``. Raises ``StorageError``."""
        for item in self._listing("list_objects_v2", "Contents", prefix):
            yield ListedObject(item["Key"], item["Size"], item["LastModified"])

    def pending_uploads(self, prefix: str) -> Iterator[PendingUpload]:
        """Multipart uploads under ``prefix`` never completed or aborted."""
        for item in self._listing("list_multipart_uploads", "Uploads", prefix):
            yield PendingUpload(item["Key"], item["UploadId"], item["Initiated"])

    def _listing(self, operation: str, field: str, prefix: str) -> Iterator[dict]:
        try:
            for page in self.client.get_paginator(operation).paginate(Bucket=self.bucket,
                                                                      Prefix=prefix):
                yield from page.get(field, [])
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error

    def abort_upload(self, key: str, upload_id: str) -> bool:
        """Abort a multipart upload, trying once and briefly: it is called
        while a user waits, and reconcile clears what is left. True if done."""
        try:
            self.quick_client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                     UploadId=upload_id)
        except BOTO_ERRORS as error:
            log.warning("could not abort upload of %s: %s", key, error)
            return False
        return True

    def ping(self) -> bool:
        """True when the bucket takes a real write: a small object is stored,
        read back and deleted. (A store that answers HEAD can still hang every
        write, e.g. when it has no writable volume left.)"""
        key = f"healthz/{uuid.uuid4()}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read() == b"ok"
            finally:
                self.client.delete_object(Bucket=self.bucket, Key=key)
        except BOTO_ERRORS:
            return False


class MultipartWriter(io.RawIOBase):
    """Ciphertext sink: collects writes into parts of at least ``part_size`` bytes,
    uploaded by ``upload_ready_parts()`` with their SHA-256 for the store to
    check (SeaweedFS does not verify the signed payload hash by itself).

    Up to ``IN_FLIGHT`` parts upload in background threads while the next
    one fills, so reading the client and writing to S3 overlap; memory stays
    at about ``IN_FLIGHT + 1`` parts whatever the file size.
    Call ``complete()`` to finish or ``abort()`` to give up; until
    ``complete()`` returns, nothing is visible in the bucket.
    """

    def __init__(self, storage: Storage, key: str, part_size: int):
        super().__init__()
        self.storage, self.key, self.part_size = storage, key, part_size
        self.parts: list[dict] = []
        self.pending: list[bytes] = []  # ciphertext not yet handed to the uploader
        self.pending_size = 0
        self.size = 0
        self.aborted = False
        self.in_flight: deque[Future] = deque()
        try:
            self.upload_id = storage.client.create_multipart_upload(
                Bucket=storage.bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error
        self.uploader = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        # Only buffer here: this is called back from inside the encrypting
        # stream, which would wrap a storage error in its own exception.
        if not self.aborted:  # else a late flush from an abandoned stream
            self.pending.append(bytes(data))
            self.pending_size += len(data)
        return len(data)

    def upload_ready_parts(self) -> None:
        """Hand a full part to the uploader. Raises ``StorageError`` if an
        earlier part failed."""
        if self.pending_size >= self.part_size:
            # Parts need not be equal (only >= 5 MiB): send what is buffered
            # whole, so each byte is copied once here.
            part = b"".join(self.pending)
            self.pending, self.pending_size = [], 0
            self._submit(part)

    def close(self) -> None:
        # Tink closes its destination when the encrypting stream closes; the
        # upload is finished by complete(), not here.
        pass

    def _submit(self, data: bytes) -> None:
        if len(self.in_flight) >= IN_FLIGHT:
            self._wait(1)  # bounded memory
        number = len(self.parts) + len(self.in_flight) + 1
        self.size += len(data)
        self.in_flight.append(self.uploader.submit(self._upload_part, number, data))

    def _wait(self, count: int | None = None) -> None:
        for _ in range(len(self.in_flight) if count is None else count):
            self.parts.append(self.in_flight.popleft().result())

    def _upload_part(self, number: int, data: bytes) -> dict:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            response = self.storage.client.upload_part(
                Bucket=self.storage.bucket, Key=self.key, UploadId=self.upload_id,
                PartNumber=number, Body=data, ChecksumSHA256=checksum)
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def complete(self) -> int:
        """Upload what is buffered and finish; returns the stored size.

        Raises ``StorageError``; the outcome of a failed completion is unknown,
        so the caller must treat the object as possibly stored.
        """
        try:
            self.upload_ready_parts()
            if self.pending or not (self.parts or self.in_flight):
                self._submit(b"".join(self.pending))
                self.pending, self.pending_size = [], 0
            self._wait()
            self.storage.client.complete_multipart_upload(
                Bucket=self.storage.bucket, Key=self.key, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})
        except BOTO_ERRORS as error:
            raise StorageError(str(error)) from error
        finally:
            self.uploader.shutdown(wait=False)
        return self.size

    def abort(self) -> None:
        """Give up the upload (best effort; see ``Storage.abort_upload``)
        once the part in flight, if any, has finished or failed."""
        self.aborted = True
        self.pending, self.pending_size = [], 0
        for future in self.in_flight:
            try:
                future.result()
            except StorageError:
                pass
        self.uploader.shutdown(wait=False)
        self.storage.abort_upload(self.key, self.upload_id)


class ObjectReader(io.RawIOBase):
    """A stored object as a readable stream; store errors become ``StorageError``.

    The store is read a block at a time and ``read`` hands out slices of it:
    Tink asks for 128 KiB per call, and one round through botocore per MiB
    instead costs noticeably less CPU on a download.
    """

    BLOCK = 1 << 20

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.failure: StorageError | None = None  # kept: a caller may wrap what we raise
        self._block, self._offset = memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._offset >= len(self._block):
            try:
                self._block, self._offset = memoryview(self.body.read(self.BLOCK)), 0
            except BOTO_ERRORS + (OSError,) as error:
                self.failure = StorageError(str(error))
                raise self.failure from error
        piece = self._block[self._offset:self._offset + size].tobytes()
        self._offset += len(piece)
        return piece

    def close(self) -> None:
        self.body.close()
        super().close()


def create_bucket(endpoint_url: str, access_key: str, secret_key: str, bucket: str,
                  region: str = "us-east-1") -> None:
    """Create ``bucket`` (private) with an administrative identity, if
    missing, and check that it takes writes.

    Used only for the embedded development/test server; in production the
    bucket is created by the operator.
    """
    client = make_client(endpoint_url, access_key, secret_key, region)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
    # A restarted server answers before its volumes have registered: only a
    # write that succeeds shows it is ready.
    client.put_object(Bucket=bucket, Key="ready-check", Body=b"ready" * 1000)
    client.delete_object(Bucket=bucket, Key="ready-check")


def init_app(app: Flask) -> None:
    """Attach the storage to ``app.extensions['storage']``."""
    app.extensions["storage"] = Storage(app)
