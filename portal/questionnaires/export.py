"""A questionnaire's answers for the case file: a PDF in the exporting
person's language, and JSON keyed by the USCIS form items the answers fill
(for whoever prepares the forms). Each export is audited."""
from __future__ import annotations

import json
from datetime import date

from flask import Response
from flask_babel import force_locale, format_date, get_locale
from flask_babel import gettext as _

from portal import audit
from portal.cases.countries import country_name
from portal.evidence.files import ascii_name
from portal.extensions import db
from portal.models import Case, DocumentRequest, User
from portal.models.types import utcnow
from portal.pdf import RecordPdf
from portal.questionnaires import services
from portal.questionnaires.answers import ADDRESS_PARTS, is_empty, is_shown
from portal.questionnaires.definitions import Question, Questionnaire

FORMATS = {"pdf": "application/pdf", "json": "application/json"}


def answer_text(question: Question, value) -> str:
    """An answer as a person reads it, in the current language ("" for none)."""
    if is_empty(value):
        return ""
    if question.type == "address":
        parts = [value.get(part, "") for part in ADDRESS_PARTS[:-1]]
        parts.append(country_name(value.get("country", ""), get_locale()))
        return ", ".join(part for part in parts if part)
    if question.type == "yes_no":
        return _("Yes") if value == "yes" else _("No")
    if question.type == "choice":
        return str(question.choice_label(value))
    if question.type == "country":
        return country_name(value, get_locale())
    if question.type == "date":
        return format_date(date.fromisoformat(value), "long")
    if question.type == "money":
        return f"US$ {value}"
    return value


def _machine_value(question: Question, value):
    """An answer for JSON: dates ISO, codes as codes, groups as lists of rows."""
    if question.is_group:
        return [{f.key: row.get(f.key) for f in question.fields} for row in value or []]
    return value if not is_empty(value) else None


def as_json(questionnaire: Questionnaire, req: DocumentRequest, case: Case, data: dict) -> dict:
    """``items``: each USCIS form item with the answers that fill it, by
    question (a name item has a family name, given names...; a group's
    field as ``group.field``, a list with one value per row); ``answers``: every answer by question key,
    with its English label and item."""
    answers, items = {}, {}
    for question in questionnaire.questions().values():
        value = data["answers"].get(question.key)
        if not is_shown(question, data["answers"]):
            continue
        answers[question.key] = {"label": question.source_label, "form_item": question.form_item,
                                 "value": _machine_value(question, value)}
        if question.form_item and not question.is_group:
            items.setdefault(question.form_item, {})[question.key] = _machine_value(question,
                                                                                    value)
        for field in question.fields:
            if field.form_item:
                items.setdefault(field.form_item, {})[f"{question.key}.{field.key}"] = [
                    row.get(field.key) for row in value or []]
    return {"questionnaire": questionnaire.key, "case": case.reference,
            "answered_by": req.addressee.name, "state": req.state.value,
            "exported_at": utcnow().isoformat(), "items": items, "answers": answers}


def as_pdf(questionnaire: Questionnaire, req: DocumentRequest, case: Case, data: dict,
           language: str) -> bytes:
    """The answers section by section, each with its USCIS item, the firm's
    open corrections and its changes."""
    with force_locale(language):
        pdf = RecordPdf()
        title = f"{case.reference} · {questionnaire.title}"
        pdf.set_title(title)
        pdf.set_lang(language)
        pdf.add_page()
        pdf.text_lines([title], size=14, bold=True)
        pdf.text_lines([_("Answered by %(name)s", name=req.addressee.name),
                        _("Exported on %(date)s", date=format_date(utcnow().date(), "long"))],
                       color=60)
        for section in questionnaire.sections:
            pdf.ln(3)
            pdf.text_lines([str(section.title)], size=12, bold=True)
            for question in section.questions:
                if not is_shown(question, data["answers"]):
                    continue
                _pdf_answer(pdf, question, data)
        return bytes(pdf.output())


def _pdf_answer(pdf: RecordPdf, question: Question, data: dict) -> None:
    value = data["answers"].get(question.key)
    label = str(question.label) + (f"  [{question.form_item}]" if question.form_item else "")
    pdf.ln(1)
    pdf.text_lines([label], size=9, bold=True, color=60)
    if question.is_group:
        for number, row in enumerate(value or [], start=1):
            pdf.text_lines([f"{question.item_label} {number}"], size=10, bold=True, indent=4)
            pdf.text_lines([f"{field.label}: {answer_text(field, row.get(field.key)) or '—'}"
                            for field in question.fields], indent=8)
        if not value:
            pdf.text_lines(["—"], indent=4)
    else:
        pdf.text_lines([answer_text(question, value) or "—"], indent=4)
    note = data["corrections"].get(question.key)
    if note:
        pdf.text_lines([_("Needs correction: %(note)s", note=note)], size=9, color=120, indent=4)


def response(actor: User, case: Case, req: DocumentRequest, fmt: str) -> Response:
    """The export as a download, audited and committed."""
    questionnaire = services.questionnaire_of(req)
    data = services.read(services.response_of(req))
    if fmt == "pdf":
        content = as_pdf(questionnaire, req, case, data, actor.language)
    else:
        content = json.dumps(as_json(questionnaire, req, case, data), ensure_ascii=False,
                             indent=2).encode("utf-8")
    audit.record("questionnaire.exported", actor=actor, case=case, target=str(req.uuid),
                 format=fmt)
    db.session.commit()
    name = ascii_name(f"{case.reference}-{questionnaire.key}-{utcnow():%Y-%m-%d}.{fmt}")
    download = Response(content, content_type=FORMATS[fmt])
    download.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return download
