"""Case types are data: each ``*.toml`` file here defines one type's stages,
default evidence checklist and USCIS status titles. Adding a type needs no code.

Stages form a path, not a line. ``kind = "step"`` stages are the usual way
through, in file order; a ``"detour"`` (a Request for Evidence) leaves the
path after its ``returns_to`` step and comes back to it; an ``"ending"``
(denied, closed) ends the path, and one with ``closes = true`` closes the case.

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
# Questionnaires (``questionnaires/*.toml``) add their intros, labels, help and row names.
TRANSLATABLE = ("name", "title", "next", "todo", "instructions", "intro", "label", "help",
                "item_label")


STEP, DETOUR, ENDING = "step", "detour", "ending"


@dataclass(frozen=True)
class Stage:
    """One stage of a case type."""

    key: str
    title: LazyString
    next: LazyString  # what happens next, in the client's words
    todo: LazyString | None  # what the client must do, if anything
    kind: str = STEP
    returns_to: str | None = None  # a detour's step, where it leaves and rejoins the path
    closes: bool = False  # an ending that closes the case


@dataclass(frozen=True)
class PathStep:
    """A stage as the case's progress shows it: ``state`` is "done",
    "current" or "ahead"."""

    stage: Stage
    state: str


@dataclass(frozen=True)
class UscisStatus:
    """A USCIS online case-status title the firm records as an event, and
    the stage it usually moves the case to (None: it does not move it)."""

    title: str  # USCIS's English wording, kept as it appears on their site
    stage: str | None


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
    uscis_statuses: tuple[UscisStatus, ...] = ()

    def stage(self, key: str) -> Stage:
        """Return the stage with ``key``; raises ``KeyError`` for an unknown key."""
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    def has_stage(self, key: str) -> bool:
        """True if this type has a stage ``key``."""
        return any(stage.key == key for stage in self.stages)

    @property
    def steps(self) -> tuple[Stage, ...]:
        """The usual way through, in order: stages that are neither detours nor endings."""
        return tuple(stage for stage in self.stages if stage.kind == STEP)

    def path(self, current: str, visited: set[str] | frozenset[str] = frozenset()) -> list[PathStep]:
        """The case's progress: steps done, where it is, and what normally comes next.

        On a step, earlier steps are done and later ones ahead (a case sent
        back shows its later steps ahead again). On a detour, the detour sits
        after the step it leaves from. At an ending, the steps the case went
        through (``visited``: the stages of its history) are done, up to the
        furthest, and nothing is ahead.
        """
        stage = self.stage(current)
        steps = self.steps
        keys = [s.key for s in steps]
        if stage.kind == ENDING:
            reached = [i for i, key in enumerate(keys) if key in visited]
            done = steps[:max(reached) + 1] if reached else ()
            return [PathStep(s, "done") for s in done] + [PathStep(stage, "current")]
        if stage.kind == DETOUR:
            split = keys.index(stage.returns_to) + 1
            return ([PathStep(s, "done") for s in steps[:split]] + [PathStep(stage, "current")]
                    + [PathStep(s, "ahead") for s in steps[split:]])
        split = keys.index(stage.key)
        return ([PathStep(s, "done") for s in steps[:split]] + [PathStep(stage, "current")]
                + [PathStep(s, "ahead") for s in steps[split + 1:]])

    def status(self, title: str) -> UscisStatus | None:
        """The USCIS status with this exact title, or None."""
        return next((s for s in self.uscis_statuses if s.title == title), None)


def _lazy(text: str | None) -> LazyString | None:
    return lazy_gettext(text) if text else None


def _load(path: Path) -> CaseType:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    case_type = CaseType(
        key=data["key"],
        name=_lazy(data["name"]),
        reference_prefix=data["reference_prefix"],
        stages=tuple(Stage(s["key"], _lazy(s["title"]), _lazy(s["next"]), _lazy(s.get("todo")),
                           s.get("kind", STEP), s.get("returns_to"), s.get("closes", False))
                     for s in data["stages"]),
        checklist=tuple(ChecklistItem(c["title"], c["addressed_to"], c["instructions"])
                        for c in data.get("checklist", [])),
        uscis_statuses=tuple(UscisStatus(u["title"], u.get("stage"))
                             for u in data.get("uscis_statuses", [])),
    )
    _check(case_type)
    return case_type


def _check(case_type: CaseType) -> None:
    """Refuse a definition whose stages do not form a path."""
    keys = [s.key for s in case_type.stages]
    step_keys = {s.key for s in case_type.steps}
    problems = []
    if len(set(keys)) != len(keys):
        problems.append("duplicate stage keys")
    if not step_keys:
        problems.append("no steps")
    for stage in case_type.stages:
        if stage.kind not in (STEP, DETOUR, ENDING):
            problems.append(f"{stage.key}: unknown kind {stage.kind!r}")
        if stage.kind == DETOUR and stage.returns_to not in step_keys:
            problems.append(f"{stage.key}: a detour must return to a step")
        if stage.closes and stage.kind != ENDING:
            problems.append(f"{stage.key}: only an ending closes a case")
    for status in case_type.uscis_statuses:
        if status.stage is not None and status.stage not in keys:
            problems.append(f"USCIS status {status.title!r}: unknown stage {status.stage!r}")
    if problems:
        raise ValueError(f"case type {case_type.key}: " + "; ".join(problems))


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
