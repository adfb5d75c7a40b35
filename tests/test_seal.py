"""The signature page and the firm's seal (portal/signing/seal.py): the page
says what it must in Latin and Cyrillic, the seal checks out with the firm's
certificate only, and any change to the sealed file shows. No app, no database:
pypdfium2 reads the results as a PDF reader would (it is allowed here, in tests,
and kept out of the web process)."""
from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime, timezone
from io import BytesIO

import font_roboto
import pypdfium2
import pytest
from fpdf import FPDF
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from portal.signing.seal import (ENGLISH_LABELS, SealCheck, SignatureDetails, UnsignablePdf,
                                 check_seal, load_seal_key, make_self_signed, seal,
                                 seal_key_problem, signature_page_pdf, with_signature_page)

NAME = "Анна Сергеевна Петрова"
REQUEST_ID = "6f1c2a3e-7b9d-4e21-8a34-0c5d6e7f8091"
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0 " * 4)
NOTHING = SealCheck(False, False, False, False, "")


def _original(encrypt: bool = False) -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_font("Roboto", "", font_roboto.Roboto)
    pdf.set_font("Roboto", size=12)
    for word in ("Declaración jurada", "Заявление"):
        pdf.add_page()
        pdf.cell(0, 10, word)
    if encrypt:
        pdf.set_encryption(owner_password="owner")
    return bytes(pdf.output())


def _details(original: bytes, **changes) -> SignatureDetails:
    values = dict(signer_name=NAME, signed_at=datetime(2026, 12, 5, 14, 3, 12, tzinfo=timezone.utc),
                  ip_address="2001:db8::7", user_agent=USER_AGENT,
                  original_sha256=hashlib.sha256(original).hexdigest(), request_id=REQUEST_ID,
                  document_title="Formulario I-130 / Заявление",
                  consent_text="Я согласна подписать этот документ электронной подписью.",
                  labels=dict(ENGLISH_LABELS))
    return SignatureDetails(**{**values, **changes})


def _texts(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


@pytest.fixture
def firm(tmp_path):
    cert, key = tmp_path / "seal" / "cert.pem", tmp_path / "seal" / "key.pem"
    make_self_signed(cert, key, "Bufete Ejemplo LLP")
    return cert, key


@pytest.fixture
def original() -> bytes:
    return _original()


@pytest.fixture
def signed(firm, original) -> bytes:
    return seal(with_signature_page(original, _details(original)), load_seal_key(*firm),
                reason="Signed electronically through the client portal")


def test_the_signed_copy_is_the_original_and_the_signature_page(firm, original, signed):
    texts = _texts(signed)
    assert len(texts) == len(_texts(original)) + 1
    assert texts[:2] == _texts(original)
    # Incremental updates: the original's bytes are the signed file's first bytes.
    assert signed.startswith(original)
    page = texts[-1]
    for expected in (NAME, REQUEST_ID, hashlib.sha256(original).hexdigest(),
                     "2026-12-05 14:03:12 UTC", "2001:db8::7", "Заявление",
                     "Я согласна подписать", "digital seal"):
        assert expected in page
    document = pypdfium2.PdfDocument(signed)
    try:  # it draws: some pixels of the last page are dark
        image = document[len(document) - 1].render(scale=0.5).to_pil().convert("L")
        assert image.getextrema()[0] < 100
    finally:
        document.close()
    check = check_seal(signed, [firm[0].read_bytes()])
    assert check.ok
    assert check.signer == "Bufete Ejemplo LLP"


def test_long_values_wrap_inside_the_page(original):
    long_hash = "f" * 200  # one "word" far wider than the page
    page = signature_page_pdf(_details(original, original_sha256=long_hash))
    document = pypdfium2.PdfDocument(page)
    try:
        assert len(document) == 1
        width, _height = document[0].get_size()
        text = document[0].get_textpage()
        right_edges = [text.get_charbox(i)[2] for i in range(text.count_chars())]
        assert max(right_edges) < width - 50  # within the right margin (20 mm = 57 pt)
        assert "".join(text.get_text_range().split()).count("f" * 200) == 1
    finally:
        document.close()


def test_a_changed_byte_breaks_the_seal(firm, original, signed):
    # Inside the original's first content stream: covered by the signature,
    # far from its /Contents.
    at = signed.index(b"stream") + 20
    assert at < len(original)
    changed = bytearray(signed)
    changed[at] ^= 0x01
    check = check_seal(bytes(changed), [firm[0].read_bytes()])
    assert not check.intact
    assert not check.ok


def test_anything_added_after_the_seal_shows(firm, signed):
    roots = [firm[0].read_bytes()]
    appended = check_seal(signed + b"\n% appended\n", roots)
    assert appended.intact and appended.trusted
    assert not appended.covers_whole_file
    assert not appended.ok
    # A well-formed incremental update, as an editor would save one.
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    writer.root["/Lang"] = generic.TextStringObject("es")
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    assert not check_seal(out.getvalue(), roots).ok


def test_another_certificate_does_not_vouch_for_the_seal(tmp_path, signed):
    make_self_signed(tmp_path / "other.pem", tmp_path / "other.key", "Bufete Ejemplo LLP")
    check = check_seal(signed, [(tmp_path / "other.pem").read_bytes()])
    assert check.intact and check.valid
    assert not check.trusted
    assert not check.ok


def test_what_cannot_be_signed(firm, original, signed):
    key = load_seal_key(*firm)
    for content in (b"not a pdf", b"%PDF-1.7\ngarbage", original[: len(original) // 2],
                    _original(encrypt=True), signed):
        with pytest.raises(UnsignablePdf, match="not a PDF we can sign"):
            with_signature_page(content, _details(content))
        with pytest.raises(ValueError, match="not a PDF we can sign"):
            seal(content, key, reason="test")
    with pytest.raises(ValueError, match="SHA-256"):
        with_signature_page(original, _details(b"another file"))
    with pytest.raises(ValueError, match="aware"):
        _details(original, signed_at=datetime(2026, 12, 5, 14, 3, 12))


def test_what_is_not_sealed_checks_as_nothing(firm, original):
    roots = [firm[0].read_bytes()]
    for content in (b"", b"garbage", b"%PDF-1.7\ngarbage", original):
        assert check_seal(content, roots) == NOTHING
        assert not check_seal(content, roots).ok


def test_seal_key_problem(tmp_path, firm):
    cert, key = firm
    assert seal_key_problem(str(cert), str(key)) is None
    missing = seal_key_problem(str(tmp_path / "absent.pem"), str(key))
    assert "PORTAL_SIGNING_CERT" in missing and "absent.pem" in missing
    make_self_signed(tmp_path / "other.pem", tmp_path / "other.key", "Someone else")
    mismatched = seal_key_problem(str(cert), str(tmp_path / "other.key"))
    assert "PORTAL_SIGNING_KEY" in mismatched and "not the one certified" in mismatched
    assert "PORTAL_SIGNING_CERT" in seal_key_problem(str(key), str(key))  # a key, not a cert
    assert "not set" in seal_key_problem("", str(key))
    assert "PORTAL_SIGNING_KEY not set" in seal_key_problem(str(cert), None)
    with pytest.raises(ValueError, match="not the one certified"):
        load_seal_key(cert, tmp_path / "other.key")


def test_the_key_file_is_private(firm):
    cert, key = firm
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"BEGIN CERTIFICATE" in cert.read_bytes()
    # Written again over a file someone widened: narrowed back.
    os.chmod(key, 0o644)
    make_self_signed(cert, key, "Bufete Ejemplo LLP")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
