"""All models; importing this package registers every table with the metadata."""
from portal.models.audit import AuditEvent
from portal.models.case import Case, CaseFlag, CaseMembership, Decision, TimelineEvent
from portal.models.evidence import (Document, DocumentVersion, EncryptionKeyset, Preview,
                                    PreviewState, ScanState, VersionStatus)
from portal.models.factor import Passkey, RecoveryCode
from portal.models.invitation import Invitation
from portal.models.message import (CaseMute, ExportState, Message, MessageThread, ThreadExport,
                                   ThreadNotice, ThreadRead)
from portal.models.outbox import OutboxMessage, OutboxState
from portal.models.password_reset import PasswordReset
from portal.models.request import (DocumentRequest, QuestionnaireResponse, RequestReminder,
                                   RequestState)
from portal.models.stored_object import ObjectState, Purpose, StoredObject
from portal.models.tracking import (CalendarFeed, CaseDeadline, DeadlineKind, ExpediteOutcome,
                                    ExpediteRequest, ParoleReminder, ReferenceCounter)
from portal.models.upload import ResumableUpload, UploadPiece, UploadState
from portal.models.user import Role, User, UserSession

__all__ = ["AuditEvent", "CalendarFeed", "Case", "CaseDeadline", "CaseMute", "CaseFlag", "CaseMembership",
           "DeadlineKind", "Decision", "ExportState", "Document", "DocumentRequest", "DocumentVersion",
           "EncryptionKeyset", "ExpediteOutcome", "ExpediteRequest", "Invitation", "Message",
           "MessageThread", "ObjectState",
           "OutboxMessage", "OutboxState", "ParoleReminder", "Passkey", "PasswordReset", "Preview",
           "PreviewState", "Purpose", "QuestionnaireResponse", "ScanState",
           "RecoveryCode", "ReferenceCounter", "RequestReminder", "RequestState", "ResumableUpload",
           "Role", "StoredObject", "UploadPiece", "UploadState",
           "ThreadExport", "ThreadNotice", "ThreadRead", "TimelineEvent", "User", "UserSession", "VersionStatus"]
