"""SQLModel tables, one module per area. Importing this package registers every table on ``SQLModel.metadata``."""

from atlas_app.models.audit import AuditChainHead, AuditEntry
from atlas_app.models.booking import (
    ACTIVE_BOOKING_STATUSES,
    ApiToken,
    Booking,
    BookingTerms,
    CallLog,
    Client,
    ClientEvent,
    CourseSession,
    CourseType,
    ImportJob,
    Offer,
    PublicLookupAttempt,
    Region,
    SpecialRequest,
    Venue,
)
from atlas_app.models.identity import (
    AccountLinkRequest,
    AuthSession,
    LivePoller,
    LoginAttempt,
    PasswordResetToken,
    Role,
    SecondFactorChallenge,
    TwoFactorRecoveryCode,
    User,
    UserRole,
)
from atlas_app.models.outbox import EmailAttachment, EmailMessage
from atlas_app.models.retention import RetentionRule
from atlas_app.models.payments import (
    CheckoutAttempt,
    Payment,
    PaymentPlan,
    PlanInstalment,
    ProcessedWebhookEvent,
    Refund,
)
from atlas_app.models.tenancy import Organisation

__all__ = [
    "RetentionRule",
    "AccountLinkRequest",
    "SecondFactorChallenge",
    "TwoFactorRecoveryCode",
    "ACTIVE_BOOKING_STATUSES",
    "ApiToken",
    "Booking",
    "BookingTerms",
    "CallLog",
    "Client",
    "ClientEvent",
    "CourseSession",
    "CourseType",
    "ImportJob",
    "Offer",
    "PublicLookupAttempt",
    "Region",
    "SpecialRequest",
    "Venue",
    "AuditChainHead",
    "AuditEntry",
    "AuthSession",
    "EmailAttachment",
    "EmailMessage",
    "LivePoller",
    "LoginAttempt",
    "Organisation",
    "PasswordResetToken",
    "Role",
    "User",
    "UserRole",
    "CheckoutAttempt",
    "Payment",
    "PaymentPlan",
    "PlanInstalment",
    "ProcessedWebhookEvent",
    "Refund",
]
from atlas_app.models import casework  # noqa: E402,F401  (casework tables)
from atlas_app.models import instructors  # noqa: E402,F401  (instructors and assignments)
from atlas_app.models import dashboards  # noqa: E402,F401  (dashboard tables)
from atlas_app.models.letters import EmailTemplate, LetterTemplate  # noqa: E402,F401  (letter and email templates)
from atlas_app.models.waiting_list import WaitingEntry  # noqa: E402,F401  (the waiting list)
from atlas_app.models import utilities  # noqa: E402,F401  (installations, checks, engineers)
from atlas_app.models.reminders import ReminderDispatch, ReminderSchedule  # noqa: E402,F401  (reminders)
from atlas_app.models.outbox import NotifyTemplate  # noqa: E402,F401  (Notify template ids)
from atlas_app.models.payments import GovukPayAccount  # noqa: E402,F401  (organisations' own GOV.UK Pay accounts)
from atlas_app.models import environmental  # noqa: E402,F401  (environmental services reports)
from atlas_app.models import user_group  # noqa: E402,F401  (previews, change requests, releases seen, meetings)
from atlas_app.models import rent_arrears  # noqa: E402,F401  (rent arrears tables)
from atlas_app.models import environmental_queue  # noqa: E402,F401  (the staff queue's indexes)
from atlas_app.models import platform  # noqa: E402,F401  (platform settings, scheduled runs)
