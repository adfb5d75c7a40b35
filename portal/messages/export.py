"""A thread exported for the firm's file: a plain-text transcript and a PDF.

``transcript`` gathers what the firm reads of a thread (internal notes only
when asked) into an ``Export``; ``as_text`` and ``as_pdf`` render it in the
exporting person's language and time zone (a job does both: see
``export_files``). Times are given in UTC (ISO 8601) and as
the exporting person reads them on the portal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, format_decimal, gettext as _, lazy_gettext as _l, ngettext
from fpdf.enums import XPos, YPos

from portal.errors import ServiceError
from portal.messages.permissions import can_export
from portal.messages.services import shown_to
from portal.models import MessageThread, User
from portal.models.types import utcnow
from portal.pdf import RecordPdf

# The extension in the URL -> (content type, format named in the audit trail).
FORMATS = {"pdf": ("application/pdf", "pdf"), "txt": ("text/plain; charset=utf-8", "text")}
SIDES = {"firm": _l("Firm"), "client": _l("Client"), "sponsor": _l("Sponsor")}
RULE = "=" * 72
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Attachment:
    """The file sent with a message, as recorded when it was stored."""

    filename: str
    size: int
    content_type: str
    sha256: str


@dataclass(frozen=True)
class Entry:
    """One message of the transcript; ``text`` is None when it is damaged."""

    author: str
    side: str  # a key of SIDES
    sent_at: datetime
    text: str | None
    internal: bool
    retracted_at: datetime | None
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True)
class Export:
    """A thread as exported by one person at one moment."""

    case_reference: str
    sponsor_name: str | None  # None for the client's thread
    exported_by: str
    exported_at: datetime
    include_internal: bool
    language: str
    timezone: str
    entries: tuple[Entry, ...]


def _side(thread: MessageThread, author: User) -> str:
    if author.is_firm:
        return "firm"
    return "sponsor" if thread.sponsor_id == author.id else "client"


def _attachments(message) -> tuple[Attachment, ...]:
    # The file sent is the document's first version; later versions are the case's business.
    return tuple(Attachment(doc.versions[0].filename, doc.versions[0].size,
                            doc.versions[0].content_type, doc.versions[0].sha256)
                 for doc in message.attachments if doc.versions)


def transcript(actor: User, thread: MessageThread, include_internal: bool) -> Export:
    """What the firm reads of ``thread``, oldest first: retracted messages with
    their text, internal notes only if ``include_internal``, a damaged body as
    such (audited by ``shown_to``). Raises ``ServiceError`` unless ``actor``
    may export the case's threads."""
    if not can_export(actor, thread.case):
        raise ServiceError(_l("You do not have permission to do that."))
    # Internal notes left out are not even decrypted: what is not exported is not read.
    entries = tuple(
        Entry(author=item.message.author.name, side=_side(thread, item.message.author),
              sent_at=item.message.created_at, text=item.text, internal=item.message.internal,
              retracted_at=item.message.retracted_at, attachments=_attachments(item.message))
        for item in shown_to(actor, thread, notes=include_internal))
    languages = current_app.config["LANGUAGES"]
    return Export(case_reference=thread.case.reference,
                  sponsor_name=thread.sponsor.name if thread.sponsor else None,
                  exported_by=actor.name, exported_at=utcnow(), include_internal=include_internal,
                  language=actor.language if actor.language in languages else languages[0],
                  timezone=actor.timezone or "UTC", entries=entries)


def audience_name(thread: MessageThread) -> str:
    """Which thread a file holds, in its name: ``client``, or ``sponsor-`` and
    the start of the sponsor's public id. Not the sponsor's name: two sponsors
    may share one, and a file name travels (mail, shared folders) where the
    people in a case should not; the transcript's header names the sponsor."""
    if thread.sponsor is None:
        return "client"
    return f"sponsor-{thread.sponsor.uuid.hex[:8]}"


# --- what both renderers say ---------------------------------------------------

