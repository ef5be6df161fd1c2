"""Who is acting: the user, the organisation they act for, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlas_app.services.platform.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    organisation_id: int | None
    home_organisation_id: int | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    is_platform_admin: bool = False
    session_id: int | None = None
    full_name: str = ""
    must_change_password: bool = False
    must_enrol_two_factor: bool = False

    def can(self, permission: str) -> bool:
        return self.is_platform_admin or permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied()

    def require_org(self) -> int:
        if self.organisation_id is None:
            raise PermissionDenied("Choose an organisation first.")
        return self.organisation_id

    def org_for(self, permission: str) -> int:
        """The organisation this actor acts for, once they hold ``permission`` (the check every service call
        that reads or writes an organisation's records starts with)."""
        self.require(permission)
        return self.require_org()


def system_actor(organisation_id: int | None = None, name: str = "system") -> Actor:
    """The actor for work Atlas does itself (imports from the CLI, scheduled jobs, webhooks)."""
    return Actor(user_id=None, username=name, organisation_id=organisation_id, is_platform_admin=True)
