"""Numbered pages of a list (the review queue, the accounts): a page more
than asked for is fetched to know whether another follows, so no COUNT."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request
from sqlalchemy import Select

from portal.extensions import db

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows (or items built from them), its number,
    and whether a page follows."""

    items: list
    page: int
    more: bool


def fetch(query: Select, page: int, size: int = PAGE_SIZE) -> Page:
    """Page ``page`` (from 1) of ``query``'s rows, ``size`` rows a page."""
    rows = db.session.execute(query.limit(size + 1).offset((page - 1) * size)).all()
    return Page(rows[:size], page, len(rows) > size)


def number(name: str = "page") -> int:
    """The page the address asks for in ``?<name>=``; the first page for
    anything that is not a sensible page number."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1
