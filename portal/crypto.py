"""Encryption of stored files and message texts: the only module that touches keys.

Google Tink's streaming AEAD (AES256_GCM_HKDF_1MB) encrypts each file as it
streams; its AEAD (AES256_GCM) encrypts short texts such as message bodies.
Each data keyset lives in the database, encrypted under the master key from
configuration (``PORTAL_MASTER_KEY``, a Tink AEAD keyset in JSON), so neither
the object store nor a database dump alone can read a file or a text, and
``rotate`` gives both a new primary key. The associated data is the owner's
UUID (the stored object's, the message's): a ciphertext moved to another
row, truncated or altered fails to decrypt.
"""
from __future__ import annotations

import base64
import io
import threading
import uuid
from typing import BinaryIO

import tink
from flask import Flask, current_app, g
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tink import aead, cleartext_keyset_handle, secret_key_access, streaming_aead

from portal.extensions import db
from portal.models import EncryptionKeyset
from portal.models.types import utcnow

aead.register()
streaming_aead.register()

KEYSET_NAME = "files"
TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB
TEXT_KEYSET_NAME = "texts"
TEXT_TEMPLATE = aead.aead_key_templates.AES256_GCM
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


def text_associated_data(owner_uuid: uuid.UUID, purpose: str = "text") -> bytes:
    """What binds an encrypted text to its row (a message) and its use (a
    person's TOTP secret is ``purpose="totp"``, so it never opens as a text)."""
    return b"portal/" + purpose.encode() + b"/" + owner_uuid.bytes


class DataKeyset:
    """One data keyset in the database, sealed under the master key: created
    on first use, loaded again whenever a rotation raised its version."""

    def __init__(self, crypto: Crypto, name: str, template, primitive_class):
        self._crypto, self.name = crypto, name
        self._template, self._primitive_class = template, primitive_class
        self._aad = b"portal/keyset/" + name.encode()
        self._lock = threading.Lock()
        self._version: int | None = None
        self._primitive = None

    def _row(self) -> EncryptionKeyset:
        row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == self.name))
        if row is None:
            handle = tink.new_keyset_handle(self._template)
            db.session.add(EncryptionKeyset(name=self.name, encrypted_keyset=self.seal(handle)))
            try:
                db.session.commit()
            except IntegrityError:  # another worker created it first: use theirs
                db.session.rollback()
            return self._row()
        return row

    def seal(self, handle: tink.KeysetHandle) -> str:
        """``handle`` encrypted under the master key, for its database row."""
        return tink.json_proto_keyset_format.serialize_encrypted(handle, self._crypto._master,
                                                                 self._aad)

    def open(self, sealed: str) -> tink.KeysetHandle:
        """The keyset a row holds."""
        return tink.json_proto_keyset_format.parse_encrypted(sealed, self._crypto._master,
                                                             self._aad)

    def primitive(self):
        """The keyset's primitive, kept by the process. Its row's version is
        read once per application context (a request or a job), so a
        rotation by another process is seen by the next request, and a page
        decrypting two thousand messages reads the row once, not each time."""
        checked = g.setdefault("keysets_checked", set())
        with self._lock:
            if self._primitive is None or self.name not in checked:
                row = self._row()
                if self._version != row.version:
                    self._primitive = self.open(row.encrypted_keyset).primitive(
                        self._primitive_class)
                    self._version = row.version
                checked.add(self.name)
            return self._primitive

    def rotate(self) -> int:
        """Add a new key and make it primary; older keys stay for reading what
        they encrypted. Returns the new key's id (the caller commits)."""
        row = self._row()
        keyset = _keyset_proto(self.open(row.encrypted_keyset))
        fresh = _keyset_proto(tink.new_keyset_handle(self._template))
        new_key = fresh.key[0]
        if any(k.key_id == new_key.key_id for k in keyset.key):  # 1 in 2^32; try again
            return self.rotate()
        keyset.key.append(new_key)
        keyset.primary_key_id = new_key.key_id
        row.encrypted_keyset = self.seal(cleartext_keyset_handle.from_keyset(keyset))
        row.version += 1
        row.updated_at = utcnow()
        with self._lock:
            self._primitive = None  # this process uses the new key from its next call
        return new_key.key_id


class Crypto:
    """The master key and the data keysets: encrypting and decrypting streams
    for files, encryption of short texts."""

    def __init__(self, app: Flask):
        self._master_key = app.config.get("MASTER_KEY")
        self._master_primitive: aead.Aead | None = None
        self.files = DataKeyset(self, KEYSET_NAME, TEMPLATE, streaming_aead.StreamingAead)
        self.texts = DataKeyset(self, TEXT_KEYSET_NAME, TEXT_TEMPLATE, aead.Aead)

    @property
    def _master(self) -> aead.Aead:
        if self._master_primitive is None:
            if not self._master_key:
                raise RuntimeError("PORTAL_MASTER_KEY is not set")
            self._master_primitive = _master_aead(self._master_key)
        return self._master_primitive

    def encrypting_stream(self, destination: BinaryIO, version_uuid: uuid.UUID) -> BinaryIO:
        """A writable stream: plaintext in, ciphertext out to ``destination``.
        Closing it writes the final segment."""
        return self.files.primitive().new_encrypting_stream(destination,
                                                            associated_data(version_uuid))

    def decrypting_stream(self, source: BinaryIO, version_uuid: uuid.UUID) -> BinaryIO:
        """A readable stream of plaintext from ciphertext ``source``. Reading
        raises ``CryptoError`` when the ciphertext is altered, truncated or
        belongs to another version."""
        return self.files.primitive().new_decrypting_stream(source, associated_data(version_uuid))

    def encrypt_text(self, text: str, owner_uuid: uuid.UUID, purpose: str = "text") -> bytes:
        """``text`` encrypted for the row ``owner_uuid`` (a message's body)."""
        return self.texts.primitive().encrypt(text.encode("utf-8"),
                                              text_associated_data(owner_uuid, purpose))

    def decrypt_text(self, ciphertext: bytes, owner_uuid: uuid.UUID, purpose: str = "text") -> str:
        """The text ``encrypt_text`` made for ``owner_uuid`` and ``purpose``;
        raises ``CryptoError`` when it was altered or belongs to another row."""
        return self.texts.primitive().decrypt(
            ciphertext, text_associated_data(owner_uuid, purpose)).decode("utf-8")

    def rotate(self) -> dict[str, int]:
        """A new primary key for files and for texts, in one commit; older
        keys stay for reading. Returns the new key id of each keyset."""
        new_ids = {keyset.name: keyset.rotate() for keyset in (self.files, self.texts)}
        db.session.commit()
        return new_ids


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
