"""GOV.UK Notify, through its official client (``notifications-python-client``).

``NOTIFY_API_KEY`` is the key from Notify's API integration page (``{name}-{service id}-{secret}``); the client signs
every request with it (a JWT, HS256, ``iss`` the service id, ``iat`` now). ``NOTIFY_API_BASE`` points the client
at another address (a test double); Notify's own when unset.

Notify's refusals come back as ``{"status_code": 400, "errors": [{"error": "BadRequestError", "message": ...}]}``:
a 4xx other than 429 will not succeed if sent again (a wrong template, number or key), so the outbox marks it
failed; a 429, a 5xx or no answer is tried again later.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from atlas_app.settings import get_settings

NOTIFY_BASE = "https://api.notifications.service.gov.uk"
TIMEOUT_SECONDS = 20


class NotifyRefused(Exception):
    """Notify answered with an error. ``permanent``: sending the same request again cannot succeed."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"GOV.UK Notify {status_code}: {message}")
        self.status_code = status_code
        self.permanent = 400 <= status_code < 500 and status_code != 429


@dataclass(frozen=True)
class Sent:
    notification_id: str


def configured() -> bool:
    return bool(get_settings().notify_api_key)


def client() -> NotificationsAPIClient:
    settings = get_settings()
    if not settings.notify_api_key:
        raise RuntimeError("NOTIFY_API_KEY is not set")
    return NotificationsAPIClient(settings.notify_api_key, base_url=settings.notify_api_base or NOTIFY_BASE,
                                  timeout=TIMEOUT_SECONDS)


def _words(exc: APIError) -> str:
    message = exc.message
    if isinstance(message, list):
        return "; ".join(f"{e.get('error', '')}: {e.get('message', '')}" for e in message if isinstance(e, dict))
    return str(message)


def _call(func, *args: Any, **kwargs: Any) -> Sent:
    try:
        answer = func(*args, **kwargs)
    except APIError as exc:
        raise NotifyRefused(exc.status_code, _words(exc)) from exc
    if not isinstance(answer, dict) or not answer.get("id"):
        raise NotifyRefused(502, "the answer named no notification")
    return Sent(str(answer["id"]))


def send_email(api: NotificationsAPIClient, *, to: str, template_id: str, personalisation: dict[str, Any],
               reference: str) -> Sent:
    return _call(api.send_email_notification, email_address=to, template_id=template_id,
                 personalisation=personalisation, reference=reference)


def send_sms(api: NotificationsAPIClient, *, to: str, template_id: str, personalisation: dict[str, Any],
             reference: str) -> Sent:
    return _call(api.send_sms_notification, phone_number=to, template_id=template_id,
                 personalisation=personalisation, reference=reference)


def send_precompiled_letter(api: NotificationsAPIClient, *, pdf: bytes, reference: str,
                            postage: str = "second") -> Sent:
    return _call(api.send_precompiled_letter_notification, reference=reference, pdf_file=io.BytesIO(pdf),
                 postage=postage)


def status_of(api: NotificationsAPIClient, notification_id: str) -> str:
    try:
        return str(api.get_notification_by_id(notification_id).get("status", ""))
    except APIError as exc:
        raise NotifyRefused(exc.status_code, _words(exc)) from exc
