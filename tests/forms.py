"""Read a page's form as a browser would submit it."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            elif attrs.get("type") != "submit":
                self.values[name] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # A browser drops the newline right after <textarea>.
            text = self.values[self._textarea]
            self.values[self._textarea] = text[2:] if text.startswith("\r\n") else (
                text[1:] if text.startswith("\n") else text)
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str) -> dict[str, str]:
    """Every field of the page's forms with the value a browser would send
    untouched (ticked checkboxes only, selected options, textarea text)."""
    reader = _FormReader()
    reader.feed(html)
    return reader.values


def comparable(page: str) -> str:
    """``page`` without what two answers may differ in for reasons a test
    comparing them does not care about: the CSRF tokens (signed with the
    time) and the language switch's way back (the path that was asked for)."""
    page = re.sub(r'name="csrf_token"[^>]*>', "", page)
    return re.sub(r'<input type="hidden" name="next" value="[^"]*">', "", page)
