"""Where a resumable upload goes, named by the plain form it stands in for.

The uploader sends the ``action`` of the form it enhances (e.g.
``/cases/<uuid>/requests/<uuid>/uploads``); that path is matched against the
app's own routes, and each upload route has a resolver here that applies the
same permission checks that route applies. Any other path is refused, so a
resumable upload can reach nothing a form could not.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.cases.permissions import get_case_or_404
from portal.evidence.permissions import get_document_or_404
from portal.extensions import db
from portal.messages.permissions import get_thread_or_404
from portal.models import Case, Document, DocumentRequest, Message, User
from portal.requests import services as requests
from portal.requests.permissions import get_request_or_404


class NoTarget(Exception):
    """The path names no upload this person may make; ``message`` says why
    when it is something they can act on, else the route answers 404."""

    def __init__(self, message=None):
        super().__init__(message)
        self.message = message


@dataclass
class Target:
    """The case and what a stored file becomes there."""

    case: Case
    document: Document | None = None
    request: DocumentRequest | None = None
    message: Message | None = None


def _documents(user: User, case_uuid: str, **_) -> Target:
    return Target(get_case_or_404(case_uuid, user))


def _version(user: User, case_uuid: str, document_uuid: str, **_) -> Target:
    case = get_case_or_404(case_uuid, user)
    return Target(case, document=get_document_or_404(case, document_uuid, user))


def _request(user: User, case_uuid: str, request_uuid: str, **_) -> Target:
    case = get_case_or_404(case_uuid, user)
    document_request = get_request_or_404(case, request_uuid, user)
    try:
        requests.check_upload(user, case, document_request)
    except requests.RequestClosed as closed:
        raise NoTarget(closed.message) from closed
    return Target(case, request=document_request)


def _message(user: User, case_uuid: str, sponsor_uuid: str | None = None, *,
             client_key: str = "", **_) -> Target:
    thread = get_thread_or_404(case_uuid, user, sponsor_uuid)
    # The text goes first, by the thread's form; its files follow it here.
    message = db.session.scalar(select(Message).where(
        Message.thread_id == thread.id, Message.client_key == client_key[:64],
        Message.author_id == user.id)) if client_key else None
    if message is None:
        raise NoTarget(_l("Send the message first, then its files."))
    return Target(thread.case, message=message)


RESOLVERS = {
    "evidence.upload_documents": _documents,
    "evidence.upload_version": _version,
    "requests.upload_to_request": _request,
    "messages.client_thread": _message,
    "messages.sponsor_thread": _message,
}


def resolve(user: User, form_path: str, client_key: str = "") -> Target:
    """The target of an upload standing in for the form posted to
    ``form_path``. Raises ``NoTarget`` for a path that is no upload form, and
    the 404 of the route's own checks for one ``user`` may not use."""
    adapter = current_app.url_map.bind("portal.invalid")
    try:
        endpoint, args = adapter.match(form_path.split("?", 1)[0], method="POST")
    except HTTPException as error:  # NotFound, MethodNotAllowed, a redirect
        raise NoTarget() from error
    resolver = RESOLVERS.get(endpoint)
    if resolver is None:
        raise NoTarget()
    if resolver is _message:
        return resolver(user, client_key=client_key, **args)
    return resolver(user, **args)
