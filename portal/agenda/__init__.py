"""The firm's agenda: every dated item across a person's cases, on a page and
as a secret iCalendar feed."""
