"""Signatures (portal/signing): the attorney sends a PDF of the case for
signing; only the person asked reads and signs it, again with their password
(and code), a consent and their typed name; the sealed copy is a new version
of the same document and checks out with the firm's certificate; a changed
document, a second signature or a declined request is refused; the firm sees
it all in its "Signatures" section, whose cost does not grow with the requests."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pypdfium2
import pytest
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy import func, select, update

from portal.auth import totp
from portal.extensions import db
from portal.models import (AuditEvent, CaseMembership, DocumentRequest, DocumentVersion,
                           OutboxMessage, RequestState, Role)
from portal.models.case import CaseRole
from portal.models.evidence import PreviewState
from portal.previews import services as previews
from portal.signing import seal, services
from tests.catalogs import CATALOGS, read_catalog
from tests.conftest import PASSWORD
from tests.sealing import seal_files
from tests.statements import statements_during
from tests.uploads import JPEG, documents_url, flashes, real_pdf, upload

CHANGED = "changed after it was sent for signing"
WRONG = "The password or code is not correct."
BY_HAND = ("Print the document, sign it by hand where it asks for your signature, and upload "
           "a photo or scan of every signed page.")


@pytest.fixture()
def people(make_user, make_case):
    attorney = make_user(Role.ATTORNEY, name="Alice Lawyer")
    client = make_user(Role.CLIENT, name="Carmen Ríos")
    sponsor = make_user(Role.SPONSOR, name="Sam Patron")
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor])
    return {"attorney": attorney, "client": client, "sponsor": sponsor, "case": case}


def signed_in(app, user):
    browser = app.test_client()
    assert browser.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def upload_letter(browser, case, name="engagement-letter.pdf", body=None) -> DocumentVersion:
    """The attorney uploads a file to the case's documents; returns its version."""
    body = body if body is not None else real_pdf(2, "Engagement letter")
    assert upload(browser, documents_url(case), [(name, [body])]).status_code in (302, 303)
    db.session.expire_all()
    return db.session.scalar(select(DocumentVersion).order_by(DocumentVersion.id.desc()))


def ask(browser, case, person, version, how="portal", **fields):
    return browser.submit(f"/cases/{case.uuid}/signatures", {
        "person": str(person.uuid), "document": str(version.uuid), "title": "Engagement letter",
        "how": how, **fields})


def newest_request() -> DocumentRequest | None:
    db.session.expire_all()
    return db.session.scalar(select(DocumentRequest).order_by(DocumentRequest.id.desc()))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def asked(app, people):
    """The engagement letter, sent by the attorney for the client to sign in the portal."""
    firm = signed_in(app, people["attorney"])
    version = upload_letter(firm, people["case"])
    assert ask(firm, people["case"], people["client"], version).status_code == 303
    return {"firm": firm, "version": version, "request": newest_request(),
            "signer": signed_in(app, people["client"]), **people}


def sign_url(case, req) -> str:
    return f"/cases/{case.uuid}/signatures/{req.uuid}"


def sign(browser, case, req, name, **changes):
    """Read the sign page, then sign with what it shows (``changes`` replace fields)."""
    page = browser.get(sign_url(case, req)).text
    shown = re.search(r'name="sha256" type="hidden" value="([0-9a-f]*)"', page).group(1)
    data = {"consent": "y", "typed_name": name, "password": PASSWORD, "sha256": shown, **changes}
    return browser.submit(sign_url(case, req), {k: v for k, v in data.items() if v is not None})


def signed_copy(browser, case, req) -> bytes:
    response = browser.get(f"/cases/{case.uuid}/versions/{req.signed_version.uuid}/download")
    assert response.status_code == 200
    return response.data


