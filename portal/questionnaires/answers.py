"""Reading a posted section of a questionnaire: each answer checked against
its question, and a post that does not match the page refused whole.

Field names: ``q-<question>`` for one answer; ``q-<question>-<part>`` for
an address's parts; ``q-<group>-<row>-<field>`` (rows from 0) for a group's
rows. Answers are kept as strings (a date as ``YYYY-MM-DD``, yes/no as
``yes``/``no``, a choice or a country by its code, an amount as a decimal
string), an address as a dict of its parts, a group as a list of dicts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import MultiDict

from portal.cases.countries import country_codes
from portal.errors import ServiceError
from portal.questionnaires.definitions import Question, Questionnaire, Section

PREFIX = "q-"
ADDRESS_PARTS = ("street", "street2", "city", "region", "postal_code", "country")
ADDRESS_REQUIRED = ("street", "city", "country")
LONGEST = {"long_text": 5000}
LONGEST_OTHER = 200
PHONE = re.compile(r"\+?[0-9 ()./-]{6,30}")
GROUP_NAME = re.compile(r"(\d{1,4})-([a-z0-9_]+)(?:-([a-z_0-9]+))?")
EARLIEST_YEAR = 1900
Answer = str | dict | list


class Refused(ServiceError):
    """A post that answers a question the page did not ask (another
    questionnaire's, a hidden or locked one): nothing of it is stored."""


@dataclass
class SectionAnswers:
    """What a post of one section says: its answers by question key (only
    the questions shown), and errors by field name."""

    answers: dict[str, Answer] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def is_shown(question: Question, answers: dict[str, Answer]) -> bool:
    """Whether ``question`` applies, given the answers so far."""
    if question.shown_if is None:
        return True
    return answers.get(question.shown_if.question) in question.shown_if.values


def is_empty(value: Answer | None) -> bool:
    """No answer: nothing typed, no address part, no row."""
    if isinstance(value, dict):
        return not any(value.values())
    if isinstance(value, list):
        return not value
    return not value


def read_section(questionnaire: Questionnaire, section: Section, form: MultiDict,
                 earlier: dict[str, Answer], editable: set[str] | None, today: date,
                 require: bool = True) -> SectionAnswers:
    """Check a post of ``section``. ``earlier`` is what is stored (conditions
    on earlier sections read it); ``editable`` limits the questions that may
    be answered (those the firm reopened), None for all. Without
    ``require`` (a draft kept for later) a missing answer is no error.

    Raises ``Refused`` when the post names a field the page cannot have
    shown: a question of another section or questionnaire, one its
    condition hides (when that condition is on an earlier section), or one
    that is not open for change."""
    posted = {name for name in form if name.startswith(PREFIX)}
    own = {q.key: q for q in section.questions}
    for name in posted:
        key = _question_key(name, own)
        if key is None or (editable is not None and key not in editable):
            raise Refused(_("This form does not match the questionnaire. Nothing was saved."))
    result = SectionAnswers()
    merged = dict(earlier)
    for question in section.questions:
        if editable is not None and question.key not in editable:
            continue
        name = PREFIX + question.key
        value, error = (_read_group(question, name, form, today) if question.is_group
                        else _read_one(question, name, form, today))
        shown = is_shown(question, merged)
        if not shown:
            controller_here = question.shown_if.question in own
            if is_empty(value):
                continue
            if not controller_here:
                raise Refused(_("This form does not match the questionnaire. Nothing was saved."))
            result.errors[name] = _("This question does not apply given your answer above: "
                                    "please leave it empty.")
            continue
        if error is None and require and question.required and is_empty(value):
            error = (_("Please add at least one.") if question.is_group
                     else _("Please answer this question."))
        if error is not None:
            result.errors[name] = error
        merged[question.key] = value
        result.answers[question.key] = value
    return result


def _question_key(name: str, own: dict[str, Question]) -> str | None:
    """The key of the question that field ``name`` belongs to, if this page has it."""
    rest = name[len(PREFIX):]
    for key, question in own.items():
        if rest == key:
            return None if question.type == "address" or question.is_group else key
        if not rest.startswith(key + "-"):
            continue
        tail = rest[len(key) + 1:]
        if question.type == "address" and tail in ADDRESS_PARTS:
            return key
        if question.is_group and _group_field(question, tail):
            return key
    return None


def _group_field(group: Question, tail: str) -> bool:
    match = GROUP_NAME.fullmatch(tail)
    if match is None:
        return False
    wanted = next((f for f in group.fields if f.key == match.group(2)), None)
    if wanted is None:
        return False
    part = match.group(3)
    return part is None if wanted.type != "address" else part in ADDRESS_PARTS


def _read_group(group: Question, name: str, form: MultiDict, today: date
                ) -> tuple[list[dict], str | None]:
    """The group's rows (blank rows dropped) and an error for the whole group."""
    indexes = sorted({int(GROUP_NAME.fullmatch(key[len(name) + 1:]).group(1))
                      for key in form if key.startswith(name + "-")})
    if len(indexes) > group.max_rows:
        return [], ngettext("You can add at most %(num)d row here.",
                            "You can add at most %(num)d rows here.", group.max_rows)
    rows, errors = [], []
    for index in indexes:
        row, row_errors = {}, []
        for question in group.fields:
            value, error = _read_one(question, f"{name}-{index}-{question.key}", form, today)
            row[question.key] = value
            if error:
                row_errors.append((question, error))
        if all(is_empty(v) for v in row.values()):
            continue
        row_errors += [(q, _("Please answer this question.")) for q in group.fields
                       if q.required and is_empty(row[q.key])]
        rows.append(row)
        errors += [(len(rows), question, error) for question, error in row_errors]
    if errors:
        number, question, error = errors[0]
        # Translators: an error in a repeated group, e.g. "Trip 2, Date of arrival: ...".
        return rows, _("%(item)s %(number)d, %(question)s: %(error)s", item=group.item_label,
                       number=number, question=question.label, error=error)
    return rows, None


def _read_one(question: Question, name: str, form: MultiDict, today: date
              ) -> tuple[Answer, str | None]:
    """One answer, tidied, and the error that makes it unusable (or None)."""
    if question.type == "address":
        parts = {part: form.get(f"{name}-{part}", "").strip() for part in ADDRESS_PARTS}
        if is_empty(parts):
            return parts, None
        if any(len(v) > LONGEST_OTHER for v in parts.values()):
            return parts, _("Please keep each line under %(num)d characters.", num=LONGEST_OTHER)
        if not all(parts[p] for p in ADDRESS_REQUIRED):
            return parts, _("Please give at least the street, the city and the country.")
        if parts["country"] not in country_codes():
            return parts, _("Please choose a country from the list.")
        return parts, None
    value = form.get(name, "").strip()
    if not value:
        return "", None
    longest = LONGEST.get(question.type, LONGEST_OTHER)
    if len(value) > longest:
        return value, _("Please keep this under %(num)d characters (it has %(length)d).",
                        num=longest, length=len(value))
    return _CHECKS.get(question.type, _no_check)(question, value, today)


def _no_check(question: Question, value: str, today: date) -> tuple[str, None]:
    return value, None


def _check_date(question: Question, value: str, today: date) -> tuple[str, str | None]:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value, _("Please enter the date as year-month-day, for example 1985-04-23.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value, _("That date does not exist. Please check the day and the month.")
    if day.year < EARLIEST_YEAR:
        return value, _("Please check the year.")
    if question.date_rule == "past" and day > today:
        return value, _("This date cannot be in the future.")
    if question.date_rule == "future" and day < today:
        return value, _("This date cannot be in the past.")
    return value, None


def _check_listed(allowed):
    def check(question: Question, value: str, today: date) -> tuple[str, str | None]:
        if value in allowed(question):
            return value, None
        return value, _("Please choose one of the options.")
    return check


def _check_phone(question: Question, value: str, today: date) -> tuple[str, str | None]:
    if PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 6:
        return value, None
    return value, _("Please enter a phone number with its country code, for example "
                    "+380 44 123 4567.")


def _check_email(question: Question, value: str, today: date) -> tuple[str, str | None]:
    try:
        return validate_email(value, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return value, _("Please enter an email address like name@example.com.")


def _check_number(question: Question, value: str, today: date) -> tuple[str, str | None]:
    if re.fullmatch(r"\d{1,9}", value):
        return str(int(value)), None
    return value, _("Please enter a whole number, for example 3.")


def _check_money(question: Question, value: str, today: date) -> tuple[str, str | None]:
    # "25,000.50", "25.000,50" and "25 000" are all twenty-five thousand:
    # a separator followed by exactly three digits groups thousands.
    tidy = re.sub(r"[ \u00a0$]", "", value)
    tidy = re.sub(r"[.,](?=\d{3}(?:[.,]|$))", "", tidy).replace(",", ".")
    try:
        amount = Decimal(tidy)
    except InvalidOperation:
        amount = None
    if (amount is None or not amount.is_finite() or amount < 0 or amount >= 10 ** 12
            or amount.as_tuple().exponent < -2):
        return value, _("Please enter an amount in US dollars, for example 25000.")
    return f"{amount:.2f}", None


_CHECKS = {
    "date": _check_date,
    "yes_no": _check_listed(lambda q: ("yes", "no")),
    "choice": _check_listed(lambda q: {c.value for c in q.choices}),
    "country": _check_listed(lambda q: country_codes()),
    "phone": _check_phone,
    "email": _check_email,
    "number": _check_number,
    "money": _check_money,
}
