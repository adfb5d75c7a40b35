"""Object storage: the only module that imports boto3.

Works with any S3-compatible endpoint (SeaweedFS here, AWS S3 or MinIO in
production): path-style addressing, SigV4, and explicit timeouts with bounded
retries so an outage fails in seconds rather than minutes.
"""
from __future__ import annotations

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask


class StorageError(Exception):
    """The object store could not be reached or refused the request."""


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
            s3={"addressing_style": "path"},
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

    def ping(self) -> bool:
        """True when the bucket answers a signed HEAD request."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError):
            return False
        return True


def create_bucket(endpoint_url: str, access_key: str, secret_key: str, bucket: str,
                  region: str = "us-east-1") -> None:
    """Create ``bucket`` (private) with an administrative identity, if missing.

    Used only for the embedded development/test server; in production the
    bucket is created by the operator.
    """
    client = make_client(endpoint_url, access_key, secret_key, region)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)


def init_app(app: Flask) -> None:
    """Attach the storage to ``app.extensions['storage']``."""
    app.extensions["storage"] = Storage(app)
