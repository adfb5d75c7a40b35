"""Encryption of stored files: the only module that touches keys.

Google Tink's streaming AEAD (AES256_GCM_HKDF_1MB) encrypts each file as it
streams. The data keyset lives in the database, encrypted under the master key
from configuration (``PORTAL_MASTER_KEY``, a Tink AEAD keyset in JSON), so
neither the object store nor a database dump alone can read a file. The
associated data is the version's UUID: an object moved to another version's
key, truncated or altered fails to decrypt.
"""
from __future__ import annotations

import base64
import io
import threading
import uuid
from typing import BinaryIO

import tink
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tink import aead, cleartext_keyset_handle, secret_key_access, streaming_aead

from portal.extensions import db
from portal.models import EncryptionKeyset
from portal.models.types import utcnow

aead.register()
streaming_aead.register()

KEYSET_NAME = "files"
KEYSET_AAD = b"portal/keyset/files"
TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB
CryptoError = tink.TinkError


def generate_master_key() -> str:
    """A new master key: a Tink AES-256-GCM keyset, base64 of its JSON."""
    handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
    text = tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
    return base64.b64encode(text.encode()).decode()


def master_key_problem(master_key: str | None) -> str | None:
    """Why ``master_key`` cannot be used, or None when it is a usable key.
    Checked at start-up so a malformed key fails there, not at the first upload."""
    if not master_key:
        return None  # reported with the other missing settings
    try:
        _master_aead(master_key)
    except (ValueError, tink.TinkError):
        return "PORTAL_MASTER_KEY is not a key made by 'flask generate-master-key'"
    return None


def _master_aead(master_key: str) -> aead.Aead:
    text = base64.b64decode(master_key).decode()
    handle = tink.json_proto_keyset_format.parse(text, secret_key_access.TOKEN)
    return handle.primitive(aead.Aead)


def associated_data(version_uuid: uuid.UUID) -> bytes:
    """What binds a ciphertext to its document version."""
    return b"portal/version/" + version_uuid.bytes


class Crypto:
    """Loads the data keyset from the database (creating it on first use) and
    hands out encrypting and decrypting streams."""

    def __init__(self, app: Flask):
        self._master_key = app.config.get("MASTER_KEY")
        self._master_primitive: aead.Aead | None = None
        self._lock = threading.Lock()
        self._version: int | None = None
        self._primitive: streaming_aead.StreamingAead | None = None

    @property
    def _master(self) -> aead.Aead:
        if self._master_primitive is None:
            if not self._master_key:
                raise RuntimeError("PORTAL_MASTER_KEY is not set")
            self._master_primitive = _master_aead(self._master_key)
        return self._master_primitive

    def _row(self) -> EncryptionKeyset:
        row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == KEYSET_NAME))
        if row is None:
            handle = tink.new_keyset_handle(TEMPLATE)
            db.session.add(EncryptionKeyset(name=KEYSET_NAME, encrypted_keyset=self._seal(handle)))
            try:
                db.session.commit()
            except IntegrityError:  # another worker created it first: use theirs
                db.session.rollback()
            return self._row()
        return row

    def _seal(self, handle: tink.KeysetHandle) -> str:
        return tink.json_proto_keyset_format.serialize_encrypted(handle, self._master, KEYSET_AAD)

    def _open(self, sealed: str) -> tink.KeysetHandle:
        return tink.json_proto_keyset_format.parse_encrypted(sealed, self._master, KEYSET_AAD)

    def primitive(self) -> streaming_aead.StreamingAead:
        """The streaming AEAD of the current keyset (reloaded after a rotation)."""
        row = self._row()
        with self._lock:
            if self._version != row.version:
                self._primitive = self._open(row.encrypted_keyset).primitive(
                    streaming_aead.StreamingAead)
                self._version = row.version
            return self._primitive

    def encrypting_stream(self, destination: BinaryIO, version_uuid: uuid.UUID) -> BinaryIO:
        """A writable stream: plaintext in, ciphertext out to ``destination``.
        Closing it writes the final segment."""
        return self.primitive().new_encrypting_stream(destination, associated_data(version_uuid))

    def decrypting_stream(self, source: BinaryIO, version_uuid: uuid.UUID) -> BinaryIO:
        """A readable stream of plaintext from ciphertext ``source``. Reading
        raises ``CryptoError`` when the ciphertext is altered, truncated or
        belongs to another version."""
        return self.primitive().new_decrypting_stream(source, associated_data(version_uuid))

    def rotate(self) -> int:
        """Add a new data key and make it primary; older keys stay for reading
        old files. Returns the new key's id."""
        row = self._row()
        keyset = _keyset_proto(self._open(row.encrypted_keyset))
        fresh = _keyset_proto(tink.new_keyset_handle(TEMPLATE))
        new_key = fresh.key[0]
        if any(k.key_id == new_key.key_id for k in keyset.key):  # 1 in 2^32; try again
            return self.rotate()
        keyset.key.append(new_key)
        keyset.primary_key_id = new_key.key_id
        row.encrypted_keyset = self._seal(cleartext_keyset_handle.from_keyset(keyset))
        row.version += 1
        row.updated_at = utcnow()
        db.session.commit()
        return new_key.key_id


def seal(data: bytes, associated: bytes) -> bytes:
    """Encrypt a small secret (an email's context) under the master key, bound
    to ``associated`` (e.g. the row's UUID): it opens only with the same value."""
    return current_app.extensions["crypto"]._master.encrypt(data, associated)


def unseal(sealed: bytes, associated: bytes) -> bytes:
    """Decrypt what ``seal`` made; raises ``CryptoError`` when it was altered
    or sealed for another ``associated`` value."""
    return current_app.extensions["crypto"]._master.decrypt(sealed, associated)


def _keyset_proto(handle: tink.KeysetHandle):
    """The cleartext keyset proto of ``handle`` (key management needs it)."""
    stream = io.BytesIO()
    cleartext_keyset_handle.write(tink.BinaryKeysetWriter(stream), handle)
    return cleartext_keyset_handle.tink_pb2.Keyset.FromString(stream.getvalue())


def init_app(app: Flask) -> None:
    """Attach the crypto service to ``app.extensions['crypto']``."""
    app.extensions["crypto"] = Crypto(app)
