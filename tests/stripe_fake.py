"""A small Stripe-compatible HTTP server for the tests, on loopback.

It speaks Stripe's real wire format, so the official SDK talks to it unchanged (``STRIPE_API_BASE``):
form-encoded POST bodies with bracketed keys (``line_items[0][price_data][currency]=gbp``), Bearer secret keys,
``Idempotency-Key`` honoured (same key + same body replays the first response with ``Idempotent-Replayed: true``;
same key + different body is an ``idempotency_error``), Stripe's JSON object shapes, ``expand[]`` and its error
format ``{"error": {"type", "code", "message", "param"}}``.

Endpoints: POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}, POST /v1/checkout/sessions/{id}/expire,
POST /v1/refunds. Test helpers play the customer and Stripe's side: ``pay(session_id)``, ``expire(session_id)``,
``refund_in_dashboard(...)``, and build signed webhook deliveries exactly as Stripe signs them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"


def decode_form(body: str) -> dict:
    """Stripe's form encoding back into nested dicts and lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [key.split("[", 1)[0]] + [p.rstrip("]") for p in key.split("[")[1:]]
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                if part == "":
                    node.setdefault("__list__", []).append(value)
                else:
                    node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node):
    if isinstance(node, dict):
        if set(node) == {"__list__"}:
            return [_listify(v) for v in node["__list__"]]
        if node and all(k.isdigit() for k in node):
            return [_listify(node[k]) for k in sorted(node, key=int)]
        return {k: _listify(v) for k, v in node.items()}
    return node


def _id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": type_, "message": message,
                                                    **({"code": code} if code else {}),
                                                    **({"param": param} if param else {})}}


