"""Case types are data: each ``*.toml`` file here defines one type's stages and
default evidence checklist. Adding a type needs no code.

Texts in the files are English source strings. They are translated when shown
(``stage.title`` etc. are lazy strings) and extracted for the catalogs by
``extract_toml``, which ``babel.cfg`` names.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import LazyString, gettext, lazy_gettext

HERE = Path(__file__).parent
TRANSLATABLE = ("name", "title", "next", "todo", "instructions")


@dataclass(frozen=True)
class Stage:
    """One step of a case type's progress line."""

    key: str
    title: LazyString
    next: LazyString  # what happens next, in the client's words
    todo: LazyString | None  # what the client must do, if anything


@dataclass(frozen=True)
class ChecklistItem:
    """A document the firm usually asks for in this type of case. The
    English source texts are what a request made from it stores."""

    source_title: str
    addressed_to: str  # "client" or "sponsor"; a sponsor item is asked of each sponsor
    source_instructions: str

    @property
    def title(self) -> LazyString:
        return lazy_gettext(self.source_title)

    @property
    def instructions(self) -> LazyString:
        return lazy_gettext(self.source_instructions)


@dataclass(frozen=True)
class CaseType:
    """A kind of matter with its stages (in order) and default checklist."""

    key: str
    name: LazyString
    reference_prefix: str
    stages: tuple[Stage, ...]
    checklist: tuple[ChecklistItem, ...]

    def stage(self, key: str) -> Stage:
        """Return the stage with ``key``; raises ``KeyError`` for an unknown key."""
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    def stage_index(self, key: str) -> int:
        """Position of the stage in the progress line (0-based)."""
        return [s.key for s in self.stages].index(key)


def _lazy(text: str | None) -> LazyString | None:
    return lazy_gettext(text) if text else None


def _load(path: Path) -> CaseType:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return CaseType(
        key=data["key"],
        name=_lazy(data["name"]),
        reference_prefix=data["reference_prefix"],
        stages=tuple(Stage(s["key"], _lazy(s["title"]), _lazy(s["next"]), _lazy(s.get("todo")))
                     for s in data["stages"]),
        checklist=tuple(ChecklistItem(c["title"], c["addressed_to"], c["instructions"])
                        for c in data.get("checklist", [])),
    )


@cache
def case_types() -> dict[str, CaseType]:
    """All case types by key, loaded once from the package's TOML files."""
    types = (_load(path) for path in sorted(HERE.glob("*.toml")))
    return {t.key: t for t in types}


def get_case_type(key: str) -> CaseType:
    """Return the case type ``key``; raises ``KeyError`` if there is none."""
    return case_types()[key]


@cache
def _checklist_texts() -> frozenset[str]:
    return frozenset(text for case_type in case_types().values() for item in case_type.checklist
                     for text in (item.source_title, item.source_instructions))


def translate_checklist_text(text: str) -> str:
    """``text`` in the reader's language when it is a checklist's standard
    wording (kept in English in the database); the firm's own words as typed."""
    return gettext(text) if text in _checklist_texts() else text


def extract_toml(fileobj, keywords, comment_tags, options):
    """Babel extractor: yield every translatable text of a case-type file."""
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TRANSLATABLE and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for text in walk(data):
        yield 0, "gettext", text, ["Translators: from a case-type definition file"]
