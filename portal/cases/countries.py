"""Countries a beneficiary may live in: ISO 3166 alpha-2 codes, named in the
reader's language by Babel (CLDR)."""
from __future__ import annotations

import unicodedata
from functools import cache

from babel import Locale

# Two-letter CLDR codes that are no place a person lives in: groupings and
# test locales.
NOT_PLACES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper() and code not in NOT_PLACES


@cache
def country_codes() -> frozenset[str]:
    """Every code the portal accepts for a beneficiary's country."""
    return frozenset(code for code in Locale("en").territories if _is_country(code))


def _sort_key(name: str) -> str:
    # "Åland" next to "Aland", "Émirats" next to "Emirats": accents do not
    # send a name to the end of the list.
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def country_choices(locale: Locale) -> list[tuple[str, str]]:
    """(code, name) for every accepted country, named in ``locale`` and
    sorted by name."""
    names = locale.territories
    codes = country_codes()
    return sorted(((code, names.get(code, code)) for code in codes),
                  key=lambda choice: _sort_key(choice[1]))


def country_name(code: str, locale: Locale) -> str:
    """``code``'s name in ``locale``; the code itself when Babel has none."""
    return locale.territories.get(code, code)
