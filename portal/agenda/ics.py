"""The agenda as an iCalendar file (RFC 5545), written with ``icalendar``.

Calendar apps copy a subscribed feed to their own servers (Google, Microsoft,
Apple) and show it on lock screens, so an event names only the case
reference and what the item is: no beneficiary, client, case or document
title, and no appointment place (free text that may name a clinic or a
person). The link leads to the case in the portal, behind its sign-in.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event, vDuration

from portal import notify
from portal.agenda.services import AgendaItem
from portal.models import User

# Calendar apps that honour it poll again after this long.
REFRESH = timedelta(hours=1)


def _host() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "portal.invalid"


def event_uid(item: AgendaItem) -> str:
    """Stable across fetches, so a calendar moves an item instead of adding
    it again: its kind, its row id and the portal's host."""
    return f"{item.kind}-{item.item_id}@{_host()}"


def _event(item: AgendaItem, now: datetime) -> Event:
    event = Event()
    event.add("uid", event_uid(item))
    event.add("dtstamp", now)
    # Translators: the title of a calendar event in the feed: the case reference, then what
    # the item is (e.g. "HP-2026-0042: RFE response due"). Never add a name here.
    event.add("summary", _("%(reference)s: %(what)s", reference=item.case.reference,
                           what=item.private_label))
    link = notify.link(f"/cases/{item.case.uuid}")
    event.add("url", link)
    event.add("description", link)
    if item.starts_at is not None:
        # An appointment: at its time, in UTC (the calendar shows it in the reader's zone).
        event.add("dtstart", item.starts_at)
    else:
        # A day: all-day, ending (exclusively) the next day, and not blocking the day's time.
        event.add("dtstart", item.due_on)
        event.add("dtend", item.due_on + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    return event


def calendar(owner: User, items: list[AgendaItem], now: datetime) -> bytes:
    """The feed of ``owner``'s ``items`` as iCalendar bytes, in ``owner``'s
    language (nobody is signed in when a calendar app fetches it)."""
    with force_locale(owner.language):
        cal = Calendar()
        cal.add("prodid", "-//Client portal//Agenda//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        # Translators: the name of the calendar a firm member subscribes to in their calendar app.
        cal.add("x-wr-calname", _("Case deadlines"))
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        # An X- property is text to the library: written as a duration here.
        cal.add("x-published-ttl", vDuration(REFRESH).to_ical().decode())
        for item in items:
            cal.add_component(_event(item, now))
        return cal.to_ical()
