"""Who may read the audit trail."""
from __future__ import annotations

from portal.cases.permissions import can_manage_case
from portal.models import Case, Role, User


def can_see_case_trail(user: User, case: Case) -> bool:
    """The trail of a case: admins, and the attorneys on its team (who run
    it). Staff run cases too, but the trail (who looked at what, from
    where) is for the responsible attorney and the admins."""
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.ATTORNEY:
        return can_manage_case(user, case)
    return False