def _line(text: str) -> str:
    """A name or file name on one line: no control character can break the layout."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _body_lines(text: str) -> list[str]:
    # Tabs as spaces and no control characters: a body cannot move the
    # cursor in a terminal nor print glyphs the font lacks.
    return [_CONTROL.sub("", line).expandtabs(4) for line in text.splitlines()] or [""]


def _when(export: Export, moment: datetime) -> str:
    try:
        zone = ZoneInfo(export.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = format_datetime(moment, "medium", tzinfo=zone, locale=export.language)
    return (f"{moment.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
            f"({local}, {zone.key})")


def _header(export: Export) -> tuple[str, list[str]]:
    """The title and the facts under it (call with the export's locale forced)."""
    title = _("Messages of case %(reference)s", reference=_line(export.case_reference))
    # Translators: the thread an exported transcript holds.
    thread = (_("Thread: with sponsor %(name)s", name=_line(export.sponsor_name))
              if export.sponsor_name else _("Thread: with the client"))
    return title, [
        thread,
        _("Exported by: %(name)s", name=_line(export.exported_by)),
        _("Exported at: %(time)s", time=_when(export, export.exported_at)),
        _("Messages: %(count)s", count=format_decimal(len(export.entries))),
        _("Internal notes: included") if export.include_internal
        else _("Internal notes: not included"),
    ]


def _meta(export: Export, entry: Entry) -> list[str]:
    lines = [_("From: %(name)s (%(side)s)", name=_line(entry.author), side=SIDES[entry.side]),
             _("Sent: %(time)s", time=_when(export, entry.sent_at))]
    if entry.retracted_at is not None:
        lines.append(_("Retracted by its author at %(time)s",
                       time=_when(export, entry.retracted_at)))
    return lines


def _attachment_lines(attachment: Attachment) -> list[str]:
    return [_line(attachment.filename),
            ngettext("%(size)s byte", "%(size)s bytes", attachment.size,
                     size=format_decimal(attachment.size)) + " · " + attachment.content_type,
            _("SHA-256: %(digest)s", digest=attachment.sha256)]


def _body(entry: Entry) -> list[str]:
    if entry.text is None:
        return [_("[This message's stored text is damaged]")]
    return _body_lines(entry.text)


# --- plain text -----------------------------------------------------------------

def as_text(export: Export) -> str:
    """The transcript as plain text, UTF-8. Every line a message's writer
    typed begins with "> " (an empty one is ">") and no other line does, so
    no body can pass itself off as the transcript's own lines (another
    message, a header, an attachment)."""
    with force_locale(export.language):
        title, facts = _header(export)
        out = [title, *facts, "", RULE]
        for number, entry in enumerate(export.entries, start=1):
            out += ["", f"[{number}/{len(export.entries)}]", *_meta(export, entry)]
            if entry.internal:
                out.append(_("INTERNAL NOTE"))
            out += ["", *(f"> {line}" if line else ">" for line in _body(entry))]
            if entry.attachments:
                out += ["", _("Attachments:")]
                for attachment in entry.attachments:
                    first, *rest = _attachment_lines(attachment)
                    out += ["  - " + first, *("    " + line for line in rest)]
            out += ["", RULE]
        return "\n".join(out) + "\n"


# --- PDF ------------------------------------------------------------------------

def as_pdf(export: Export) -> bytes:
    """The transcript as a PDF (A4, Roboto embedded as a subset), internal
    notes marked "INTERNAL NOTE" on a tinted band."""
    with force_locale(export.language):
        pdf = RecordPdf()
        title, facts = _header(export)
        pdf.set_title(title)
        pdf.set_lang(export.language)
        pdf.set_creation_date(export.exported_at)
        pdf.add_page()
        pdf.text_lines([title], size=14, bold=True)
        pdf.ln(2)
        pdf.text_lines(facts, color=60)
        for number, entry in enumerate(export.entries, start=1):
            pdf.ln(3)
            pdf.set_draw_color(180)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
            pdf.ln(2)
            first, *rest = _meta(export, entry)
            pdf.text_lines([f"{number}. {first}"], bold=True)
            pdf.text_lines(rest, size=9, color=60)
            if entry.internal:
                pdf.set_font("Roboto", "B", 9)
                pdf.set_fill_color(255, 236, 179)
                pdf.set_text_color(120, 60, 0)
                pdf.cell(0, 6, _("INTERNAL NOTE"), fill=True, new_x=XPos.LMARGIN,
                         new_y=YPos.NEXT)
            pdf.ln(1)
            # Indented, as in the text transcript: the writer's lines stand apart from ours.
            pdf.text_lines(_body(entry), color=120 if entry.text is None else 0, indent=5)
            if entry.attachments:
                pdf.ln(1)
                pdf.text_lines([_("Attachments:")], size=9, bold=True)
                for attachment in entry.attachments:
                    pdf.text_lines(_attachment_lines(attachment), size=9, indent=5)
        if pdf.replaced:
            pdf.ln(4)
            pdf.text_lines([_("Some characters cannot be shown in this PDF and are printed as "
                              "%(mark)s. The plain-text export holds them exactly.",
                              mark="\ufffd")], size=9, color=60)
        return bytes(pdf.output())
