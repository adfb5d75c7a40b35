"""Speaking tus 1.0 to the portal through the Flask test client (the
interoperability test uses tuspy, a client no one here wrote)."""
from __future__ import annotations

import base64
import hashlib


def metadata(**pairs: str) -> str:
    """An ``Upload-Metadata`` header."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


class Tus:
    """tus requests of one signed-in test client, with its CSRF token."""

    def __init__(self, client):
        self.client = client
        self.csrf = client.csrf_token()

    def headers(self, **extra) -> dict:
        return {"Tus-Resumable": "1.0.0", "X-CSRFToken": self.csrf, **extra}

    def create(self, form: str, length: int, filename: str = "passport.pdf", **meta):
        """POST: start an upload standing in for the form posted to ``form``."""
        return self.client.post("/uploads", headers=self.headers(**{
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(filename=filename, form=form, **meta)}))

    def patch(self, location: str, offset: int, data: bytes, checksum: str | None = None,
              **kwargs):
        headers = self.headers(**{"Upload-Offset": str(offset),
                                  "Content-Type": "application/offset+octet-stream"})
        if checksum == "sha1":
            headers["Upload-Checksum"] = "sha1 " + base64.b64encode(
                hashlib.sha1(data, usedforsecurity=False).digest()).decode()
        elif checksum is not None:
            headers["Upload-Checksum"] = checksum
        if "input_stream" in kwargs:
            return self.client.patch(location, headers=headers, **kwargs)
        return self.client.patch(location, headers=headers, data=data)

    def head(self, location: str):
        return self.client.head(location, headers=self.headers())

    def delete(self, location: str):
        return self.client.delete(location, headers=self.headers())

    def send(self, form: str, data: bytes, pieces: int = 3, **meta) -> str:
        """Upload ``data`` in ``pieces`` PATCHes; return the upload's URL."""
        created = self.create(form, len(data), **meta)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        step = -(-len(data) // pieces)
        for offset in range(0, len(data), step):
            answer = self.patch(location, offset, data[offset:offset + step])
            assert answer.status_code == 204, answer.text
            assert answer.headers["Upload-Offset"] == str(min(offset + step, len(data)))
        return location
