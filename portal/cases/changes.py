"""How the case page's forms answer: each posts one change, and the person
goes back to the case page with what happened; a form with errors is shown
again on the case page, its errors beside its fields."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from portal.errors import ServiceError
from portal.forms_common import distinct_ids, keep_failed
from portal.models import Case

__all__ = ["apply_change", "distinct_ids", "show_again"]


def show_again(case: Case, key: str, form):
    """The case page (status 200) with ``form``, which failed validation, in
    place of its blank: what was typed, each error beside its field and in
    the summary at the top. ``key`` names the form as the page's
    ``distinct_ids`` does (``uscis-receipt``, ``case-stage_form``)."""
    from portal.cases.routes import render_case  # that module imports this one

    keep_failed(key, form)
    return render_case(case)


def apply_change(case: Case, form, change: Callable[[], object], done=None,
                 then: Callable[[object], None] | None = None, anchor: str | None = None,
                 *, key: str):
    """Run ``change`` if ``form`` is valid, flash ``done`` (or the standard
    "saved") and call ``then(result)``, or flash the service's refusal; either
    way, back to the case page (at ``anchor``) with a 303. A form with errors
    is shown again on the case page instead (``show_again`` with ``key``)."""
    if not form.validate_on_submit():
        return show_again(case, key, form)
    try:
        result = change()
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(done or _("Saved. The client sees it on their timeline."), "success")
        if then is not None:
            then(result)
    return redirect(url_for("cases.show_case", case_uuid=case.uuid, _anchor=anchor), code=303)
