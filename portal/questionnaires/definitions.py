"""Questionnaires are data, beside the case types' checklists: each
``portal/case_types/questionnaires/*.toml`` defines one, for one case type
and one kind of person (the client or a sponsor). Adding one needs no code.

A questionnaire has sections (one page each when answering); a section has
questions. A question has a ``type`` (``TYPES``), a label and help text,
is required unless ``optional``, may name the USCIS form item it fills
(``form_item``, kept in English), and may be ``shown_if`` another answer
has a value. A ``group`` repeats its ``fields`` once per row the person
adds, up to ``max_rows``.

Texts are English source strings, translated when shown (lazy strings) and
extracted for the catalogs by ``portal.case_types.extract_toml``. A file
that breaks a rule (an unknown type, a key used twice, a condition on a
question that comes later) is refused when the app loads it.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import LazyString, lazy_gettext

from portal.case_types import HERE as CASE_TYPES_DIR
from portal.case_types import case_types

DIRECTORY = CASE_TYPES_DIR / "questionnaires"
TYPES = ("text", "long_text", "date", "yes_no", "choice", "country", "address", "phone",
         "email", "number", "money", "group")
# The most rows any group may allow, whatever its file says: a page of 30
# family members is already long on a phone.
MOST_ROWS = 30
KEY = re.compile(r"[a-z0-9_]{1,40}")


@dataclass(frozen=True)
class Choice:
    """One option of a ``choice`` question."""

    value: str
    source_label: str

    @property
    def label(self) -> LazyString:
        return lazy_gettext(self.source_label)

    @property
    def pair(self) -> tuple[str, LazyString]:
        """(value, label), as a list of radio buttons wants them."""
        return self.value, self.label


@dataclass(frozen=True)
class Condition:
    """Shown only when question ``question`` has one of ``values``."""

    question: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """One question, or a repeating group of ``fields`` (``type == "group"``)."""

    key: str
    type: str
    source_label: str
    source_help: str = ""
    required: bool = True
    form_item: str | None = None
    date_rule: str | None = None  # "past" (not after today) or "future" (not before)
    choices: tuple[Choice, ...] = ()
    shown_if: Condition | None = None
    fields: tuple[Question, ...] = ()
    max_rows: int = 0
    source_item_label: str = ""

    @property
    def label(self) -> LazyString:
        return lazy_gettext(self.source_label)

    @property
    def help(self) -> LazyString | None:
        return lazy_gettext(self.source_help) if self.source_help else None

    @property
    def item_label(self) -> LazyString:
        return lazy_gettext(self.source_item_label or self.source_label)

    @property
    def is_group(self) -> bool:
        return self.type == "group"

    def choice_label(self, value: str) -> LazyString | str:
        """The label of the choice ``value`` (the value itself if unknown)."""
        return next((c.label for c in self.choices if c.value == value), value)


@dataclass(frozen=True)
class Section:
    """One page of the questionnaire."""

    key: str
    source_title: str
    source_intro: str
    questions: tuple[Question, ...]

    @property
    def title(self) -> LazyString:
        return lazy_gettext(self.source_title)

    @property
    def intro(self) -> LazyString | None:
        return lazy_gettext(self.source_intro) if self.source_intro else None


@dataclass(frozen=True)
class Questionnaire:
    """A questionnaire: for ``case_type``, answered by ``addressed_to``
    ("client" or "sponsor")."""

    key: str
    case_type: str
    addressed_to: str
    source_title: str
    source_intro: str
    sections: tuple[Section, ...]

    @property
    def title(self) -> LazyString:
        return lazy_gettext(self.source_title)

    @property
    def intro(self) -> LazyString | None:
        return lazy_gettext(self.source_intro) if self.source_intro else None

    def section(self, key: str) -> Section:
        """The section ``key``; raises ``KeyError`` for an unknown one."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def questions(self) -> dict[str, Question]:
        """Every top-level question by key, in order."""
        return {q.key: q for section in self.sections for q in section.questions}

    def section_of(self, question_key: str) -> Section:
        """The section holding question ``question_key``."""
        return next(s for s in self.sections if any(q.key == question_key for q in s.questions))


