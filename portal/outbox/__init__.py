"""The mail outbox: rows written with the change they announce (``services``),
delivered and swept by jobs (``tasks``)."""