def page_texts(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def seal_check(pdf: bytes) -> seal.SealCheck:
    return seal.check_seal(pdf, [Path(seal_files()["SIGNING_CERT"]).read_bytes()])


def test_the_attorney_asks_the_client_to_sign_and_the_client_is_told(app, people, mailbox):
    case, client = people["case"], people["client"]
    firm = signed_in(app, people["attorney"])
    version = upload_letter(firm, case)
    before = [m["To"] for m in mailbox.messages]
    assert ask(firm, case, client, version).status_code == 303
    req = newest_request()
    assert req.kind == "signature" and req.addressee == client and req.sign_version == version
    assert req.sign_sha256 == version.sha256 and req.state is RequestState.REQUESTED
    assert [m["To"] for m in mailbox.messages][len(before):] == [client.email]
    newest = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert newest.recipient == client.email and newest.template == "request_new"
    page = signed_in(app, client).get(f"/cases/{case.uuid}").text
    needed = page.split("What we need from you", 1)[1]
    assert "Engagement letter" in needed and "Read and sign" in needed
    assert f'href="{sign_url(case, req)}"' in needed


def test_the_client_signs_and_gets_a_sealed_copy_with_a_signature_page(app, asked):
    case, req, client, version = asked["case"], asked["request"], asked["signer"], asked["version"]
    original = client.get(f"{sign_url(case, req)}/document").data
    assert hashlib.sha256(original).hexdigest() == version.sha256
    page = client.get(sign_url(case, req)).text
    assert "Engagement letter" in page and version.sha256 in page
    assert sign(client, case, req, "Carmen Ríos").status_code == 303
    req = newest_request()
    assert req.state is RequestState.ACCEPTED and req.decided_by == asked["client"]
    signed = signed_copy(client, case, req)
    copy = req.signed_version  # the next version of the same document
    assert copy.document_id == version.document_id and copy.id > version.id
    assert copy.content_type == "application/pdf" and copy.request_id == req.id
    texts = page_texts(signed)
    assert len(texts) == len(page_texts(original)) + 1 == 3
    assert signed.startswith(original)  # incremental: the original's bytes come first
    for expected in ("Carmen Ríos", version.sha256, str(req.uuid)):
        assert expected in texts[-1], expected
    assert seal_check(signed).ok
    middle = len(signed) // 2
    spoiled = signed[:middle] + bytes([signed[middle] ^ 0x01]) + signed[middle + 1:]
    assert not seal_check(spoiled).ok
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "signature.signed"))
    assert event.actor_id == asked["client"].id and event.target == str(req.uuid)
    assert event.details["original_sha256"] == version.sha256
    assert event.details["signed_version"] == str(req.signed_version.uuid)


def changed_original(req):
    """The original as if it had changed since it was sent: the hash kept differs."""
    db.session.execute(update(DocumentRequest).where(DocumentRequest.id == req.id)
                       .values(sign_sha256=hashlib.sha256(b"another file").hexdigest()))
    db.session.commit()
    return {}


# what is wrong: (the fields that differ from a right signature, status, words on the page)
REFUSALS = {
    "no consent": (lambda req: {"consent": None}, 400, "tick the box"),
    "another name": (lambda req: {"typed_name": "Carmen Rios Perez"}, 303, "exactly as it is"),
    "wrong password": (lambda req: {"password": "not-the-password"}, 400, WRONG),
    "page hash differs": (lambda req: {"sha256": "0" * 64}, 303, CHANGED),
    "original changed": (changed_original, 303, CHANGED),
}


@pytest.mark.parametrize("wrong", list(REFUSALS))
def test_a_signature_is_refused_and_nothing_signed_when(app, asked, wrong):
    case, req, client = asked["case"], asked["request"], asked["signer"]
    changes, status, words = REFUSALS[wrong]
    versions = count(DocumentVersion)
    response = sign(client, case, req, "Carmen Ríos", **changes(req))
    assert response.status_code == status
    text = client.get(sign_url(case, req)).text if status == 303 else response.text
    assert words in text
    assert newest_request().state is RequestState.REQUESTED
    assert req.signed_version is None and count(DocumentVersion) == versions


