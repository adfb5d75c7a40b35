"""USCIS tracking and the parole period: receipt numbers, case-status events,
appointments, Requests for Evidence, the decision, parole dates, expedite
requests and re-parole reminders."""
