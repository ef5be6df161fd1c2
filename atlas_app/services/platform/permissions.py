"""The permission catalogue and the default roles each organisation starts with.

Roles are data (``Role.permissions``) that administrators edit in the app; this module only names what a permission
can be and what the shipped roles hold.
"""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    USERS_MANAGE = "users.manage"
    ROLES_MANAGE = "roles.manage"
    AUDIT_VIEW = "audit.view"
    LOGIN_REPORT_VIEW = "login_report.view"
    OUTBOX_VIEW = "outbox.view"
    SETTINGS_MANAGE = "settings.manage"
    BOOKINGS_VIEW = "bookings.view"
    BOOKINGS_MANAGE = "bookings.manage"
    CATALOGUE_MANAGE = "catalogue.manage"
    CALLS_LOG = "calls.log"
    PAYMENTS_TAKE = "payments.take"
    PAYMENTS_REFUND = "payments.refund"
    INSTRUCTORS_MANAGE = "instructors.manage"
    OWN_SCHEDULE_VIEW = "schedule.own"
    CASES_VIEW = "cases.view"
    CASES_MANAGE = "cases.manage"
    DASHBOARDS_VIEW = "dashboards.view"
    REPORTS_VIEW = "reports.view"
    LETTERS_MANAGE = "letters.manage"
    SUBJECT_ACCESS = "people.subject_access"
    CHANGE_REQUESTS = "change_requests.raise"


PERMISSION_LABELS: dict[str, str] = {
    Perm.USERS_MANAGE: "Manage users (create, disable, unlock, reset passwords)",
    Perm.ROLES_MANAGE: "Manage roles and their permissions",
    Perm.AUDIT_VIEW: "View the audit trail",
    Perm.LOGIN_REPORT_VIEW: "View the login report",
    Perm.OUTBOX_VIEW: "View the email outbox",
    Perm.SETTINGS_MANAGE: "Change organisation settings",
    Perm.BOOKINGS_VIEW: "View bookings and clients",
    Perm.BOOKINGS_MANAGE: "Make, transfer and cancel bookings",
    Perm.CATALOGUE_MANAGE: "Manage course types, venues, regions and sessions",
    Perm.CALLS_LOG: "Log contact-centre calls",
    Perm.PAYMENTS_TAKE: "Take and record payments",
    Perm.PAYMENTS_REFUND: "Refund payments",
    Perm.INSTRUCTORS_MANAGE: "Manage instructors and assignments",
    Perm.OWN_SCHEDULE_VIEW: "See one's own teaching schedule",
    Perm.CASES_VIEW: "View casework",
    Perm.CASES_MANAGE: "Create and update casework",
    Perm.DASHBOARDS_VIEW: "View the strategic-measures dashboards",
    Perm.REPORTS_VIEW: "Run reports and exports",
    Perm.LETTERS_MANAGE: "Edit letter templates and produce letters",
    Perm.SUBJECT_ACCESS: "Export everything held about a person (subject access request)",
    Perm.CHANGE_REQUESTS: "Raise change requests and vote on them for the organisation (user group)",
}

ALL_PERMISSIONS: tuple[str, ...] = tuple(p.value for p in Perm)

DEFAULT_ROLES: dict[str, tuple[str, list[str]]] = {
    "Administrator": ("Full control of the organisation's Atlas", list(ALL_PERMISSIONS)),
    "Booking staff": (
        "Course catalogue, bookings, payments and letters",
        [
            Perm.BOOKINGS_VIEW, Perm.BOOKINGS_MANAGE, Perm.CATALOGUE_MANAGE, Perm.CALLS_LOG, Perm.PAYMENTS_TAKE,
            Perm.INSTRUCTORS_MANAGE, Perm.REPORTS_VIEW, Perm.LETTERS_MANAGE,
        ],
    ),
    "Contact centre": (
        "Telephone bookings, call logging and payments",
        [Perm.BOOKINGS_VIEW, Perm.BOOKINGS_MANAGE, Perm.CALLS_LOG, Perm.PAYMENTS_TAKE],
    ),
    "Instructor": ("Sees their own teaching schedule", [Perm.OWN_SCHEDULE_VIEW]),
    "Case worker": ("Keeps case files", [Perm.CASES_VIEW, Perm.CASES_MANAGE]),
    "Manager": (
        "Dashboards and reports",
        [Perm.DASHBOARDS_VIEW, Perm.REPORTS_VIEW, Perm.BOOKINGS_VIEW, Perm.CASES_VIEW, Perm.LOGIN_REPORT_VIEW],
    ),
    "Read-only": ("Looks, never changes", [Perm.BOOKINGS_VIEW, Perm.CASES_VIEW, Perm.REPORTS_VIEW]),
}
