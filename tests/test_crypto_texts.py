"""Short texts (message bodies) encrypted with the texts keyset: bound to
their row, unreadable when altered, readable after a key rotation."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from portal.crypto import Crypto, CryptoError
from portal.extensions import db
from portal.models import EncryptionKeyset

SECRET = "Rosa's cardiologist wrote: surgery within 6 weeks."


def test_a_text_opens_only_for_its_own_row_and_unaltered(app):
    crypto = app.extensions["crypto"]
    mine, other = uuid.uuid4(), uuid.uuid4()
    sealed = crypto.encrypt_text(SECRET, mine)
    assert SECRET.encode() not in sealed and b"cardiologist" not in sealed
    assert crypto.decrypt_text(sealed, mine) == SECRET
    with pytest.raises(CryptoError):
        crypto.decrypt_text(sealed, other)  # moved to another row
    altered = bytearray(sealed)
    altered[-1] ^= 1
    with pytest.raises(CryptoError):
        crypto.decrypt_text(bytes(altered), mine)


def test_rotation_gives_texts_a_new_key_and_old_texts_stay_readable(app, runner):
    crypto = app.extensions["crypto"]
    owner = uuid.uuid4()
    before = crypto.encrypt_text(SECRET, owner)
    result = runner.invoke(args=["rotate-key"])
    assert result.exit_code == 0 and "for texts" in result.output
    after = crypto.encrypt_text(SECRET, owner)
    assert crypto.decrypt_text(before, owner) == crypto.decrypt_text(after, owner) == SECRET
    row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == "texts"))
    info = crypto.texts.open(row.encrypted_keyset).keyset_info()
    assert row.version == 2 and len(info.key_info) == 2
    new_key = int(result.output.split(" and ")[1].split(" for texts")[0])
    assert info.primary_key_id == new_key
    # Tink prefixes each ciphertext with the id of the key that made it.
    assert int.from_bytes(after[1:5], "big") == new_key != int.from_bytes(before[1:5], "big")


def test_the_keysets_are_stored_sealed_under_the_master_key(app):
    crypto = app.extensions["crypto"]
    crypto.encrypt_text(SECRET, uuid.uuid4())
    row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == "texts"))
    assert "encryptedKeyset" in row.encrypted_keyset and "keyData" not in row.encrypted_keyset
    with pytest.raises(CryptoError):  # sealed for the texts keyset, not the files one
        crypto.files.open(row.encrypted_keyset)


def test_a_rotation_by_another_process_is_used_from_the_next_request_on(app):
    """The keyset is kept by the process and its version read once per
    request: another worker's rotation shows from the next request."""
    crypto, owner = app.extensions["crypto"], uuid.uuid4()
    with app.app_context():
        before = crypto.encrypt_text(SECRET, owner)
    with app.app_context():
        Crypto(app).rotate()  # as another worker would, with its own keyset copy
    with app.app_context():
        after = crypto.encrypt_text(SECRET, owner)
        assert crypto.decrypt_text(before, owner) == SECRET
    row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == "texts"))
    primary = crypto.texts.open(row.encrypted_keyset).keyset_info().primary_key_id
    assert int.from_bytes(after[1:5], "big") == primary != int.from_bytes(before[1:5], "big")
