"""What a page tells the browser's resumable uploader (static/js/uploader.js)."""
from __future__ import annotations

from flask import current_app, url_for

# The size of each PATCH the browser sends, until config.py says (TUS_CHUNK_BYTES).
DEFAULT_CHUNK_BYTES = 5 * 1024 * 1024


def resumable_uploads() -> dict | None:
    """The tus endpoint's path and the chunk size for the page's uploader, or
    ``None`` while the portal has no tus endpoint (``uploads.create``): pages
    then load no uploader and the plain form alone does the work."""
    if "uploads.create" not in current_app.view_functions:
        return None
    return {"endpoint": url_for("uploads.create"),
            "chunk": int(current_app.config.get("TUS_CHUNK_BYTES") or DEFAULT_CHUNK_BYTES)}
