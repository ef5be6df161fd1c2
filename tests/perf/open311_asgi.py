"""The /api and /open311 routes alone as an ASGI application, for the Open311 submission benchmark to serve with
granian (the production server) without building the Reflex frontend."""

from atlas_app.api.app import build_api

app = build_api()
