"""What a page tells the browser's resumable uploader (static/js/uploader.js)."""
from __future__ import annotations

from flask import current_app, url_for


def resumable_uploads() -> dict:
    """The tus endpoint's path and the size of the pieces the page's uploader sends."""
    return {"endpoint": url_for("uploads.create"), "chunk": current_app.config["TUS_CHUNK_BYTES"]}
