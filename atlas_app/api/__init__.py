"""Starlette routes under /api, matched before Reflex's own routes."""