class FakeStripe:
    def __init__(self, secret_key: str = "sk_test_atlas_fake", webhook_secret: str = "whsec_atlas_fake_secret"):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.balance_transactions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.idempotency: dict[str, tuple[str, int, dict]] = {}
        self.fail_next: list[tuple[int, str, str]] = []  # (status, type, message) for the next requests
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- lifecycle ---

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                status, headers, payload = fake.handle(method, self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                self.send_header("Stripe-Version", API_VERSION)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- the API ---

    def handle(self, method: str, raw_path: str, headers: dict, body: str) -> tuple[int, dict, dict]:
        lower = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(raw_path)
        query = decode_form(parts.query)
        params = decode_form(body) if method == "POST" else query
        record = {"method": method, "path": parts.path, "headers": lower, "params": params, "raw_body": body}
        with self.lock:
            self.requests.append(record)
            if lower.get("authorization") != f"Bearer {self.secret_key}":
                return 401, {}, {"error": {"type": "invalid_request_error",
                                           "message": "Invalid API Key provided: " + lower.get("authorization", "")[-4:]}}
            if self.fail_next:
                status, type_, message = self.fail_next.pop(0)
                return status, {}, {"error": {"type": type_, "message": message}}
            key = lower.get("idempotency-key") if method == "POST" else None
            fingerprint = hashlib.sha256(f"{parts.path}?{body}".encode()).hexdigest()
            if key and key in self.idempotency:
                first_fp, status, payload = self.idempotency[key]
                if first_fp != fingerprint:
                    return 400, {}, {"error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same parameters they "
                                   "were first used with. Try using a key other than '" + key + "' if you meant to "
                                   "execute a different request."}}
                return status, {"Idempotent-Replayed": "true"}, copy.deepcopy(payload)
            try:
                status, payload = 200, self._route(method, parts.path, params, query)
            except StripeError as exc:
                status, payload = exc.status, exc.body
            if key and status < 500:
                self.idempotency[key] = (fingerprint, status, copy.deepcopy(payload))
            return status, {}, payload

    def _route(self, method: str, path: str, params: dict, query: dict) -> dict:
        segs = [s for s in path.split("/") if s]
        if segs[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(segs) == 3:
                return self._create_session(params)
            if method == "GET" and len(segs) == 4:
                return self._expand(self._session(segs[3]), query.get("expand") or [])
            if method == "POST" and len(segs) == 5 and segs[4] == "expire":
                return self.expire(segs[3])
        if segs == ["v1", "refunds"] and method == "POST":
            return self._create_refund(params)
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _session(self, sid: str) -> dict:
        if sid not in self.sessions:
            raise StripeError(404, "invalid_request_error", f"No such checkout.session: '{sid}'",
                              code="resource_missing", param="session")
        return self.sessions[sid]

    def _create_session(self, p: dict) -> dict:
        if p.get("mode") not in ("payment", "setup", "subscription"):
            raise StripeError(400, "invalid_request_error", "Missing required param: mode.", "parameter_missing",
                              "mode")
        items = p.get("line_items") or []
        if not items:
            raise StripeError(400, "invalid_request_error", "You must provide at least one line item.",
                              "parameter_missing", "line_items")
        amount, currency = 0, None
        for item in items:
            price = item.get("price_data") or {}
            if not price.get("currency") or not str(price.get("unit_amount", "")).isdigit():
                raise StripeError(400, "invalid_request_error", "Missing required param: line_items[0][price_data].",
                                  "parameter_missing", "line_items[0][price_data]")
            currency = price["currency"]
            amount += int(price["unit_amount"]) * int(item.get("quantity") or 1)
        if not str(p.get("success_url", "")).startswith(("http://", "https://")):
            raise StripeError(400, "invalid_request_error", "Not a valid URL", "url_invalid", "success_url")
        now = int(time.time())
        expires_at = int(p.get("expires_at") or now + 86400)
        if not now + 1800 <= expires_at <= now + 86400:
            raise StripeError(400, "invalid_request_error",
                              "The `expires_at` timestamp must be between 30 minutes and 24 hours from creation.",
                              param="expires_at")
        sid = "cs_test_" + secrets.token_urlsafe(40).replace("-", "a").replace("_", "b")
        session = {
            "id": sid, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
            "cancel_url": p.get("cancel_url"), "client_reference_id": p.get("client_reference_id"),
            "created": now, "currency": currency, "customer": None,
            "customer_email": p.get("customer_email"), "expires_at": expires_at, "livemode": False,
            "locale": p.get("locale"), "metadata": p.get("metadata") or {}, "mode": p["mode"],
            "payment_intent": None, "payment_status": "unpaid", "status": "open",
            "success_url": p.get("success_url"), "url": f"https://checkout.stripe.com/c/pay/{sid}",
            "_payment_intent_data": p.get("payment_intent_data") or {},
        }
        self.sessions[sid] = session
        return self._public(session)

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    def _expand(self, session: dict, expand: list[str]) -> dict:
        out = self._public(session)
        for path in expand if isinstance(expand, list) else [expand]:
            if path.startswith("payment_intent") and out.get("payment_intent"):
                pi = copy.deepcopy(self.payment_intents[out["payment_intent"]])
                if "latest_charge" in path and pi.get("latest_charge"):
                    charge = copy.deepcopy(self.charges[pi["latest_charge"]])
                    if "balance_transaction" in path and charge.get("balance_transaction"):
                        charge["balance_transaction"] = copy.deepcopy(
                            self.balance_transactions[charge["balance_transaction"]])
                    pi["latest_charge"] = charge
                out["payment_intent"] = pi
        return out

    def _create_refund(self, p: dict) -> dict:
        pi_id = p.get("payment_intent")
        charge_id = p.get("charge")
        if pi_id:
            if pi_id not in self.payment_intents:
                raise StripeError(404, "invalid_request_error", f"No such payment_intent: '{pi_id}'",
                                  "resource_missing", "payment_intent")
            charge_id = self.payment_intents[pi_id]["latest_charge"]
        if not charge_id or charge_id not in self.charges:
            raise StripeError(400, "invalid_request_error", "One of `charge` or `payment_intent` is required.",
                              "parameter_missing")
        charge = self.charges[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(p.get("amount") or left)
        if amount > left:
            raise StripeError(400, "invalid_request_error",
                              f"Refund amount (£{amount / 100:.2f}) is greater than unrefunded amount on charge "
                              f"(£{left / 100:.2f})", "amount_too_large", "amount")
        refund = {
            "id": _id("re"), "object": "refund", "amount": amount, "balance_transaction": _id("txn"),
            "charge": charge_id, "created": int(time.time()), "currency": charge["currency"],
            "metadata": p.get("metadata") or {}, "payment_intent": charge["payment_intent"],
            "reason": p.get("reason"), "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return copy.deepcopy(refund)

    # --- the customer's and Stripe's side, for tests ---

    def pay(self, session_id: str, fee: int | None = 160) -> dict:
        """The customer pays on Stripe's page: the session completes, with a PaymentIntent, charge and fee."""
        with self.lock:
            s = self.sessions[session_id]
            pi_id, ch_id, txn_id = _id("pi"), _id("ch"), _id("txn")
            meta = (s.get("_payment_intent_data") or {}).get("metadata") or {}
            self.balance_transactions[txn_id] = {"id": txn_id, "object": "balance_transaction",
                                                 "amount": s["amount_total"], "currency": s["currency"],
                                                 "fee": fee if fee is not None else 0,
                                                 "net": s["amount_total"] - (fee or 0), "type": "charge"}
            self.charges[ch_id] = {"id": ch_id, "object": "charge", "amount": s["amount_total"],
                                   "amount_captured": s["amount_total"], "amount_refunded": 0,
                                   "balance_transaction": txn_id if fee is not None else None,
                                   "currency": s["currency"], "metadata": meta, "paid": True,
                                   "payment_intent": pi_id, "refunded": False, "status": "succeeded"}
            self.payment_intents[pi_id] = {"id": pi_id, "object": "payment_intent", "amount": s["amount_total"],
                                           "currency": s["currency"], "latest_charge": ch_id, "metadata": meta,
                                           "status": "succeeded"}
            s.update(status="complete", payment_status="paid", payment_intent=pi_id)
            return self._public(s)

    def expire(self, session_id: str) -> dict:
        s = self._session(session_id)
        if s["status"] == "complete":
            raise StripeError(400, "invalid_request_error", "Only Checkout Sessions with a status in [\"open\"] can "
                              "be expired.", "checkout_session_not_open")
        s.update(status="expired")
        return self._public(s)

    def session(self, session_id: str) -> dict:
        return self._public(self.sessions[session_id])

    def charge_for(self, session_id: str) -> dict:
        pi = self.payment_intents[self.sessions[session_id]["payment_intent"]]
        return copy.deepcopy(self.charges[pi["latest_charge"]])

    def refund_in_dashboard(self, session_id: str, amount: int) -> dict:
        """A refund made in Stripe's dashboard (Atlas learns of it only from charge.refunded)."""
        pi_id = self.sessions[session_id]["payment_intent"]
        with self.lock:
            self._create_refund({"payment_intent": pi_id, "amount": str(amount)})
        return self.charge_for(session_id)

    def fail_refund(self, refund_id: str, reason: str = "expired_or_canceled_card") -> dict:
        """The bank sends a refund back days after Stripe accepted it (Stripe's ``refund.updated`` and
        ``charge.refund.updated`` then carry the refund with status ``failed``): the amount is no longer refunded."""
        with self.lock:
            refund = self.refunds[refund_id]
            refund.update(status="failed", failure_reason=reason, failure_balance_transaction=_id("txn"))
            charge = self.charges[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            return copy.deepcopy(refund)

    def requests_to(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    # --- webhooks ---

    def event(self, type_: str, obj: dict, event_id: str | None = None) -> bytes:
        return json.dumps({
            "id": event_id or _id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type_,
        }).encode("utf-8")

    def sign(self, payload: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        """The Stripe-Signature header: t=timestamp,v1=HMAC-SHA256(secret, "t.payload")."""
        t = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new((secret or self.webhook_secret).encode("utf-8"), f"{t}.".encode() + payload, hashlib.sha256)
        return f"t={t},v1={mac.hexdigest()}"
