"""Every page module: importing this module registers all pages with Reflex (public first, then staff by area)."""

from atlas_app.ui.public import (
    accessibility,
    booking_manage,
    booking_wizard,
    home,
    not_found,
    pay_demo,
    pay_return,
    report,
    track,
    waiting_list,
)
from atlas_app.ui.staff import account, login
from atlas_app.ui.staff.admin import (
    accessibility_statement,
    api_tokens,
    audit,
    logins,
    organisations,
    outbox,
    payment_settings,
    retention,
    roles,
    users,
    welsh,
)
from atlas_app.ui.staff.booking import catalogue, clients, referrals, reminders, sessions
from atlas_app.ui.staff.booking import waiting_list as staff_waiting_list
from atlas_app.ui.staff.casework import cases, people, places, settings
from atlas_app.ui.staff.insight import dashboards, letters, reports
from atlas_app.ui.staff.instructors import calendar, cars, people as instructor_people, workload
from atlas_app.ui.staff.modules.customer_interactions import contact as ci_contact
from atlas_app.ui.staff.modules.environmental_ticketing import categories as env_categories
from atlas_app.ui.staff.modules.environmental_ticketing import dashboard as env_dashboard
from atlas_app.ui.staff.modules.environmental_ticketing import queue as env_queue, report as env_report
from atlas_app.ui.staff.modules.rent_arrears import caseload as rent_caseload, tenancy as rent_tenancy
from atlas_app.ui.staff.modules.utilities_servicing import compliance as utilities_compliance
from atlas_app.ui.staff.modules.utilities_servicing import programme as utilities_programme
from atlas_app.ui.staff.modules.utilities_servicing import setup as utilities_setup
from atlas_app.ui.staff.payments import payments
from atlas_app.ui.staff.user_group import demo as demo_pages, meetings, previews, requests as change_requests, whats_new

PUBLIC = (home, booking_wizard, booking_manage, waiting_list, pay_demo, pay_return, report, track, accessibility,
          demo_pages, not_found)
STAFF = (login, account, users, accessibility_statement, welsh, roles, audit, logins, outbox, api_tokens, retention,
         organisations, payment_settings,
         catalogue, clients, referrals, sessions, reminders, staff_waiting_list, payments,
         cases, people, places, settings,
         calendar, cars, instructor_people, workload,
         dashboards, letters, reports,
         env_queue, env_report, env_categories, env_dashboard,
         utilities_programme, utilities_compliance, utilities_setup, rent_caseload, rent_tenancy, ci_contact,
         change_requests, previews, whats_new, demo_pages, meetings)
