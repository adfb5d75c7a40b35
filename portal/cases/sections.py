"""What other features add to the case pages, offered once when the app is set up.

The case page gathers several features (requests, USCIS, messages, people);
the lists of cases show a little of some of them (documents accepted, unread
messages). Each feature offers its part here from its blueprint module, and
``portal.cases`` reads what was offered without importing the feature:
Indico's template hooks, without the signal machinery. ::

    sections.offer(bp, Section("uscis", _l("USCIS and parole"), order=30,
                               template="uscis/_panel.html", context=uscis_section))
    sections.offer(bp, CaseFacts("unread", unread_by_case))

What was offered lives in ``app.extensions``, so every app (each test's
too) has its own, filled when the feature's blueprint is registered.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app
from flask_babel import LazyString

from portal.models import Case, User

SECTIONS = "case_sections"
FACTS = "case_facts"


@dataclass(frozen=True)
class Section:
    """A part of the case page.

    ``context(case, user, page)`` returns what ``template`` needs, merged
    into the page's context, or None when the section has nothing to show
    ``user``. ``page`` is what the case page already knows (``case``,
    ``case_type``, ``can_manage``, ``show_story``, ``case_role``, ``today``);
    read it, do not change it. The function must issue a fixed number of SQL
    statements however many rows lie behind it (the case page is counted).

    ``key`` is the section's id on the page, which the page's navigation
    links to; ``title`` its name there. Sections come in ``order`` (lower
    first) for the firm and in ``client_order`` (``order`` if None) for
    clients and sponsors, whose page leads with what they must do.
    """

    key: str
    title: LazyString
    order: int
    template: str
    context: Callable[[Case, User, Mapping], dict | None]
    client_order: int | None = None

    def place_for(self, user: User) -> int:
        """Where the section comes on ``user``'s page."""
        if user.is_firm or self.client_order is None:
            return self.order
        return self.client_order


@dataclass(frozen=True)
class CaseFacts:
    """What a feature shows of each case in a list of cases (the firm's
    dashboard, a client's cards): ``load(user, cases)`` returns it by case
    id, in a fixed number of SQL statements whatever the number of cases.
    Templates read it as ``facts[key][case.id]``."""

    key: str
    load: Callable[[User, list[Case]], dict[int, object]]


def register(app: Flask, item: Section | CaseFacts) -> None:
    """Add a section or case facts to ``app``. Raises ``ValueError`` when
    another one of the same kind already has its key."""
    kind = SECTIONS if isinstance(item, Section) else FACTS
    found = app.extensions.setdefault(kind, {})
    if found.get(item.key, item) is not item:
        raise ValueError(f"{kind}: {item.key!r} is offered twice")
    found[item.key] = item


def offer(bp: Blueprint, *items: Section | CaseFacts) -> None:
    """Register ``items`` on each app ``bp`` is registered on, once per app."""
    for item in items:
        bp.record_once(lambda state, item=item: register(state.app, item))


def page_sections(case: Case, user: User, page: dict) -> tuple[list[Section], dict]:
    """The sections ``user`` sees on ``case``'s page, in their order, and
    ``page`` with each one's context merged in. Raises ``ValueError`` when
    a section's context reuses a name the page or another section gave
    (one would silently hide the other)."""
    offered = sorted(current_app.extensions.get(SECTIONS, {}).values(),
                     key=lambda s: (s.place_for(user), s.key))
    shown, merged = [], dict(page)
    for section in offered:
        context = section.context(case, user, page)
        if context is None:
            continue
        clash = merged.keys() & context.keys()
        if clash:
            raise ValueError(f"section {section.key!r} reuses {sorted(clash)}")
        merged.update(context)
        shown.append(section)
    return shown, merged


def facts_for(user: User, cases: list[Case], keys: tuple[str, ...]) -> dict[str, dict]:
    """The facts named ``keys`` about ``cases``, as ``user`` may see them,
    by key (only those the page shows are loaded). Raises ``KeyError`` for
    a key no feature offered."""
    offered = current_app.extensions.get(FACTS, {})
    return {key: offered[key].load(user, cases) for key in keys}