def test_the_service_itself_refuses_without_consent_or_the_account_name(app, asked):
    req = asked["request"]
    right = dict(typed_name="Carmen Ríos", consent=True, seen_sha256=req.sign_sha256,
                 password=PASSWORD, code="", session_token=None, address=None, user_agent="")
    for wrong, words in (({"consent": False}, "tick the box"),
                         ({"typed_name": "Carmen"}, "exactly as it is")):
        with pytest.raises(services.ServiceError, match=words):
            services.sign(req.addressee, asked["case"], req, **{**right, **wrong})
    assert newest_request().state is RequestState.REQUESTED


def test_an_original_altered_in_the_store_is_refused_and_recorded(app, asked):
    case, req, version = asked["case"], asked["request"], asked["version"]
    storage, key = app.extensions["storage"], version.stored_object.key
    body = storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
    middle = len(body) // 2
    storage.client.put_object(Bucket=storage.bucket, Key=key,
                              Body=body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1:])
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the answer a browser gets
    versions = count(DocumentVersion)
    response = sign(asked["signer"], case, req, "Carmen Ríos")
    assert newest_request().state is RequestState.REQUESTED and count(DocumentVersion) == versions
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert response.status_code != 500
    assert actions & {"signature.document_changed", "document.integrity_failed"}


def test_of_two_signatures_at_once_the_second_is_refused(app, asked):
    case, req = asked["case"], asked["request"]
    stale = newest_request()
    assert sign(asked["signer"], case, req, "Carmen Ríos").status_code == 303
    versions = count(DocumentVersion)
    # The other tab loaded the request before the first signature landed.
    set_committed_value(stale, "state", RequestState.REQUESTED)
    with pytest.raises(services.AlreadySigned):
        services.sign(stale.addressee, case, stale, typed_name="Carmen Ríos", consent=True,
                      seen_sha256=stale.sign_sha256, password=PASSWORD, code="",
                      session_token=None, address="127.0.0.1", user_agent="test")
    assert count(DocumentVersion) == versions
    assert newest_request().state is RequestState.ACCEPTED


def test_a_document_is_signed_once(app, asked):
    case, req, client = asked["case"], asked["request"], asked["signer"]
    assert sign(client, case, req, "Carmen Ríos").status_code == 303
    versions = count(DocumentVersion)
    response = client.submit(sign_url(case, req), {
        "consent": "y", "typed_name": "Carmen Ríos", "password": PASSWORD,
        "sha256": req.sign_sha256})
    assert response.status_code == 200 and "You signed this document" in response.text
    req = newest_request()
    with pytest.raises(services.AlreadySigned, match="already signed"):
        services.sign(req.addressee, case, req, typed_name="Carmen Ríos", consent=True,
                      seen_sha256=req.sign_sha256, password=PASSWORD, code="",
                      session_token=None, address="127.0.0.1", user_agent="test")
    assert count(DocumentVersion) == versions
    assert newest_request().state is RequestState.ACCEPTED


def test_only_the_person_asked_opens_and_signs_the_document(app, asked, make_user):
    case, req, version = asked["case"], asked["request"], asked["version"]
    app.config["PREVIEWS"] = "on"  # this test's app only: page images to be refused
    db.session.execute(update(DocumentVersion).where(DocumentVersion.id == version.id)
                       .values(preview_state=PreviewState.PENDING, preview_note=None))
    db.session.commit()
    previews.make_previews(version.id)
    urls = [sign_url(case, req), f"{sign_url(case, req)}/document",
            f"{sign_url(case, req)}/pages/1.png"]
    assert [asked["signer"].get(u).status_code for u in urls] == [200, 200, 200]
    relative = make_user(Role.CLIENT, name="Luis Ríos")
    case.memberships.append(CaseMembership(user=relative, role=CaseRole.CLIENT))
    db.session.commit()
    for person in (asked["sponsor"], make_user(Role.CLIENT), relative):
        browser = signed_in(app, person)
        assert [browser.get(u).status_code for u in urls] == [404, 404, 404], person.name
    # Nor do the attorney or a relative sign in the client's name.
    for person, name in ((asked["firm"], "Alice Lawyer"), (signed_in(app, relative), "Luis Ríos")):
        assert person.get(sign_url(case, req)).status_code == 404
        assert person.submit(sign_url(case, req), {
            "consent": "y", "typed_name": name, "password": PASSWORD,
            "sha256": req.sign_sha256}).status_code == 404
    assert newest_request().state is RequestState.REQUESTED
    # The firm follows it in its Signatures section, with the signed copy once signed.
    sign(asked["signer"], case, req, "Carmen Ríos")
    section = asked["firm"].get(f"/cases/{case.uuid}").text.split('id="signatures-heading"')[1]
    signed = newest_request().signed_version
    assert "Engagement letter" in section and "Signed copy" in section
    assert f"/cases/{case.uuid}/versions/{signed.uuid}/download" in section


