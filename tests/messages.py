"""Posting a message thread's form in tests, the one way every test does it."""
from __future__ import annotations

import io
import re


def thread_key(client, url: str) -> str:
    """The ``client_key`` the thread page at ``url`` gives its form (the same
    key sent twice is the same message)."""
    page = client.get(url).text
    return re.search(r'name="client_key" type="hidden" value="([^"]+)"', page).group(1)


def post_thread(client, url: str, body: str, files: list[tuple[str, bytes]] | None = None,
                key: str | None = None, **extra):
    """Post the thread's form at ``url`` with ``body``, the page's own
    ``client_key`` (or ``key``), the CSRF token and ``extra`` fields (such as
    ``internal="y"``); returns the page it leads to, which must be a 200.

    With ``files`` (a list of (name, content), possibly empty) the form goes
    as the browser sends it: multipart, the text fields before the files,
    read by the server as a stream. Without, it goes as a plain form, which
    the server reads the ordinary way."""
    key = key or thread_key(client, url)  # the page first, as a browser opens it
    fields = {"csrf_token": client.csrf_token(), "body": body, "client_key": key, **extra}
    if files is None:
        response = client.post(url, data=fields, follow_redirects=True)
    else:
        fields["files"] = [(io.BytesIO(content), name) for name, content in files]
        response = client.post(url, data=fields, content_type="multipart/form-data",
                               follow_redirects=True)
    assert response.status_code == 200, response.text
    return response


def export_thread(client, thread_url: str, fmt: str, internal: bool = False):
    """Ask for the thread at ``thread_url`` as ``fmt`` as the firm's export
    buttons do, follow to the export's page (the job has run: tests run jobs
    as they are enqueued) and download the file; returns the file's response."""
    asked = client.submit(f"{thread_url}/export.{fmt}", {"internal": "1"} if internal else {})
    assert asked.status_code == 303, asked.status_code
    page = client.get(asked.headers["Location"])
    link = re.search(r'href="([^"]+/file)"', page.text)
    assert link, "the export page has no download link"
    return client.get(link.group(1))
