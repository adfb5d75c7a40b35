"""The firm's seal on an electronically signed PDF.

``with_signature_page`` appends a page saying who signed, when, from where and
what they agreed to; ``seal`` then certifies the file with the firm's key
(PAdES, SHA-256, no change permitted) and ``check_seal`` tells whether a file
still is what the firm sealed. All of it is pure Python (pyHanko): it runs in
the web process, where pdfium, kept to a sandbox, may not read uploads. Both
steps are incremental updates, so a signed file begins with the original's
exact bytes and anyone can check ``original_sha256`` on that prefix.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import font_roboto
from asn1crypto import keys as asn1_keys, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

ENGLISH_LABELS = {
    "heading": "Electronic signature", "signer": "Signed by", "signed_at": "Signed at",
    "address": "IP address", "browser": "Browser",
    "sha256": "SHA-256 of the document as presented", "request": "Signing request",
    "document": "Document", "consent": "Statement agreed to",
    "footer": "This page was added by the firm's portal when the document was signed "
              "electronically. The firm's digital seal on this file shows whether anything "
              "changed after signing.",
}
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# What pyHanko raises on a malformed or hostile PDF: its own errors, and the
# Python ones its parser lets through on odd structures.
_BAD_PDF = (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError)
Pathish = str | os.PathLike[str]


class UnsignablePdf(ValueError):
    """Not a PDF this module can extend and seal: unreadable, encrypted, or
    already signed (a certification must be a file's first signature)."""

    def __init__(self) -> None:
        super().__init__("not a PDF we can sign")


@dataclass(frozen=True)
class SignatureDetails:
    """What the signature page records; ``labels`` come translated by the caller."""

    signer_name: str
    signed_at: datetime
    ip_address: str
    user_agent: str
    original_sha256: str
    request_id: str
    document_title: str
    consent_text: str
    labels: dict[str, str]

    def __post_init__(self) -> None:
        # A naive time or a missing label would put a wrong record on a legal document.
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at must be timezone-aware")
        if missing := ENGLISH_LABELS.keys() - self.labels.keys():
            raise ValueError(f"labels missing: {', '.join(sorted(missing))}")


@dataclass(frozen=True)
class SealKey:
    """The firm's certificate and key, loaded and known to belong together."""

    signer: signers.SimpleSigner
    common_name: str
    certificate_pem: bytes  # the seal's own: the trust root when self-signed


@dataclass(frozen=True)
class SealCheck:
    """What ``check_seal`` found about a file's last signature."""

    intact: bool  # the signed bytes still hash to what was signed
    valid: bool  # the signature over that hash verifies with its certificate
    trusted: bool  # that certificate chains to one of the given roots
    covers_whole_file: bool  # no byte was added after the signature
    signer: str  # the certificate's subject common name

    @property
    def ok(self) -> bool:
        """True only when the file is exactly what a trusted seal covered."""
        return self.intact and self.valid and self.trusted and self.covers_whole_file


_NOT_SEALED = SealCheck(False, False, False, False, "")


# --- the signature page ---------------------------------------------------------

class _Page(FPDF):
    """A4 in Roboto (Latin and Cyrillic); characters it lacks print as U+FFFD."""

    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font("Roboto", "", font_roboto.Roboto)
        self.add_font("Roboto", "B", font_roboto.RobotoBold)
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(True, margin=20)
        self.covered = self.fonts["roboto"].cmap

    def paragraph(self, text: str, size: float, bold: bool = False, color: int = 0) -> None:
        self.set_font("Roboto", "B" if bold else "", size)
        self.set_text_color(color)
        # Control characters could fake line breaks; a dropped glyph would hide a letter.
        shown = "".join(ch if ord(ch) in self.covered or ch == "\n" else "\ufffd"
                        for ch in _CONTROL.sub(" ", text))
        # multi_cell wraps at spaces, and inside a word longer than the line (a hash).
        self.multi_cell(0, size * 0.5, shown, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def signature_page_pdf(details: SignatureDetails) -> bytes:
    """The signature page as an A4 PDF: one page, more only if the texts do
    not fit on one (nothing is cut short). Times are in UTC."""
    labels, pdf = details.labels, _Page()
    pdf.set_creation_date(details.signed_at)
    pdf.add_page()
    pdf.paragraph(labels["heading"], 16, bold=True)
    when = f"{details.signed_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    for key, value in (("document", details.document_title), ("signer", details.signer_name),
                       ("signed_at", when), ("address", details.ip_address),
                       ("browser", details.user_agent), ("sha256", details.original_sha256),
                       ("request", details.request_id), ("consent", details.consent_text)):
        pdf.ln(4)
        pdf.paragraph(labels[key], 9, bold=True, color=90)
        pdf.paragraph(value, 11)
    pdf.ln(8)
    pdf.paragraph(labels["footer"], 9, color=90)
    return bytes(pdf.output())


def _reader(pdf: bytes) -> PdfFileReader:
    """A lenient reader; refused when encrypted (we would have to decrypt it)."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    if reader.encrypted:
        raise UnsignablePdf()
    return reader


def _append_page(writer: IncrementalPdfFileWriter, source: PdfFileReader, index: int) -> None:
    """Page ``index`` of ``source`` as the last page of ``writer``, drawn as a
    form XObject: new objects only, none of the original's is rewritten."""
    form = writer.import_page_as_xobject(source, page_ix=index)
    contents = writer.add_object(generic.StreamObject(stream_data=b"q /SignaturePage Do Q"))
    writer.insert_page(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"),
        pdf_name("/MediaBox"): generic.ArrayObject(list(form.get_object()["/BBox"])),
        pdf_name("/Resources"): generic.DictionaryObject({pdf_name("/XObject"): (
            generic.DictionaryObject({pdf_name("/SignaturePage"): form}))}),
        pdf_name("/Contents"): contents}))


