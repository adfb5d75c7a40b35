"""Counting the SQL statements a request issues (a page's work must not grow with the data)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event

from portal.extensions import db


def statements_during(call: Callable[[], object]) -> int:
    """How many SQL statements ``call()`` sends to the database."""
    return len(statements_of(call))


def statements_of(call: Callable[[], object]) -> list[str]:
    """The SQL statements ``call()`` sends, in order (their text names the
    one that repeats when a count grows)."""
    seen = []

    def listener(conn, cursor, statement, *rest):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen
