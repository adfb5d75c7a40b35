"""Every dated thing a case owes, as one SQL query: the agenda lists it and
the dashboard sorts by its earliest date per case.

A row is ``(case_id, kind, due_on, item_id)``:
- ``document``: a document request still owed by its addressee, by its due date;
- ``rfe_response``, ``biometrics``, ``interview``: a USCIS deadline or appointment not yet met;
- ``parole_end``: the day an open case's parole ends;
- ``reparole_file_by``: the day the re-parole request should be filed by
  (``REPAROLE_FILE_DAYS_BEFORE`` before the parole end).
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, Select, String, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from portal.models import Case, CaseDeadline, DocumentRequest
from portal.models.request import OWED_STATES

KINDS = ("document", "rfe_response", "biometrics", "interview", "parole_end", "reparole_file_by")

# What each kind is, without names or titles: the dashboard, the agenda and
# the calendar feed (whose events calendar apps copy to third parties) say this.
LABELS = {
    # Translators: a deadline: the day a document asked of the client or a sponsor is due.
    "document": _l("Document due"),
    # Translators: a deadline: the day the answer to USCIS's Request for Evidence is due.
    "rfe_response": _l("RFE response due"),
    # Translators: a USCIS appointment for fingerprints and photo.
    "biometrics": _l("Biometrics appointment"),
    # Translators: an interview appointment with USCIS or a consulate.
    "interview": _l("Interview appointment"),
    # Translators: a deadline: the last day of the beneficiary's parole (from the I-94).
    "parole_end": _l("Parole ends"),
    # Translators: a deadline: the day by which the re-parole request should be filed.
    "reparole_file_by": _l("File re-parole by"),
}


class days_before(FunctionElement):
    """``date - n days`` in SQL (each database spells it differently)."""

    type = Date()
    inherit_cache = True
    name = "days_before"


@compiles(days_before, "postgresql")
def _days_before_pg(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"CAST({compiler.process(day, **kw)} - {compiler.process(days, **kw)} AS DATE)"


@compiles(days_before, "sqlite")
def _days_before_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return (f"date({compiler.process(day, **kw)}, "
            f"'-' || {compiler.process(days, **kw)} || ' days')")


def deadlines() -> Select:
    """The union of every open case's dated items (see the module docstring);
    use it as a subquery and filter by ``case_id``."""
    file_days = current_app.config["REPAROLE_FILE_DAYS_BEFORE"]
    open_case = Case.closed_on.is_(None)
    documents = (select(DocumentRequest.case_id.label("case_id"),
                        literal("document", String).label("kind"),
                        DocumentRequest.due_on.label("due_on"),
                        DocumentRequest.id.label("item_id"))
                 .join(Case, Case.id == DocumentRequest.case_id)
                 .where(open_case, DocumentRequest.state.in_(OWED_STATES),
                        DocumentRequest.due_on.is_not(None)))
    uscis = (select(CaseDeadline.case_id, func.cast(CaseDeadline.kind, String),
                    CaseDeadline.due_on, CaseDeadline.id)
             .join(Case, Case.id == CaseDeadline.case_id)
             .where(open_case, CaseDeadline.met_on.is_(None)))
    parole = select(Case.id, literal("parole_end", String), Case.parole_ends_on, Case.id).where(
        open_case, Case.parole_ends_on.is_not(None))
    file_by = select(Case.id, literal("reparole_file_by", String),
                     days_before(Case.parole_ends_on, literal(file_days, Integer)), Case.id).where(
        open_case, Case.parole_ends_on.is_not(None))
    return union_all(documents, uscis, parole, file_by)


def next_deadline_by_case() -> Select:
    """``(case_id, next_due)``: each open case's earliest dated item, to join on."""
    rows = deadlines().subquery()
    return select(rows.c.case_id, func.min(rows.c.due_on).label("next_due")).group_by(rows.c.case_id)
