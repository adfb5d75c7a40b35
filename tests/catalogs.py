"""Checks of the translation catalogs: what keeps a catalog from shipping,
and whether the template still matches the source (``make extract-messages``)."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "portal" / "translations"
TEMPLATE = CATALOGS / "messages.pot"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# As the Makefile's extract-messages calls pybabel (-k _l -c "Translators:").
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
COMMENT_TAGS = ("Translators:",)


def read_catalog(path: Path) -> Catalog:
    """The catalog (or template) at ``path``."""
    with open(path, "rb") as f:
        return read_po(f)


def catalog_problems(catalog: Catalog, template: Catalog) -> list[str]:
    """Why ``catalog`` may not ship against ``template``: each message of the
    template it lacks, and each of its messages untranslated, fuzzy (a
    guess ``pybabel update`` made, which ``--use-fuzzy`` would compile in) or
    with other placeholders than its id. Empty when it may ship."""
    problems = [f"missing {msgid!r}: run make extract-messages and translate"
                for msgid in sorted(_ids(template) - _ids(catalog), key=str)]
    if catalog.fuzzy:
        problems.append("the header is marked fuzzy")
    for message in catalog:
        if not message.id:
            continue
        # A plural entry holds a tuple of ids and one of forms: every form is
        # translated and carries the placeholders of the ids.
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(forms):
            problems.append(f"untranslated {message.id!r}")
        if message.fuzzy:
            problems.append(f"fuzzy {message.id!r}")
        wanted = {p for text in ids for p in PLACEHOLDER.findall(text)}
        problems += [f"placeholders of {message.id!r} differ in {form!r}" for form in forms
                     if form and set(PLACEHOLDER.findall(form)) != wanted]
    return problems


def _ids(catalog: Catalog) -> set:
    return {(message.id, message.context) for message in catalog if message.id}


def extract_source() -> Catalog:
    """The messages of the source now, extracted in-process as ``make
    extract-messages`` does (babel.cfg, the same keywords and comment tags)."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    catalog = Catalog()
    for _path, _lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS, strip_comment_tags=True):
        catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


def template_drift(template: Catalog, source: Catalog) -> tuple[set, set]:
    """The messages of ``source`` the template lacks, and those it holds
    that the source no longer has."""
    return _ids(source) - _ids(template), _ids(template) - _ids(source)