def with_signature_page(original: bytes, details: SignatureDetails) -> bytes:
    """``original`` with the signature page appended. Raises ``UnsignablePdf``
    (see there), and ``ValueError`` if ``details`` record another file's hash."""
    if hashlib.sha256(original).hexdigest() != details.original_sha256.lower():
        raise ValueError("the details record another document's SHA-256")
    page = PdfFileReader(BytesIO(signature_page_pdf(details)))
    try:
        reader = _reader(original)
        # Found now, before anyone signs: ``seal`` could not certify it afterwards.
        if reader.embedded_signatures:
            raise UnsignablePdf()
        writer = IncrementalPdfFileWriter.from_reader(reader)
        for index in range(int(page.root["/Pages"]["/Count"])):
            _append_page(writer, page, index)
        out = BytesIO()
        writer.write(out)
    except _BAD_PDF as error:
        raise UnsignablePdf() from error
    return out.getvalue()


# --- the firm's key -------------------------------------------------------------

def load_seal_key(cert_path: Pathish, key_path: Pathish) -> SealKey:
    """The seal's certificate and unencrypted private key, from PEM files.
    Raises ``ValueError`` saying what is wrong: a file missing or unreadable,
    not PEM, a key not the certificate's, a certificate out of date."""
    try:
        cert_pem, key_pem = Path(cert_path).read_bytes(), Path(key_path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {error.filename}: {error.strerror}") from error
    try:
        # The seal's certificate first, then any intermediates, embedded for validators.
        cert, *chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as error:
        raise ValueError(f"{cert_path} is not a PEM certificate ({error})") from error
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:  # TypeError: the key is encrypted
        raise ValueError(f"{key_path} is not an unencrypted PEM private key") from error
    # What PDF readers verify; pyHanko would fail only later, at the first signature.
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{key_path} is neither an EC nor an RSA key")
    if key.public_key() != cert.public_key():
        raise ValueError(f"the key in {key_path} is not the one certified in {cert_path}")
    # Validators judge a seal at the present time: an expired one fails everywhere.
    if not cert.not_valid_before_utc <= datetime.now(timezone.utc) <= cert.not_valid_after_utc:
        raise ValueError(f"the certificate in {cert_path} is valid only from "
                         f"{cert.not_valid_before_utc:%Y-%m-%d} to "
                         f"{cert.not_valid_after_utc:%Y-%m-%d}")
    signing_key = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    signing_cert, *intermediates = (asn1_x509.Certificate.load(
        each.public_bytes(serialization.Encoding.DER)) for each in (cert, *chain))
    signer = signers.SimpleSigner(signing_cert=signing_cert, signing_key=signing_key,
                                  cert_registry=SimpleCertificateStore.from_certs(intermediates))
    return SealKey(signer, _common_name(signer.signing_cert),
                   cert.public_bytes(serialization.Encoding.PEM))


def seal_key_problem(cert_path: Pathish | None, key_path: Pathish | None) -> str | None:
    """None when the pair can seal; otherwise a sentence for the start-up
    check naming the settings PORTAL_SIGNING_CERT and PORTAL_SIGNING_KEY."""
    unset = [name for name, value in (("PORTAL_SIGNING_CERT", cert_path),
                                      ("PORTAL_SIGNING_KEY", key_path)) if not value]
    if unset:
        return f"{' and '.join(unset)} not set: signed documents cannot be sealed."
    try:
        load_seal_key(cert_path, key_path)
    except ValueError as error:
        return f"PORTAL_SIGNING_CERT / PORTAL_SIGNING_KEY cannot seal: {error}."
    return None


def make_self_signed(cert_path: Pathish, key_path: Pathish, common_name: str,
                     days: int = 3650) -> None:
    """A new EC P-256 key and a self-signed certificate for it (digital
    signature, non-repudiation) as PEM files; only the owner may read the key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True,  # non-repudiation
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            # Backdated a little: a clock slightly behind ours must still find it valid.
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))
    for path in (cert_path, key_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0600, so the key is never readable by others, not even for a
    # moment; fchmod narrows a file that already existed with a wider mode.
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    Path(cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


# --- sealing and checking -------------------------------------------------------

def _common_name(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.native.get("common_name", ""))


def seal(pdf: bytes, key: SealKey, reason: str, field_name: str = "FirmSeal") -> bytes:
    """``pdf`` certified with the firm's seal: a PAdES signature (SHA-256, no
    timestamp) whose DocMDP permits no later change. Raises ``UnsignablePdf``.
    Call it outside an event loop: pyHanko runs its async signer with asyncio.run."""
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, reason=reason, md_algorithm="sha256", certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES, subfilter=fields.SigSeedSubFilter.PADES)
    try:
        writer = IncrementalPdfFileWriter.from_reader(_reader(pdf))
        return signers.sign_pdf(writer, meta, signer=key.signer).getvalue()
    except _BAD_PDF as error:  # SigningError (already signed) is a ValueError too
        raise UnsignablePdf() from error


def check_seal(pdf: bytes, trust_roots_pem: list[bytes]) -> SealCheck:
    """What the file's last signature says, judged against ``trust_roots_pem``
    (PEM certificates; a malformed one raises ``ValueError``) with no network
    access. A file without a signature, or unreadable, is all False."""
    roots = [asn1_x509.Certificate.load(x509.load_pem_x509_certificate(pem)
                                        .public_bytes(serialization.Encoding.DER))
             for pem in trust_roots_pem]
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        signatures = _reader(pdf).embedded_regular_signatures
        if not signatures:
            return _NOT_SEALED
        # The last in signing order is the one that must cover the whole file. No diff
        # analysis: any later revision already fails "covers the whole file", and the
        # analysis would log a traceback for each tampered upload.
        status = validate_pdf_signature(signatures[-1], context, skip_diff=True)
    except _BAD_PDF:
        return _NOT_SEALED
    return SealCheck(intact=status.intact, valid=status.valid, trusted=status.trusted,
                     covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
                     signer=_common_name(status.signing_cert))
