"""Passkeys (WebAuthn, by Duo Labs' ``webauthn`` library): registering one,
and checking one at sign-in or when a person confirms it's them.

The relying party is the portal's own address (``PORTAL_BASE_URL``): a
passkey made here answers only to this origin, so a look-alike site gets
nothing from it. User verification (fingerprint, face, screen lock) is
required, sign counts must go up, and each challenge is used once: the
routes keep it in the person's session and drop it at the first answer.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import webauthn
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from webauthn.helpers import exceptions as webauthn_errors
from webauthn.helpers import options_to_json
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria,
                                      PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from portal import audit
from portal.auth import factors, passwords
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Passkey, User
from portal.models.types import utcnow

NAME_MAX = 100
REFUSED = _l("The passkey was not accepted. Try again, or use a code instead.")


def relying_party() -> tuple[str, str]:
    """The relying party id (the host name) and the origin of the portal."""
    base = urlsplit(current_app.config["BASE_URL"])
    return base.hostname, f"{base.scheme}://{base.netloc}"


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=p.credential_id) for p in db.session.scalars(
        select(Passkey).where(Passkey.user_id == user.id))]


def registration_options(user: User) -> tuple[str, bytes]:
    """The options for the browser to make a passkey for ``user`` (JSON),
    and their challenge, for the caller to keep until the answer."""
    rp_id, _origin = relying_party()
    options = webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=current_app.config["FIRM_NAME"], user_id=user.uuid.bytes,
        user_name=user.email, user_display_name=user.name,
        exclude_credentials=_descriptors(user),  # the same authenticator twice helps nobody
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED))
    return options_to_json(options), options.challenge


def add(user: User, token: str | None, credential: dict, challenge: bytes,
        name: str) -> list[str] | None:
    """Keep the passkey the browser made for ``challenge``. Returns new
    recovery codes when it is the person's first factor. Raises
    ``ServiceError`` when the answer does not check out."""
    name = (name or "").strip()[:NAME_MAX] or str(_l("Passkey"))
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, require_user_verification=True)
    except (webauthn_errors.WebAuthnException, ValueError, KeyError, TypeError) as error:
        audit.record("auth.passkey_refused", actor=user, reason=type(error).__name__)
        db.session.commit()
        raise ServiceError(REFUSED) from error
    if db.session.scalar(select(Passkey.id).where(
            Passkey.credential_id == verified.credential_id)) is not None:
        raise ServiceError(_l("This passkey is already registered."))
    passkey = Passkey(user_id=user.id, credential_id=verified.credential_id,
                      public_key=verified.credential_public_key,
                      sign_count=verified.sign_count, name=name)
    db.session.add(passkey)
    db.session.flush()
    audit.record("auth.second_factor_added", actor=user, method="passkey", target=name)
    codes = factors.after_change(user, token)
    db.session.commit()
    return codes


def authentication_options(user: User) -> tuple[str, bytes]:
    """The options for the browser to answer with one of ``user``'s
    passkeys (JSON), and their challenge."""
    rp_id, _origin = relying_party()
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.REQUIRED)
    return options_to_json(options), options.challenge


def check(user: User, credential: dict, challenge: bytes) -> Passkey:
    """The passkey of ``user`` that signed ``challenge`` in ``credential``;
    its sign count and last use are updated (the caller commits). Raises
    ``ServiceError`` for another person's passkey, another origin, a wrong
    challenge, a missing user verification or a sign count that went back."""
    rp_id, origin = relying_party()
    try:
        raw_id = webauthn.base64url_to_bytes(credential["rawId"])
        passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id,
                                                          Passkey.user_id == user.id))
        if passkey is None:
            raise ValueError("not a passkey of this account")
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count, require_user_verification=True)
    except (webauthn_errors.WebAuthnException, ValueError, KeyError, TypeError) as error:
        audit.record("auth.second_factor_failed", actor=user, method="passkey",
                     reason=str(error)[:200])
        db.session.commit()
        raise ServiceError(REFUSED) from error
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return passkey


def confirm(user: User, token: str | None, password: str, credential: dict,
            challenge: bytes) -> None:
    """Mark session ``token`` as confirmed by the password and a passkey.
    Raises ``ServiceError`` when either is wrong."""
    if not passwords.verify_password(user.password_hash, password):
        audit.record("auth.reauthentication_failed", actor=user, reason="password")
        db.session.commit()
        raise factors.WrongCredentials(_l("The password or passkey is not correct."))
    check(user, credential, challenge)
    factors.record_use(user, "passkey")
    factors.mark_confirmed(user, token)


def remove(user: User, token: str | None, passkey: Passkey) -> None:
    """Remove one of ``user``'s passkeys (the caller checked they confirmed
    it's them). Refused when it is the last factor of someone who must have one."""
    others = db.session.scalar(select(db.func.count()).select_from(Passkey).where(
        Passkey.user_id == user.id, Passkey.id != passkey.id))
    factors.refuse_last_factor(user, passkeys_left=others)
    db.session.delete(passkey)
    audit.record("auth.second_factor_removed", actor=user, method="passkey", target=passkey.name)
    factors.after_change(user, token)
    db.session.commit()


def parse(body: bytes) -> dict:
    """The JSON a page posted, or a ``ServiceError``."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ServiceError(REFUSED) from error
    if not isinstance(data, dict) or not isinstance(data.get("credential"), dict):
        raise ServiceError(REFUSED)
    return data