def test_a_relative_is_not_offered_to_sign_for_the_client(app, asked, make_user):
    case, req = asked["case"], asked["request"]
    relative = make_user(Role.CLIENT, name="Luis Ríos")
    case.memberships.append(CaseMembership(user=relative, role=CaseRole.CLIENT))
    db.session.commit()
    page = signed_in(app, relative).get(f"/cases/{case.uuid}").text
    assert sign_url(case, req) not in page and "Read and sign" not in page


def test_a_second_person_signs_the_original_never_the_sealed_copy(app, asked):
    case, firm, original = asked["case"], asked["firm"], asked["version"]
    assert sign(asked["signer"], case, asked["request"], "Carmen Ríos").status_code == 303
    copy = newest_request().signed_version
    offered = firm.get(f"/cases/{case.uuid}").text.split('id="signatures-heading"')[1]
    assert f'value="{original.uuid}"' in offered and f'value="{copy.uuid}"' not in offered
    # The sealed copy is refused when asked for (a seal cannot be sealed again).
    ask(firm, case, asked["sponsor"], copy)
    with pytest.raises(services.ServiceError, match="signed copy"):
        services.ask(asked["attorney"], case, asked["sponsor"], copy, "Letter", None)
    assert count(DocumentRequest) == 1
    assert ask(firm, case, asked["sponsor"], original).status_code == 303
    response = sign(signed_in(app, asked["sponsor"]), case, newest_request(), "Sam Patron")
    assert response.status_code == 303 and newest_request().state is RequestState.ACCEPTED

def test_a_person_with_an_authenticator_app_gives_a_code_too(app, asked):
    case, req, client = asked["case"], asked["request"], asked["signer"]
    user = req.addressee
    secret = pyotp.random_base32()
    user.totp_secret_sealed = totp.seal(user, secret)
    db.session.commit()
    response = sign(client, case, req, "Carmen Ríos")
    assert response.status_code == 400 and WRONG in response.text
    assert newest_request().state is RequestState.REQUESTED
    response = sign(client, case, req, "Carmen Ríos", code=pyotp.TOTP(secret).at(time.time()))
    assert response.status_code == 303
    assert newest_request().state is RequestState.ACCEPTED


