"""A small GOV.UK Notify-compatible HTTP server for the tests, on loopback.

It speaks Notify's public API as the official client (``notifications-python-client``) uses it, so the client runs
unchanged (``NOTIFY_API_BASE``):

* authentication: ``Authorization: Bearer <JWT>``; the token is HS256, its ``iss`` is the service id, its ``iat``
  within 30 seconds of now, signed with the secret half of the API key (``{name}-{service id}-{secret}``). A missing
  header is 401, a bad token 403, each with Notify's error body;
* ``POST /v2/notifications/email`` (email_address, template_id, personalisation, reference),
  ``POST /v2/notifications/sms`` (phone_number, ...), ``POST /v2/notifications/letter`` (precompiled: reference and
  base64 ``content`` of a PDF, optional postage; or a template with address personalisation) answer 201 with Notify's
  bodies; ``GET /v2/notifications/{id}`` the notification;
* errors as ``{"status_code": 400, "errors": [{"error": "BadRequestError", "message": "..."}]}``: unknown template,
  template of another type, missing personalisation (Notify's ``((placeholder))``), a bad address or number, a PDF
  that is not one.

Test helpers play Notify's side: ``receipt(notification_id, status)`` builds the delivery receipt Notify posts to a
service's callback URL.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jwt

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"atlas_test-{SERVICE_ID}-{SECRET}"
PLACEHOLDER = re.compile(r"\(\(([^)]+)\)\)")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Template:
    def __init__(self, kind: str, body: str, subject: str = "") -> None:
        self.id = str(uuid.uuid4())
        self.type, self.body, self.subject, self.version = kind, body, subject, 1


class NotifyError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class FakeNotify:
    def __init__(self, service_id: str = SERVICE_ID, secret: str = SECRET) -> None:
        self.service_id, self.secret = service_id, secret
        self.templates: dict[str, Template] = {}
        self.notifications: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.fail_next: list[int] = []  # status codes to answer the next POSTs with (e.g. 500)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeNotify:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def template(self, kind: str, body: str = "((body))", subject: str = "((subject))") -> str:
        t = Template(kind, body, subject if kind == "email" else "")
        self.templates[t.id] = t
        return t.id

    def sent(self, kind: str | None = None) -> list[dict]:
        with self.lock:
            return [n for n in self.notifications.values() if kind is None or n["type"] == kind]

    def receipt(self, notification_id: str, status: str) -> dict:
        """The delivery receipt Notify posts to the service's callback URL."""
        n = self.notifications[notification_id]
        n["status"] = status
        return {"id": notification_id, "reference": n["reference"], "to": n.get("email_address") or
                n.get("phone_number") or "", "status": status, "created_at": n["created_at"],
                "completed_at": _now(), "sent_at": _now(), "notification_type": n["type"],
                "template_id": n["template"]["id"], "template_version": n["template"]["version"]}

    # --- authentication, as Notify checks it -------------------------------------------------------------------

    def _authenticate(self, header: str) -> None:
        if not header or not header.startswith("Bearer "):
            raise NotifyError(401, "AuthError", "Unauthorized: authentication token must be provided")
        token = header[len("Bearer "):].strip()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
            headers = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotifyError(403, "AuthError", "Invalid token: signature, api token not found") from None
        if headers.get("alg") != "HS256":
            raise NotifyError(403, "AuthError", "Invalid token: algorithm used is not HS256")
        if "iss" not in unverified:
            raise NotifyError(403, "AuthError", "Invalid token: iss field not provided")
        if unverified["iss"] != self.service_id:
            raise NotifyError(403, "AuthError", "Invalid token: service not found")
        try:
            jwt.decode(token, key=self.secret, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            raise NotifyError(403, "AuthError", "Invalid token: API key not found") from None
        if "iat" not in unverified:
            raise NotifyError(403, "AuthError", "Invalid token: iat field not provided")
        if abs(int(time.time()) - int(unverified["iat"])) > 30:
            raise NotifyError(403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")

    # --- the endpoints ------------------------------------------------------------------------------------------

    def _render(self, template: Template, personalisation: dict) -> tuple[str, str]:
        needed = PLACEHOLDER.findall(template.body + template.subject)
        missing = [name for name in needed if name not in personalisation]
        if missing:
            raise NotifyError(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")

        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: str(personalisation[m.group(1)]), text)

        return fill(template.subject), fill(template.body)

    def _template_for(self, body: dict, kind: str) -> Template:
        template_id = body.get("template_id")
        if not template_id:
            raise NotifyError(400, "ValidationError", "template_id is a required property")
        try:
            uuid.UUID(str(template_id))
        except ValueError:
            raise NotifyError(400, "ValidationError", "template_id is not a valid UUID") from None
        template = self.templates.get(template_id)
        if template is None:
            raise NotifyError(400, "BadRequestError", "Template not found")
        if template.type != kind:
            raise NotifyError(400, "BadRequestError", f"{kind} template is not suitable for {template.type} notification")
        return template

    def _record(self, kind: str, request: dict, template: Template | None, **fields) -> dict:
        notification_id = str(uuid.uuid4())
        notification = {
            "id": notification_id, "reference": request.get("reference"), "type": kind, "status": "created",
            "template": {"id": template.id if template else str(uuid.uuid4()), "version": 1,
                         "uri": f"{self.url}/v2/template/{template.id if template else ''}/version/1"},
            "created_at": _now(), "created_by_name": None, "sent_at": None, "completed_at": None,
            "scheduled_for": None, "email_address": None, "phone_number": None,
            "line_1": None, "line_2": None, "line_3": None, "line_4": None, "line_5": None, "line_6": None,
            "postcode": None, "postage": None, "body": "", "subject": None, **fields,
        }
        with self.lock:
            self.notifications[notification_id] = notification
        return notification

    def post_email(self, body: dict) -> dict:
        template = self._template_for(body, "email")
        address = str(body.get("email_address") or "")
        if not EMAIL.match(address):
            raise NotifyError(400, "ValidationError", "email_address Not a valid email address")
        subject, text = self._render(template, body.get("personalisation") or {})
        n = self._record("email", body, template, email_address=address, subject=subject, body=text)
        return {"id": n["id"], "reference": n["reference"],
                "content": {"subject": subject, "body": text, "from_email": "atlas.test@notifications.service.gov.uk",
                            "one_click_unsubscribe_url": None},
                "uri": f"{self.url}/v2/notifications/{n['id']}", "template": n["template"], "scheduled_for": None}

    def post_sms(self, body: dict) -> dict:
        template = self._template_for(body, "sms")
        number = re.sub(r"[\s()-]", "", str(body.get("phone_number") or ""))
        if not re.fullmatch(r"\+?\d{10,15}", number):
            raise NotifyError(400, "ValidationError", "phone_number Not a UK mobile number")
        _, text = self._render(template, body.get("personalisation") or {})
        n = self._record("sms", body, template, phone_number=number, body=text)
        return {"id": n["id"], "reference": n["reference"], "content": {"body": text, "from_number": "GOVUK"},
                "uri": f"{self.url}/v2/notifications/{n['id']}", "template": n["template"], "scheduled_for": None}

    def post_letter(self, body: dict) -> dict:
        if "content" in body:  # a precompiled letter
            if not body.get("reference"):
                raise NotifyError(400, "ValidationError", "reference is a required property")
            postage = body.get("postage", "second")
            if postage not in ("first", "second", "economy"):
                raise NotifyError(400, "ValidationError",
                                  "postage invalid. It must be either first, second or economy.")
            try:
                pdf = base64.b64decode(body["content"], validate=True)
            except (ValueError, TypeError):
                raise NotifyError(400, "ValidationError", "Incorrect padding") from None
            if not pdf.startswith(b"%PDF"):
                raise NotifyError(400, "BadRequestError", "Letter content is not a valid PDF")
            n = self._record("letter", body, None, postage=postage, status="pending-virus-check", pdf=pdf)
            return {"id": n["id"], "reference": n["reference"], "postage": postage}
        template = self._template_for(body, "letter")
        personalisation = body.get("personalisation") or {}
        if not personalisation.get("address_line_1"):
            raise NotifyError(400, "ValidationError", "personalisation address_line_1 is a required property")
        subject, text = self._render(template, personalisation)
        n = self._record("letter", body, template, body=text, subject=subject, line_1=personalisation["address_line_1"])
        return {"id": n["id"], "reference": n["reference"], "content": {"subject": subject, "body": text},
                "uri": f"{self.url}/v2/notifications/{n['id']}", "template": n["template"], "scheduled_for": None}

    def get_notification(self, notification_id: str) -> dict:
        try:
            uuid.UUID(notification_id)
        except ValueError:
            raise NotifyError(400, "ValidationError", "notification_id is not a valid UUID") from None
        with self.lock:
            n = self.notifications.get(notification_id)
        if n is None:
            raise NotifyError(404, "NoResultFound", "No result found")
        return {k: v for k, v in n.items() if k != "pdf"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    fake._authenticate(self.headers.get("Authorization", ""))
                    body = json.loads(raw or b"{}") if method == "POST" else {}
                    if not isinstance(body, dict):
                        raise NotifyError(400, "ValidationError", "Invalid JSON")
                    fake.requests.append((method, path, body))
                    if method == "POST" and fake.fail_next:
                        status = fake.fail_next.pop(0)
                        raise NotifyError(status, "Exception" if status >= 500 else "RateLimitError",
                                          "Internal server error" if status >= 500 else "Exceeded rate limit")
                    routes = {"/v2/notifications/email": fake.post_email, "/v2/notifications/sms": fake.post_sms,
                              "/v2/notifications/letter": fake.post_letter}
                    if method == "POST" and path in routes:
                        self._answer(201, routes[path](body))
                    elif method == "GET" and path.startswith("/v2/notifications/"):
                        self._answer(200, fake.get_notification(path.rsplit("/", 1)[1]))
                    else:
                        raise NotifyError(404, "NotFound", "The requested URL was not found on the server.")
                except NotifyError as exc:
                    self._answer(exc.status, {"status_code": exc.status,
                                              "errors": [{"error": exc.error, "message": exc.message}]})
                except json.JSONDecodeError:
                    self._answer(400, {"status_code": 400,
                                       "errors": [{"error": "ValidationError", "message": "Invalid JSON"}]})

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

        return Handler
