"""A message body as HTML: the writer's text, escaped, with web addresses
made links. No HTML a person typed is ever rendered; only ``http(s)://``
addresses become links (so ``javascript:`` stays text)."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

_ADDRESS = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"  # punctuation after an address belongs to the sentence


def as_html(text: str) -> Markup:
    """``text`` escaped, its web addresses as links that open apart from the portal."""
    parts, last = [], 0
    for match in _ADDRESS.finditer(text):
        address = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(address)
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup('<a href="{0}" rel="nofollow noopener noreferrer" '
                            'target="_blank">{0}</a>').format(address))
        last = end
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
