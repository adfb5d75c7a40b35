"""The embedded clamd (portal/dev/clamd.py) with the real ClamAV daemon and
the ``clamav-client`` library the portal talks to it with: detection of the
EICAR test file, alone and inside documents, and the errors the client raises
when clamd hangs, refuses a stream or is down. No Flask app or database."""
from __future__ import annotations

import io
import os
import zipfile

import pytest
from clamav_client.clamd import BufferTooLongError, ClamdUnixSocket, CommunicationError

from portal.dev.clamd import EICAR, SIGNATURE_NAME, EmbeddedClamd
from tests.scanner import clamd as embedded_clamd  # noqa: F401 - a fixture
from tests.scanner import require_clamd  # noqa: F401 - a fixture

# clamd appends ".UNOFFICIAL" to signatures that are not from a signed ClamAV database.
INFECTED = ("FOUND", f"{SIGNATURE_NAME}.UNOFFICIAL")
CLEAN = ("OK", None)


@pytest.fixture
def own_clamd(require_clamd, tmp_path):
    """Makes clamd instances of a test's own (not started); stops them afterwards."""
    made = []

    def make(name: str = "clamd", **options) -> EmbeddedClamd:
        made.append(EmbeddedClamd(tmp_path / name, **options))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def client(server: EmbeddedClamd, timeout: float = 10) -> ClamdUnixSocket:
    return ClamdUnixSocket(str(server.socket_path), timeout=timeout)


def scan(server: EmbeddedClamd, body: bytes) -> tuple[str, str | None]:
    """clamd's verdict on ``body``, sent with INSTREAM."""
    return client(server).instream(io.BytesIO(body))["stream"]


def docx(document_text: bytes, extra_members: dict[str, bytes] | None = None) -> bytes:
    """A minimal Word document, compressed as Word does it (deflate)."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'))
        archive.writestr("word/document.xml", (
            b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w='
            b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            b"<w:p><w:r><w:t>" + document_text + b"</w:t></w:r></w:p></w:body></w:document>"))
        for name, data in (extra_members or {}).items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return body.getvalue()


def test_ping_and_scan_eicar_and_a_clean_file(embedded_clamd):
    assert client(embedded_clamd).ping() == "PONG"
    assert scan(embedded_clamd, EICAR) == INFECTED
    clean_pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    assert scan(embedded_clamd, clean_pdf) == CLEAN


def test_eicar_inside_a_docx_is_found(embedded_clamd):
    compressed = docx(b"Passport scan attached. " + EICAR)
    # Deflated, so only a clamd that unpacks the zip can see it.
    assert EICAR not in compressed
    assert scan(embedded_clamd, compressed) == INFECTED
    as_member = docx(b"Passport scan attached.", {"word/media/image1.bin": EICAR})
    assert scan(embedded_clamd, as_member) == INFECTED
    assert scan(embedded_clamd, docx(b"Passport scan attached.")) == CLEAN


def test_eicar_anywhere_in_a_pdf_is_found(embedded_clamd):
    # At offset 1000 it also straddles the client's 1024-byte INSTREAM chunks.
    head = b"%PDF-1.7\n" + b"%" * 991
    assert scan(embedded_clamd, head + EICAR + b"\n" + os.urandom(4096)) == INFECTED


def test_a_paused_clamd_times_out_and_answers_again_when_resumed(embedded_clamd):
    embedded_clamd.pause()
    try:
        # The kernel still accepts the connection; no answer ever comes.
        with pytest.raises(CommunicationError, match="timed out"):
            client(embedded_clamd, timeout=2).instream(io.BytesIO(EICAR))
        # A body larger than the socket buffer blocks in sendall instead, which the
        # client (0.7.2) does not wrap: a bare TimeoutError, an OSError.
        with pytest.raises((CommunicationError, OSError)):
            client(embedded_clamd, timeout=2).instream(io.BytesIO(b"\0" * 2**20))
    finally:
        embedded_clamd.resume()
    assert client(embedded_clamd, timeout=5).ping() == "PONG"
    assert scan(embedded_clamd, EICAR) == INFECTED


def test_a_stream_over_the_limit_is_refused(own_clamd):
    server = own_clamd(stream_max_bytes=2**20)
    server.start()
    assert scan(server, b"\0" * 2**20) == CLEAN  # exactly at the limit: scanned
    # clamd answers "INSTREAM size limit exceeded. ERROR" and closes the connection at
    # once, while the client may still be sending its end-of-stream marker: then the
    # client gets a BrokenPipeError instead (a few % of tries). Retry until it reads the
    # answer; every try must be one of the two.
    errors = []
    for _ in range(10):
        try:
            client(server).instream(io.BytesIO(b"\0" * (2**20 + 1)))
        except (BufferTooLongError, ConnectionError) as error:
            errors.append(error)
            if isinstance(error, BufferTooLongError):
                break
    assert errors and isinstance(errors[-1], BufferTooLongError), errors
    assert str(errors[-1]) == "INSTREAM size limit exceeded. ERROR"
    # Well past the limit the client is always still sending when clamd hangs up.
    with pytest.raises(ConnectionError):
        client(server).instream(io.BytesIO(b"\0" * (3 * 2**20)))
    assert client(server).ping() == "PONG"


def test_stop_then_start_again(own_clamd):
    server = own_clamd()
    server.start()
    assert client(server).ping() == "PONG"
    server.stop()
    assert not server.socket_path.exists()
    with pytest.raises(CommunicationError):
        client(server).ping()
    server.stop()  # idempotent
    server.start()
    assert client(server).ping() == "PONG"
    assert scan(server, EICAR) == INFECTED


def test_a_long_directory_gets_a_short_socket_folder(own_clamd):
    server = own_clamd("d" * 120)
    assert len(os.fsencode(server.directory / "clamd.sock")) > 107
    socket_folder = server.socket_path.parent
    assert server.socket_path.name == "clamd.sock"
    assert len(os.fsencode(server.socket_path)) <= 107
    server.start()
    assert server.app_config() == {"CLAMD_SOCKET": str(server.socket_path), "SCANNING": "on"}
    assert client(server).ping() == "PONG"
    server.stop()
    assert not socket_folder.exists()


def test_a_clamd_that_cannot_start_says_why(own_clamd):
    server = own_clamd()
    (server.directory / "db" / "broken.ndb").write_text("Broken:0:*:zz\n")
    with pytest.raises(RuntimeError, match="(?s)clamd exited.*Malformed database"):
        server.start()
    assert server.process is None
