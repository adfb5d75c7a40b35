"""What every form shares: a length limit that says so, the attributes that
tie a field to its hint and its error, the list of errors the summary at the
top of a page links from (``error_summary`` in templates/_macros.html), and,
for pages holding several forms, ids of their own and a failed form shown
again in place."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Field, FieldList, FormField
from wtforms.validators import StopValidation

# Translators: under a field whose text is too long; both numbers are characters.
TOO_LONG = _l("At most %(max)s characters (you typed %(count)s).")


class MaxLength:
    """Refuse a text longer than ``limit`` characters with ``message``
    (``%(max)s`` and ``%(count)s`` in it, written as the reader writes
    numbers). Also the field's ``maxlength`` attribute, for browsers that
    heed it: the server's word is the one that counts."""

    def __init__(self, limit: int, message=None) -> None:
        self.limit = limit
        self.message = message or TOO_LONG
        self.field_flags = {"maxlength": limit}

    def __call__(self, form, field) -> None:
        if not isinstance(field.data, str):
            return
        # A browser sends a textarea's line break as CRLF but counts it as one
        # character against maxlength, as the person does: so do we.
        count = len(field.data.replace("\r\n", "\n"))
        if count > self.limit:
            # Stop: nothing more about a text that is refused whole is worth saying.
            raise StopValidation(str(self.message) % {"max": format_number(self.limit),
                                                      "count": format_number(count)})


def max_length(limit: int, message=None) -> MaxLength:
    """A validator refusing a text over ``limit`` characters, saying the
    limit and how many were typed (see ``MaxLength``)."""
    return MaxLength(limit, message)


def _hidden(field: Field) -> bool:
    return getattr(field.widget, "input_type", None) == "hidden"


def field_attributes(field: Field, **extra) -> dict:
    """The attributes of ``field``'s control: ``extra`` (None values left
    out), and ``aria-describedby`` naming its hint and its error message,
    ``aria-invalid`` while it has one (the ids the field macros give them)."""
    attributes = {key: value for key, value in extra.items() if value is not None}
    described = [f"{field.id}-hint"] if field.description else []
    if field.errors:
        described.append(f"{field.id}-error")
        attributes["aria-invalid"] = "true"
    if described:
        attributes["aria-describedby"] = " ".join(described)
    return attributes


@dataclass(frozen=True)
class ErrorItem:
    """One line of the error summary: its text and the id of the control it
    links to (None for a hidden field, which nobody can correct)."""

    target: str | None
    text: str


def _target(field: Field) -> str | None:
    if _hidden(field) or not field.id:
        return None
    if field.type == "RadioField":
        return f"{field.id}-0"  # a group is reached through its first choice
    return field.id


def _items(field: Field) -> list[ErrorItem]:
    if isinstance(field, FieldList):
        return [item for entry in field.entries for item in _items(entry)]
    if isinstance(field, FormField):
        # A row's own errors (``form_errors``) point at its first control.
        first = next((sub for sub in field.form if not _hidden(sub)), None)
        target = _target(first) if first is not None else None
        return [ErrorItem(target, str(error)) for error in field.form.form_errors] + [
            item for sub in field.form for item in _items(sub)]
    label = field.label.text if not _hidden(field) else ""
    # Translators: a line of the error summary at the top of a form: the field's label, then what is wrong.
    return [ErrorItem(_target(field), _("%(field)s: %(error)s", field=label, error=error)
                      if label else str(error)) for error in field.errors]


def error_items(*forms) -> list[ErrorItem]:
    """Every error of ``forms`` (None skipped), in page order, for the summary."""
    items = []
    for form in forms:
        if form is None:
            continue
        items += [ErrorItem(None, str(error)) for error in form.form_errors]
        for field in form:
            items += _items(field)
    return items


# --- pages of several forms ---------------------------------------------------
# The case page holds a dozen forms, each posting to a route of its own. A form
# that fails is not answered with a redirect and a flashed message, which would
# lose what was typed and tie no error to its field: its route keeps it
# (``keep_failed``) and renders the page again, and ``distinct_ids`` puts it
# where the blank one would have been.

def keep_failed(key: str, form) -> None:
    """Remember ``form``, which failed validation, for the page rendered next
    in this request; ``key`` is ``<prefix>-<name>`` of the ``distinct_ids``
    call that names the form on that page."""
    g.failed_form = (key, form)


def failed_form():
    """The form kept by ``keep_failed`` in this request, for the page's error
    summary: the page's own form that took its place, or, where the page no
    longer holds it (the case was closed meanwhile), the kept form with no
    ids to link to. None when no form failed. Call it once the page's forms
    are made."""
    kept = g.get("failed_form")
    if kept is None:
        return None
    key, form = kept
    if key not in g.get("placed_forms", {}):
        for bound in form:
            bound.id = ""
        return form
    return g.placed_forms[key]


def _take_over(blank, failed) -> None:
    """What the person typed and what is wrong with it, from the failed form
    into the page's blank one (which has the page's choices and hints).
    Hidden values stay the page's: they describe the page now shown."""
    for field in blank:
        sent = failed._fields.get(field.name)
        if sent is None or _hidden(field):
            continue
        field.data, field.raw_data, field.errors = sent.data, sent.raw_data, list(sent.errors)
    blank.form_errors = list(failed.form_errors)


def distinct_ids(prefix: str, forms: dict) -> dict:
    """Give each form's fields ids of their own (``uscis-status-client_text``):
    several forms on a page share field names, and a label must point at its
    own field. Names, and so what is posted, stay as they are. The form kept
    by ``keep_failed`` as ``<prefix>-<name>`` takes the place of its blank."""
    kept = g.get("failed_form")
    for key, form in forms.items():
        if form is None:
            continue
        if kept is not None and kept[0] == f"{prefix}-{key}":
            _take_over(form, kept[1])
            g.placed_forms = {kept[0]: form}
        for bound in form:
            bound.id = bound.label.field_id = f"{prefix}-{key}-{bound.name}"
    return forms


def init_app(app: Flask) -> None:
    """Offer the field macros their helpers."""
    app.add_template_global(field_attributes)
    app.add_template_global(error_items, "form_error_items")