def _question(data: dict, in_group: bool) -> Question:
    equals = (data.get("shown_if") or {}).get("equals")
    condition = None
    if "shown_if" in data:
        condition = Condition(data["shown_if"]["question"],
                              tuple(equals) if isinstance(equals, list) else (str(equals),))
    known = {"key", "type", "label", "help", "optional", "form_item", "date", "choices",
             "shown_if", "fields", "max_rows", "item_label"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"question {data.get('key')!r}: unknown settings {sorted(unknown)}")
    return Question(
        key=data["key"], type=data["type"], source_label=data["label"],
        source_help=data.get("help", ""), required=not data.get("optional", False),
        form_item=data.get("form_item"), date_rule=data.get("date"),
        choices=tuple(Choice(c["value"], c["label"]) for c in data.get("choices", [])),
        shown_if=condition,
        fields=tuple(_question(f, True) for f in data.get("fields", [])) if not in_group else (),
        max_rows=data.get("max_rows", 0), source_item_label=data.get("item_label", ""))


def _load(path: Path) -> Questionnaire:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    questionnaire = Questionnaire(
        key=data["key"], case_type=data["case_type"], addressed_to=data["addressed_to"],
        source_title=data["title"], source_intro=data.get("intro", ""),
        sections=tuple(Section(s["key"], s["title"], s.get("intro", ""),
                               tuple(_question(q, False) for q in s["questions"]))
                       for s in data["sections"]))
    problems = _problems(questionnaire)
    if problems:
        raise ValueError(f"questionnaire {path.name}: " + "; ".join(problems))
    return questionnaire


def _problems(questionnaire: Questionnaire) -> list[str]:
    """What is wrong with a definition (nothing: an empty list)."""
    problems = []
    if questionnaire.case_type not in case_types():
        problems.append(f"unknown case type {questionnaire.case_type!r}")
    if questionnaire.addressed_to not in ("client", "sponsor"):
        problems.append("addressed_to must be client or sponsor")
    if not KEY.fullmatch(questionnaire.key) or not questionnaire.sections:
        problems.append("a key of a-z, 0-9 and _, and at least one section")
    seen_sections, seen = set(), {}
    for section in questionnaire.sections:
        if section.key in seen_sections or not KEY.fullmatch(section.key):
            problems.append(f"section {section.key!r}: bad or repeated key")
        seen_sections.add(section.key)
        for question in section.questions:
            problems += _question_problems(question, seen, in_group=False)
            seen[question.key] = question
    return problems


def _question_problems(question: Question, seen: dict[str, Question], in_group: bool) -> list[str]:
    where = f"question {question.key!r}"
    problems = []
    if not KEY.fullmatch(question.key) or question.key in seen:
        problems.append(f"{where}: bad or repeated key")
    if question.type not in TYPES or (in_group and question.is_group):
        problems.append(f"{where}: unknown type {question.type!r}")
    if (question.type == "choice") != bool(question.choices):
        problems.append(f"{where}: choices belong to, and only to, a choice question")
    if question.date_rule not in (None, "past", "future") or (
            question.date_rule and question.type != "date"):
        problems.append(f"{where}: date must be past or future, on a date question")
    if question.shown_if is not None:
        target = seen.get(question.shown_if.question)
        if in_group or target is None or target.is_group:
            problems.append(f"{where}: shown_if must name an earlier question outside a group")
    if question.is_group:
        if not question.fields or not 1 <= question.max_rows <= MOST_ROWS:
            problems.append(f"{where}: a group needs fields and max_rows of 1 to {MOST_ROWS}")
        fields: dict[str, Question] = {}
        for field in question.fields:
            problems += _question_problems(field, fields, in_group=True)
            fields[field.key] = field
    return problems


@cache
def questionnaires() -> dict[str, Questionnaire]:
    """Every questionnaire by key, loaded once."""
    found = (_load(path) for path in sorted(DIRECTORY.glob("*.toml")))
    return {q.key: q for q in found}


def get_questionnaire(key: str) -> Questionnaire:
    """The questionnaire ``key``; raises ``KeyError`` for an unknown one."""
    return questionnaires()[key]


def for_case_type(case_type: str) -> list[Questionnaire]:
    """The questionnaires of ``case_type``, in file order."""
    return [q for q in questionnaires().values() if q.case_type == case_type]
