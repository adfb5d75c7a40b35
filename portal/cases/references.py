"""Case references (``HP-2026-0042``): a prefix from the case type, the
year, and a number counted per prefix and year.

The count lives in ``reference_counters`` and is raised by one
``UPDATE ... SET last = last + 1 ... RETURNING last``: the database hands
each caller its own number, and on PostgreSQL the row stays locked until the
caller's transaction ends, so two cases opened at once never get the same
one and a transaction that rolls back gives its number back (no gaps).
``cases.reference`` is unique as well, as a backstop.
"""
from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.models import Case
from portal.models.tracking import ReferenceCounter

_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def format_reference(prefix: str, year: int, number: int) -> str:
    """``HP-2026-0042``: four digits at least, more past 9999."""
    return f"{prefix}-{year}-{number:04d}"


def allocate(prefix: str, year: int) -> str:
    """The next free reference for ``prefix`` and ``year``, in the caller's
    transaction (the caller commits; a rollback releases the number).

    A number already taken by a case made by hand (imported, or seeded
    before the counter existed) is skipped rather than handed out again.
    """
    insert = _INSERTS[db.session.get_bind().dialect.name]
    # The first case of a prefix and year creates its counter; of two doing so
    # at once, the second inserts nothing (and waits for the first on PostgreSQL).
    db.session.execute(insert(ReferenceCounter)
                       .values(prefix=prefix, year=year, last=0)
                       .on_conflict_do_nothing(index_elements=["prefix", "year"]))
    while True:
        number = db.session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
            .values(last=ReferenceCounter.last + 1)
            .returning(ReferenceCounter.last)
            .execution_options(synchronize_session=False)).scalar_one()
        reference = format_reference(prefix, year, number)
        if not db.session.scalar(select(exists().where(Case.reference == reference))):
            return reference
