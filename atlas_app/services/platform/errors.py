"""Errors a service raises. Each carries a message fit to show the user as it is."""

from __future__ import annotations


class AtlasError(Exception):
    """Base class: ``str(error)`` is a clear, user-facing message."""

    status_code = 400


class PermissionDenied(AtlasError):
    status_code = 403

    def __init__(self, message: str = "You do not have permission to do that.") -> None:
        super().__init__(message)


class NotAuthenticated(AtlasError):
    status_code = 401

    def __init__(self, message: str = "Please sign in.") -> None:
        super().__init__(message)


class NotFound(AtlasError):
    status_code = 404


class Conflict(AtlasError):
    status_code = 409


class ValidationFailed(AtlasError):
    """Bad input. ``errors`` maps a field name to what is wrong with it."""

    status_code = 422

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class PasswordChangeRequired(PermissionDenied):
    """The session is valid but its user must choose a new password before doing anything else."""

    def __init__(self, message: str = "Choose a new password first, on the My account page.") -> None:
        super().__init__(message)
