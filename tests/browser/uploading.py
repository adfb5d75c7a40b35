"""Uploading as a person does in the browser: through the resumable uploader
(Uppy's Dashboard over tus) that takes the place of the plain file input."""
from __future__ import annotations


def add_files(scope, files: list[tuple[str, bytes]]) -> None:
    """Choose ``files`` (name, bytes) in the uploader inside ``scope`` (a
    form, a dialog or the page), as "browse files" would."""
    scope.locator("input.uppy-Dashboard-input").first.set_input_files(files=[
        {"name": name, "mimeType": "application/pdf", "buffer": data} for name, data in files])


def upload(page, scope, files: list[tuple[str, bytes]], timeout: float = 60_000) -> None:
    """Add ``files`` to the uploader in ``scope``, press its upload button and
    wait for the page that lists them (the uploader reloads it once every
    file is saved)."""
    add_files(scope, files)
    with page.expect_navigation(timeout=timeout):
        scope.locator("button.uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_load_state()
