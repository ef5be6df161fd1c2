"""Every page module: importing this module registers all pages with Reflex (public first, then staff by area)."""

from atlas_app.ui.public import booking_manage, booking_wizard, home, not_found, pay_demo, pay_return, report, track
from atlas_app.ui.staff import account, login
from atlas_app.ui.staff.admin import api_tokens, audit, logins, organisations, outbox, roles, users
from atlas_app.ui.staff.booking import catalogue, clients, referrals, sessions
from atlas_app.ui.staff.casework import cases, people, places, settings
from atlas_app.ui.staff.insight import dashboards, letters, reports
from atlas_app.ui.staff.instructors import calendar, cars, people as instructor_people, workload
from atlas_app.ui.staff.modules.environmental_ticketing import (categories as env_categories, dashboard as env_dashboard,
                                                              queue as env_queue, report as env_report)
from atlas_app.ui.staff.payments import payments

PUBLIC = (home, booking_wizard, booking_manage, pay_demo, pay_return, report, track, not_found)
STAFF = (login, account, users, roles, audit, logins, outbox, api_tokens, organisations, catalogue, clients, referrals,
         sessions, payments, cases, people, places, settings, calendar, cars, instructor_people, workload, dashboards,
         letters, reports, env_queue, env_report, env_categories, env_dashboard)
