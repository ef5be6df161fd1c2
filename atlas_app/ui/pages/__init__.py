"""Every page module; importing this package registers the pages with Reflex."""

from atlas_app.ui.pages import account, admin_audit, admin_logins, admin_outbox, admin_roles, admin_users, home, login

__all__ = ["account", "admin_audit", "admin_logins", "admin_outbox", "admin_roles", "admin_users", "home", "login"]
from atlas_app.ui.pages import booking_manage, booking_wizard  # noqa: E402,F401  (public booking site)
from atlas_app.ui.pages import bookings_catalogue, bookings_clients, bookings_sessions  # noqa: E402,F401  (staff booking)
from atlas_app.ui.pages import admin_api_tokens, bookings_referrals  # noqa: E402,F401  (API tokens, referral imports)
from atlas_app.ui.pages import bookings_payments, pay_demo, pay_return  # noqa: E402,F401  (payments)
from atlas_app.ui.pages import casework_cases, casework_people, casework_places, casework_settings  # noqa: E402,F401  (casework)
from atlas_app.ui.pages import instructors_calendar, instructors_cars, instructors_people, instructors_reports  # noqa: E402,F401  (instructors)
from atlas_app.ui.pages import dashboards  # noqa: E402,F401  (strategic-measures dashboards)
from atlas_app.ui.pages import letters, reports  # noqa: E402,F401  (letters and the reports suite)
