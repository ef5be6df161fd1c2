"""The Starlette application holding every /api route; Reflex mounts itself beneath it."""

from __future__ import annotations

from starlette.applications import Starlette

from atlas_app.api import auth_routes, exports, health, stripe_webhook, v1

ROUTE_MODULES = [health, auth_routes, v1, stripe_webhook, exports]


def build_api() -> Starlette:
    routes = [route for module in ROUTE_MODULES for route in module.routes]
    return Starlette(routes=routes)
