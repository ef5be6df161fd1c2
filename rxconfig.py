"""Reflex configuration. Every value that varies by deployment comes from atlas_app.settings."""

import os

import reflex as rx

from atlas_app.settings import get_settings

_settings = get_settings()


def _allowed_origins() -> list[str]:
    """Websocket handshakes are accepted only from Atlas's own address (and its loopback twin when local)."""
    origins = [_settings.base_url]
    for a, b in (("//localhost", "//127.0.0.1"), ("//127.0.0.1", "//localhost")):
        if a in _settings.base_url:
            origins.append(_settings.base_url.replace(a, b))
    origins += [o.strip() for o in os.environ.get("ATLAS_EXTRA_ORIGINS", "").split(",") if o.strip()]
    return origins


config = rx.Config(
    app_name="atlas_app",
    # No db_url: Atlas's tables are not rx.Model and its schema comes from alembic/ through ``python -m atlas_app
    # migrate``. Given a db_url, Reflex compares the models with the database at every start without Atlas's
    # exclusions (alembic/env.py include_object) and reports the dialect-only search tables as schema changes.
    redis_url=_settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # A tab's state lives as long as a staff session may stay idle.
    redis_token_expiration=max(3600, _settings.session_idle_minutes * 60),
    cors_allowed_origins=_allowed_origins(),
    # Atlas judges X-Forwarded-For itself, against TRUSTED_PROXIES (atlas_app/api/web.py client_address), so
    # Reflex's router.session.client_ip stays the websocket's direct peer.
    trusted_proxy_hops=0,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")),
    ],
)
