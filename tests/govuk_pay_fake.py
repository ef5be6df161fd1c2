"""A local stand-in for GOV.UK Pay's public API on loopback, speaking its documented wire format so Atlas's client
(``services/payments/govuk_pay.py``) runs unchanged against it:

* ``POST /v1/payments`` (bearer API key; ``amount`` 1 to 10,000,000 pence, ``reference``, ``description``,
  ``return_url`` required; ``language`` en or cy; ``metadata`` up to 10 keys; ``email``; ``moto``;
  ``Idempotency-Key`` header) → 201 with the payment: ``payment_id``, ``state {status, finished}``,
  ``refund_summary``, ``_links`` (``self``, ``next_url``, ``refunds``, ``cancel``...);
* ``GET /v1/payments/{id}`` → the payment (404 ``P0200`` when unknown);
* ``POST /v1/payments/{id}/refunds`` (``amount``, ``refund_amount_available``) → 202 with the refund
  (``refund_id``, ``amount``, ``status`` submitted); 412 ``P0603`` when the payment cannot be refunded, 412
  ``P0604`` when ``refund_amount_available`` does not match;
* ``moto``: true or false (anything else 422 ``P0102``); ``moto: true`` on an account that does not allow MOTO
  payments gets 422 ``P0196``; the payment answers ``"moto": true|false``;
* several accounts (``add_account``), each with its own API key and MOTO setting: a payment belongs to the account
  whose key created it, and another account's key gets 404 ``P0200`` for it, as on GOV.UK Pay;
* errors are ``{"field": ..., "code": "P0xxx", "description": ...}``; a wrong key gets 401.

The test drives what the user does on GOV.UK Pay's pages (``pay``, ``fail``, ``expire``) and builds signed webhook
messages (``message``, ``sign``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MANDATORY = ("amount", "reference", "description", "return_url")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeGovukPay:
    def __init__(self) -> None:
        self.api_key = "api_test_" + secrets.token_hex(16)
        self.webhook_secret = "webhook_live_" + secrets.token_hex(16)
        self.payments: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.refund_status = "submitted"
        self.down = False
        self.moto_enabled = True
        self.accounts: dict[str, dict[str, bool]] = {}  # further accounts: API key -> {"moto": allowed}
        self.owner: dict[str, str] = {}  # payment id -> the API key of the account it belongs to
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # --- running ---

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGovukPay:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict | None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    return self._send(400, {"code": "P0197", "description": "Unable to parse JSON"})
                with fake.lock:
                    fake.requests.append({"method": method, "path": self.path, "body": body, "headers": headers})
                    status, answer = fake.route(method, self.path, body, headers)
                self._send(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def add_account(self, moto: bool = False) -> str:
        """Another GOV.UK Pay account (another organisation's); returns its API key."""
        key = "api_test_" + secrets.token_hex(16)
        self.accounts[key] = {"moto": moto}
        return key

    def requests_to(self, method: str, path_start: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(path_start)]

    # --- the API ---

    def route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict | None]:
        if self.down:
            return 503, None
        auth = headers.get("authorization", "")
        key = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if key != self.api_key and key not in self.accounts:
            return 401, None
        parts = [p for p in path.split("?")[0].split("/") if p]
        if method == "POST" and parts == ["v1", "payments"]:
            return self._create(body, headers, key)
        if len(parts) >= 3 and parts[:2] == ["v1", "payments"]:
            payment = self.payments.get(parts[2])
            if payment is None or self.owner.get(parts[2]) != key:
                return 404, {"code": "P0200", "description": "Not found"}
            if method == "GET" and len(parts) == 3:
                return 200, payment
            if method == "POST" and parts[3:] == ["refunds"]:
                return self._refund(payment, body)
        return 404, {"code": "P0200", "description": "Not found"}

    def _create(self, body: Any, headers: dict[str, str], account_key: str) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, {"code": "P0197", "description": "Unable to parse JSON"}
        for name in MANDATORY:
            if body.get(name) in (None, ""):
                return 400, {"field": name, "code": "P0101", "description": f"Missing mandatory attribute: {name}"}
        amount = body["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 10_000_000:
            return 422, {"field": "amount", "code": "P0102",
                         "description": "Invalid attribute value: amount. Must be less than or equal to 10000000"}
        if body.get("language", "en") not in ("en", "cy"):
            return 422, {"field": "language", "code": "P0102",
                         "description": "Invalid attribute value: language. Must be \"en\" or \"cy\""}
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 10:
            return 422, {"field": "metadata", "code": "P0102",
                         "description": "Invalid attribute value: metadata. Cannot have more than 10 key-value pairs"}
        if "moto" in body and not isinstance(body["moto"], bool):
            return 422, {"field": "moto", "code": "P0102",
                         "description": "Invalid attribute value: moto. Must be true or false"}
        moto_allowed = self.moto_enabled if account_key == self.api_key else self.accounts[account_key]["moto"]
        if body.get("moto") and not moto_allowed:
            return 422, {"code": "P0196", "description": "MOTO payments are not enabled for this account. Please "
                                                         "contact support if you would like to process MOTO payments"}
        key = headers.get("idempotency-key")
        fingerprint = json.dumps(body, sort_keys=True)
        if key:
            key = account_key + ":" + key  # idempotency keys are per account
        if key and key in self.idempotency:
            payment_id, seen = self.idempotency[key]
            if seen != fingerprint:
                return 422, {"code": "P0191", "description": "The Idempotency-Key has been used with a different "
                                                             "request body"}
            return 200, self.payments[payment_id]
        payment_id = secrets.token_hex(13)[:26]
        own = f"{self.url}/v1/payments/{payment_id}"
        payment = {
            "amount": amount, "description": body["description"], "reference": body["reference"],
            "language": body.get("language", "en"), "metadata": metadata, "email": body.get("email"),
            "state": {"status": "created", "finished": False}, "payment_id": payment_id,
            "payment_provider": "sandbox", "created_date": _now(), "return_url": body["return_url"],
            "refund_summary": {"status": "pending", "amount_available": amount, "amount_submitted": 0},
            "settlement_summary": {}, "delayed_capture": False, "moto": bool(body.get("moto", False)),
            "_links": {
                "self": {"href": own, "method": "GET"},
                "next_url": {"href": f"{self.url}/secure/{secrets.token_hex(8)}", "method": "GET"},
                "next_url_post": {"type": "application/x-www-form-urlencoded", "params": {"chargeTokenId": "x"},
                                  "href": f"{self.url}/secure", "method": "POST"},
                "events": {"href": own + "/events", "method": "GET"},
                "refunds": {"href": own + "/refunds", "method": "GET"},
                "cancel": {"href": own + "/cancel", "method": "POST"},
            },
        }
        self.payments[payment_id] = payment
        self.owner[payment_id] = account_key
        if key:
            self.idempotency[key] = (payment_id, fingerprint)
        return 201, payment

    def _refund(self, payment: dict[str, Any], body: Any) -> tuple[int, dict]:
        summary = payment["refund_summary"]
        if payment["state"]["status"] != "success":
            return 412, {"code": "P0603", "description": "The payment is not available for refund. Payment refund "
                                                         f"status: {summary['status']}"}
        amount, available = body.get("amount"), body.get("refund_amount_available")
        if available is not None and available != summary["amount_available"]:
            return 412, {"code": "P0604", "description": "Refund amount available mismatch."}
        if not isinstance(amount, int) or amount < 1 or amount > summary["amount_available"]:
            return 400, {"field": "amount", "code": "P0602", "description": "Not sufficient amount available for "
                                                                            "refund"}
        summary["amount_available"] -= amount
        summary["amount_submitted"] += amount
        summary["status"] = "available" if summary["amount_available"] else "full"
        refund_id = secrets.token_hex(13)[:26]
        return 202, {"refund_id": refund_id, "created_date": _now(), "amount": amount,
                     "status": self.refund_status, "settlement_summary": {},
                     "_links": {"self": {"href": f"{payment['_links']['self']['href']}/refunds/{refund_id}",
                                         "method": "GET"},
                                "payment": {"href": payment["_links"]["self"]["href"], "method": "GET"}}}

    # --- what the user does on GOV.UK Pay's pages ---

    def pay(self, payment_id: str) -> dict[str, Any]:
        with self.lock:
            p = self.payments[payment_id]
            p["state"] = {"status": "success", "finished": True}
            p["refund_summary"]["status"] = "available"
            p["card_details"] = {"last_digits_card_number": "4242", "card_brand": "Visa"}
            return p

    def fail(self, payment_id: str, code: str = "P0010", message: str = "Payment method rejected") -> dict:
        with self.lock:
            p = self.payments[payment_id]
            p["state"] = {"status": "failed", "finished": True, "message": message, "code": code}
            return p

    def expire(self, payment_id: str) -> dict:
        return self.fail(payment_id, "P0020", "Payment expired")

    # --- webhooks ---

    def message(self, payment_id: str, event_type: str = "card_payment_succeeded",
                message_id: str | None = None) -> bytes:
        return json.dumps({
            "webhook_message_id": message_id or secrets.token_hex(13)[:26], "api_version": 1,
            "created_date": _now(), "resource_id": payment_id, "resource_type": "payment",
            "event_type": event_type, "resource": self.payments.get(payment_id, {}),
        }).encode()

    def sign(self, body: bytes, secret: str | None = None) -> str:
        return hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
