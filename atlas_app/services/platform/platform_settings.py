"""Settings of the whole platform, not of one organisation (the nightly reset of the demo organisation and its
time): one ``platform_setting`` row per key, changed only by the platform administrator, audited. Each setting is
declared, with its default, in ``DEFAULTS``; the service that owns a setting validates its values."""

from __future__ import annotations

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models.platform import PlatformSetting
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import PermissionDenied

DEFAULTS: dict[str, str] = {
    "demo_reset_nightly": "off",
    "demo_reset_at": "03:00",
}


def _declared(key: str) -> str:
    if key not in DEFAULTS:
        raise ValueError(f"no platform setting {key!r} is declared in services/platform/platform_settings.py")
    return DEFAULTS[key]


def get_many(*keys: str) -> dict[str, str]:
    """The settings' values (their defaults where none was chosen)."""
    values = {key: _declared(key) for key in keys}
    with read_session() as s:
        for row in s.exec(select(PlatformSetting).where(PlatformSetting.key.in_(list(keys)))).all():
            values[row.key] = row.value
    return values


def put_many(actor: Actor, values: dict[str, str]) -> bool:
    """Change settings (platform administrator only); audited on the administrator's chain. True if any changed."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the platform administrator changes the platform's settings.")
    for key in values:
        _declared(key)
    with write_session() as s:
        rows = {r.key: r for r in s.exec(select(PlatformSetting).where(PlatformSetting.key.in_(list(values)))
                                         .with_for_update()).all()}
        before = {k: (rows[k].value if k in rows else DEFAULTS[k]) for k in values}
        changed = {k: str(v) for k, v in values.items() if before[k] != str(v)}
        if not changed:
            return False
        for key, value in changed.items():
            row = rows.get(key) or PlatformSetting(key=key)
            row.value, row.changed_by_user_id, row.changed_at = value, actor.user_id, utcnow()
            s.add(row)
        s.flush()
        audit.record(s, actor, "platform_setting", ",".join(sorted(changed)), "changed",
                     before={k: before[k] for k in changed}, after=changed, organisation_id=actor.organisation_id)
    return True
