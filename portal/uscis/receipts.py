"""USCIS receipt numbers: three letters for the service centre, then ten digits."""
from __future__ import annotations

import re

from portal.models.case import normalise_receipt

# Service centres and offices whose receipts the firm sees (DOMAIN.md); others
# are accepted with a warning, since USCIS adds prefixes now and then.
KNOWN_PREFIXES = frozenset({"EAC", "WAC", "LIN", "SRC", "NBC", "MSC", "IOE", "YSC"})
_SHAPE = re.compile(r"[A-Z]{3}[0-9]{10}")


# What people type, as USCIS writes it (upper case, no spaces or dashes): the
# column's own rule, which the firm's search of cases uses too.
normalise = normalise_receipt


def is_well_formed(number: str) -> bool:
    """True for a normalised number of three letters and ten digits."""
    return bool(_SHAPE.fullmatch(number))


def has_known_prefix(number: str) -> bool:
    """True when the number's service-centre prefix is one the firm knows."""
    return number[:3] in KNOWN_PREFIXES
