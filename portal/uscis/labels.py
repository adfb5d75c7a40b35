"""The one label map of each enum the USCIS panel shows: forms and
templates read the same words."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.models import DeadlineKind, Decision, ExpediteOutcome

DEADLINE_LABELS = {
    DeadlineKind.BIOMETRICS: _l("Biometrics appointment"),
    DeadlineKind.INTERVIEW: _l("Interview"),
    DeadlineKind.RFE_RESPONSE: _l("Answer to the Request for Evidence"),
}

APPOINTMENT_KINDS = (DeadlineKind.BIOMETRICS, DeadlineKind.INTERVIEW)

DECISION_LABELS = {
    Decision.APPROVED: _l("Approved"),
    Decision.DENIED: _l("Denied"),
}

EXPEDITE_LABELS = {
    ExpediteOutcome.PENDING: _l("Waiting for USCIS"),
    ExpediteOutcome.GRANTED: _l("Granted"),
    ExpediteOutcome.DENIED: _l("Denied"),
}

# The answers USCIS gives to an expedite request.
EXPEDITE_ANSWERS = (ExpediteOutcome.GRANTED, ExpediteOutcome.DENIED)