def test_the_client_declines_with_a_reason_and_the_attorney_may_ask_again(app, asked):
    case, req, client, firm = asked["case"], asked["request"], asked["signer"], asked["firm"]
    decline = f"{sign_url(case, req)}/decline"
    assert client.submit(decline, {"reason": "  "}).status_code == 303
    with pytest.raises(services.ServiceError, match="say why"):
        services.decline(req.addressee, case, req, "  ")
    assert newest_request().state is RequestState.REQUESTED
    reason = "The fee in section 3 is not what we agreed."
    assert client.submit(decline, {"reason": reason}).status_code == 303
    req = newest_request()
    assert req.state is RequestState.DECLINED and req.rejection_reason == reason
    assert f"Declined: {reason}" in firm.get(f"/cases/{case.uuid}").text
    versions = count(DocumentVersion)
    page = client.submit(sign_url(case, req), {"consent": "y", "typed_name": "Carmen Ríos",
                                               "password": PASSWORD, "sha256": req.sign_sha256})
    assert f"You declined to sign this document: {reason}" in page.text
    assert newest_request().state is RequestState.DECLINED and count(DocumentVersion) == versions
    decide = f"/cases/{case.uuid}/requests/{req.uuid}/decision"
    assert firm.submit(decide, {"decision": "reopen"}).status_code == 303
    assert newest_request().state is RequestState.REQUESTED
    # A signature is the person's act: the firm does not accept one, even mid-signature.
    for state in (RequestState.REQUESTED, RequestState.SUBMITTED):
        db.session.execute(update(DocumentRequest).where(DocumentRequest.id == req.id)
                           .values(state=state))
        db.session.commit()
        firm.submit(decide, {"decision": "accept"})
        assert newest_request().state is state


def test_a_form_to_sign_by_hand_is_an_upload_request_in_the_persons_language(app, people,
                                                                              make_user):
    spanish = make_user(Role.CLIENT, name="Rosa Morales", language="es")
    case = people["case"]
    case.memberships.append(CaseMembership(user=spanish, role=CaseRole.CLIENT))
    db.session.commit()
    firm = signed_in(app, people["attorney"])
    version = upload_letter(firm, case, "i-134.pdf")
    assert ask(firm, case, spanish, version, how="by_hand").status_code == 303
    req = newest_request()
    assert req.kind == "document" and req.sign_version == version and req.addressee == spanish
    catalog = read_catalog(CATALOGS / "es" / "LC_MESSAGES" / "messages.po")
    spanish_words = catalog.get(BY_HAND).string if catalog.get(BY_HAND) else ""
    if spanish_words:  # translated: the client reads it in Spanish
        assert req.instructions == spanish_words != BY_HAND
    else:  # not yet: the English sentence stands in
        assert req.instructions == BY_HAND


def test_only_a_pdf_with_a_due_date_ahead_is_sent_and_only_by_the_firm(app, people):
    case, client = people["case"], people["client"]
    firm = signed_in(app, people["attorney"])
    photo = upload_letter(firm, case, "photo.jpg", JPEG + bytes(range(256)) * 16)
    assert photo.content_type == "image/jpeg"
    assert ask(firm, case, client, photo).status_code == 200  # shown again: not a choice
    with pytest.raises(services.ServiceError, match="Only a PDF"):
        services.ask(people["attorney"], case, client, photo, "Photo", None)
    letter = upload_letter(firm, case)
    yesterday = date.today() - timedelta(days=1)
    response = ask(firm, case, client, letter, due_on=yesterday.isoformat())
    assert response.status_code == 303
    assert any("in the past" in f for f in flashes(firm.get(f"/cases/{case.uuid}").text))
    assert signed_in(app, client).submit(f"/cases/{case.uuid}/signatures", {
        "person": str(client.uuid), "document": str(letter.uuid), "how": "portal"}
    ).status_code == 403
    assert count(DocumentRequest) == 0


@pytest.mark.parametrize("reader", ["attorney", "client"])
def test_the_case_page_costs_the_same_with_3_or_15_signature_requests(app, people, reader):
    case, client, attorney = people["case"], people["client"], people["attorney"]
    firm = signed_in(app, attorney)
    version = upload_letter(firm, case)
    browser = firm if reader == "attorney" else signed_in(app, client)

    def add(how_many: int) -> None:
        for n in range(how_many):
            # Each three: one for the sponsor, one for the client, one to sign by hand.
            services.ask(attorney, case, client if n % 3 else people["sponsor"], version,
                         f"Letter {n}", None, by_hand=n % 3 == 2)

    def page() -> None:
        assert browser.get(f"/cases/{case.uuid}").status_code == 200

    add(3)
    page()
    few = statements_during(page)
    add(12)
    assert count(DocumentRequest) == 15
    page()
    assert statements_during(page) == few

