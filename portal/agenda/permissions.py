"""Who has an agenda and a calendar feed: the firm's people, while active.
Clients and sponsors are answered 404, as if the pages did not exist."""
from __future__ import annotations

from portal.models import Role, User


def can_use_agenda(user: User) -> bool:
    """The agenda and its feed belong to active attorneys, staff and admins."""
    if user.is_firm and user.active:
        return True
    return False


def can_choose_scope(user: User) -> bool:
    """Staff and admins see every open case and may narrow the agenda to the
    cases whose team they are on; an attorney's agenda is already their own cases."""
    if user.role in (Role.ADMIN, Role.STAFF):
        return True
    return False
