"""How the case page's forms answer: each posts one change, and the person
goes back to the case page with what happened."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from portal.errors import ServiceError
from portal.models import Case


def apply_change(case: Case, form, change: Callable[[], object], done=None,
                 then: Callable[[object], None] | None = None, anchor: str | None = None):
    """Run ``change`` if ``form`` is valid, flash ``done`` (or the standard
    "saved") and call ``then(result)``; flash the form's errors or the
    service's refusal otherwise. Either way, back to the case page (at
    ``anchor``) with a 303."""
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
    else:
        try:
            result = change()
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(done or _("Saved. The client sees it on their timeline."), "success")
            if then is not None:
                then(result)
    return redirect(url_for("cases.show_case", case_uuid=case.uuid, _anchor=anchor), code=303)


def distinct_ids(prefix: str, forms: dict) -> dict:
    """Give each form's fields ids of their own (``uscis-status-client_text``):
    several forms on the case page share field names, and a label must point
    at its own field. Names, and so what is posted, stay as they are."""
    for key, form in forms.items():
        for bound in form or ():
            bound.id = bound.label.field_id = f"{prefix}-{key}-{bound.name}"
    return forms
