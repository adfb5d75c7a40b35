"""All models; importing this package registers every table with the metadata."""
from portal.models.audit import AuditEvent
from portal.models.case import Case, CaseFlag, CaseMembership, TimelineEvent
from portal.models.invitation import Invitation
from portal.models.user import Role, User, UserSession

__all__ = ["AuditEvent", "Case", "CaseFlag", "CaseMembership", "Invitation",
           "Role", "TimelineEvent", "User", "UserSession"]
