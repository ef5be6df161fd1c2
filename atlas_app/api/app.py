"""The Starlette application holding every /api route and the security headers; Reflex mounts itself beneath it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from atlas_app.api import (
    auth_routes,
    change_request_files,
    citizen_reports,
    exports,
    govuk_pay_webhook,
    health,
    notify_callback,
    open311,
    stripe_webhook,
    v1,
)
from atlas_app.api.security_headers import SecurityHeadersMiddleware

ROUTE_MODULES = [health, auth_routes, v1, open311, citizen_reports, change_request_files, stripe_webhook,
                 govuk_pay_webhook, notify_callback, exports]


def build_api() -> Starlette:
    """The /api routes. Reflex mounts its own application (its endpoints and, in production, the built frontend's
    pages and static files) beneath this one, so this application's middleware sees every HTTP response."""
    routes = [route for module in ROUTE_MODULES for route in module.routes]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeadersMiddleware)])
