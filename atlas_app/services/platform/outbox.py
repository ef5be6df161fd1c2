"""The outbox: one queue for every email, text message and letter. Every message is queued as a row in the
sender's transaction (``queue(..., channel="sms", to_phone=...)``); one delivery pass sends what is due (retrying
with back-off, failures kept and shown), and a message no provider can take is held for staff to read in the app.

Who takes what:

* email: GOV.UK Notify when ``NOTIFY_API_KEY`` is set and the organisation has a Notify template for the message's
  kind; otherwise SMTP when ``SMTP_URL`` is set (the default way); otherwise held.
* sms: GOV.UK Notify with the organisation's template for the kind; otherwise held.
* letter (a PDF attachment): GOV.UK Notify as a precompiled letter; otherwise held.

Notify's delivery receipts (``record_receipt``) then say whether it arrived.

``SMTP_URL`` forms: ``smtp://host:port``, ``smtp://user:password@host:587?starttls=1``, ``smtps://host:465``.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import EmailAttachment, EmailMessage, NotifyTemplate
from atlas_app.services.platform import bounds, notify_gateway
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
# A message no provider can take now (no Notify template for its kind yet) is looked at again this often.
UNROUTABLE_RETRY = timedelta(hours=1)

CHANNELS = ("email", "sms", "letter")
# Notify's delivery statuses that end a message's story, and those among them that mean it did not arrive.
FINAL_RECEIPTS = {"delivered", "permanent-failure", "temporary-failure", "technical-failure", "received",
                  "validation-failed", "cancelled"}
FAILED_RECEIPTS = {"permanent-failure", "temporary-failure", "technical-failure", "validation-failed"}

# Where a message's single-use link goes. The stored body holds this text; the link itself is made by the renderer
# of the message's ``secret_kind`` when the message is sent, and exists only in the email that leaves.
LINK_PLACEHOLDER = "[single-use link: added to the email when it is sent]"
# secret_kind -> fn(session, secret_id) giving the link, or None when it is no longer wanted (used, expired,
# replaced). Registered by the services that send such links.
LINK_RENDERERS: dict[str, Callable[[Session, int], str | None]] = {}


# A message queued to be sent on a condition (a reminder for a booking still on that session): kind -> fn(session,
# message) giving the reason not to send it, or None to send. Checked in the transaction that claims the message.
STILL_WANTED: dict[str, Callable[[Session, EmailMessage], str | None]] = {}


@dataclass(frozen=True)
class QueuedEmail:
    id: int
    to_address: str
    subject: str
    channel: str = "email"


def normalise_phone(phone: str) -> str:
    """A UK mobile or an international number as digits with a leading +, or ValidationFailed."""
    raw = (phone or "").strip()
    digits = "".join(c for c in raw if c.isdigit())
    if not raw or any(c not in "0123456789 +-()" for c in raw) or raw.count("+") > 1 or "+" in raw[1:]:
        raise ValidationFailed(f"'{raw}' is not a telephone number.", {"to_phone": "invalid"})
    if raw.startswith("+") or digits.startswith("44"):
        number = "+" + digits
    elif digits.startswith("0"):
        number = "+44" + digits[1:]
    else:
        raise ValidationFailed(f"'{raw}' is not a telephone number.", {"to_phone": "invalid"})
    if not 10 <= len(number) - 1 <= 15:
        raise ValidationFailed(f"'{raw}' is not a telephone number.", {"to_phone": "invalid"})
    return number


def is_mobile(phone: str) -> bool:
    """A number a text message can reach: a UK mobile (07...) or an international number."""
    try:
        number = normalise_phone(phone)
    except ValidationFailed:
        return False
    return number.startswith("+447") or not number.startswith("+44")


def channel_available(channel: str) -> bool:
    """Whether any provider is configured for the channel (a message queued without one is held)."""
    settings = get_settings()
    if channel == "email":
        return bool(settings.smtp_url or settings.notify_api_key)
    return bool(settings.notify_api_key)


def flatten(context: dict, prefix: str = "", into: dict[str, str] | None = None) -> dict[str, str]:
    """Merge data as Notify personalisation: {"client": {"first_name": "Ann"}} -> {"client_first_name": "Ann"}."""
    flat: dict[str, str] = {} if into is None else into
    for key, value in context.items():
        if value.__class__ is str:
            flat[prefix + key] = value
        elif isinstance(value, dict):
            flatten(value, prefix + key + "_", flat)
        elif isinstance(value, bool):
            flat[prefix + key] = "yes" if value else "no"
        elif value is not None:
            flat[prefix + key] = str(value)
    return flat


_MESSAGE_INSERT = insert(EmailMessage.__table__).returning(EmailMessage.__table__.c.id)
_ATTACHMENT_INSERT = insert(EmailAttachment.__table__)


def queue(
    session: Session,
    *,
    to: str = "",
    subject: str = "",
    body: str,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    organisation_id: int | None = None,
    related: tuple[str, object] | None = None,
    sensitive: bool = False,
    link: tuple[str, int] | None = None,
    channel: str = "email",
    to_phone: str = "",
    kind: str = "",
    personalisation: dict | None = None,
    session_id: int | None = None,
) -> QueuedEmail:
    """Queue a message inside the caller's transaction: an email (``to``, ``subject``, ``body``), a text message
    (``channel="sms"``, ``to_phone``, ``body``) or a letter (``channel="letter"``, its PDF as the one attachment).
    ``attachments`` are (filename, content type, bytes). The rows are plain INSERTs, sent at once (bookings queue one
    with every confirmation).

    ``kind`` names the message (a client email kind, "reminder"...) for the organisation's Notify template, and
    ``personalisation`` its merge fields (nested groups are flattened: client_first_name).

    ``link`` is (secret kind, id) for a message whose body holds ``LINK_PLACEHOLDER``: the link is made at sending.
    """
    row = message_row(to=to, subject=subject, body=body, html=html, organisation_id=organisation_id,
                      related=related, sensitive=sensitive, link=link, channel=channel, to_phone=to_phone,
                      kind=kind, personalisation=personalisation, session_id=session_id)
    if channel == "letter" and len(attachments or []) != 1:
        raise ValueError("a letter is one PDF attachment")
    conn = session.connection()
    message_id = conn.execute(_MESSAGE_INSERT, row).scalar_one()
    if attachments:
        conn.execute(_ATTACHMENT_INSERT, [{"email_id": message_id, "filename": filename, "content_type": content_type,
                                           "content": content} for filename, content_type, content in attachments])
    return QueuedEmail(message_id, row["to_address"] or row["to_phone"], row["subject"], channel)


def message_row(*, to: str = "", subject: str = "", body: str, html: str | None = None,
                organisation_id: int | None = None, related: tuple[str, object] | None = None,
                sensitive: bool = False, link: tuple[str, int] | None = None, channel: str = "email",
                to_phone: str = "", kind: str = "", personalisation: dict | None = None,
                now: datetime | None = None, session_id: int | None = None) -> dict:
    """The checked column values of one outbox row (``queue`` inserts one; ``queue_many`` many at once)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if link is not None and (link[0] not in LINK_RENDERERS or LINK_PLACEHOLDER not in body):
        raise ValueError("a message with a link needs a registered kind and the placeholder in its body")
    to = (to or "").strip()
    if channel == "email":
        if "@" not in to or any(c in to for c in "\r\n,;<>"):
            raise ValidationFailed(f"'{to}' is not an email address.", {"to": "invalid"})
        to_phone = ""
    elif channel == "sms":
        to, to_phone = "", normalise_phone(to_phone)
    else:
        to, to_phone = "", ""
    now = now or utcnow()
    subject = subject.replace("\r", " ").replace("\n", " ")[:300]
    return {
        "organisation_id": organisation_id, "to_address": to, "subject": subject, "body_text": body,
        "body_html": html, "status": "queued" if channel_available(channel) else "held", "attempts": 0,
        "last_error": "", "sensitive": sensitive, "created_at": now, "next_attempt_at": now, "sent_at": None,
        "related_entity": related[0] if related else "", "related_id": str(related[1]) if related else "",
        "secret_kind": link[0] if link else "", "secret_id": int(link[1]) if link else None,
        "channel": channel, "to_phone": to_phone, "kind": (kind or "")[:40],
        "personalisation": flatten(personalisation) if personalisation else None,
        "provider": "", "provider_id": None, "delivery_status": "", "delivered_at": None, "session_id": session_id,
    }


def queue_many(session: Session, rows: list[dict]) -> None:
    """Insert many rows made by ``message_row`` at once, in the session's transaction (the reminder job queues
    thousands at a time): on PostgreSQL by ``COPY ... FROM STDIN`` (one stream, no statement per row), elsewhere by
    one multi-row INSERT."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(insert(EmailMessage.__table__), rows)
        return
    from psycopg.types.json import Json

    columns = list(rows[0])
    if not set(columns) <= set(EmailMessage.__table__.columns.keys()):
        raise ValueError("not outbox columns")
    json_columns = {"personalisation"}
    sql = f"COPY email_message ({', '.join(columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(tuple(Json(row[c]) if c in json_columns and row[c] is not None else row[c]
                                 for c in columns))


def build_mime(message: EmailMessage, attachments: list[EmailAttachment], sender: str,
               link: str | None = None) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(idstring=f"atlas-{message.id}")
    body = message.body_text
    if link is not None:
        body = body.replace(LINK_PLACEHOLDER, link)
    mime.set_content(body)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        mime.add_attachment(att.content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                            filename=att.filename)
    return mime


def _smtp_connect(url: str) -> smtplib.SMTP:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    host = parsed.hostname or "localhost"
    if parsed.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parsed.port or 465, timeout=20,
                                                 context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, parsed.port or 25, timeout=20)
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls(context=ssl.create_default_context())
    if parsed.username:
        client.login(unquote(parsed.username), unquote(parsed.password or ""))
    return client


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    retrying: int


def _available_channels() -> list[str]:
    return [c for c in CHANNELS if channel_available(c)]


def _notify_template(s: Session, msg: EmailMessage) -> str | None:
    if msg.organisation_id is None or not msg.kind:
        return None
    return s.exec(select(NotifyTemplate.template_id).where(NotifyTemplate.organisation_id == msg.organisation_id,
                                                           NotifyTemplate.kind == msg.kind,
                                                           NotifyTemplate.channel == msg.channel)).first()


def _route(s: Session, msg: EmailMessage) -> tuple[str, str | None]:
    """("notify", template id), ("smtp", None), or ("", why it cannot go yet)."""
    settings = get_settings()
    if msg.channel == "letter":
        return ("notify", None) if settings.notify_api_key else ("", "No letter provider is configured.")
    template_id = _notify_template(s, msg) if settings.notify_api_key else None
    if template_id:
        return "notify", template_id
    if msg.channel == "email" and settings.smtp_url:
        return "smtp", None
    if settings.notify_api_key:
        return "", f"No GOV.UK Notify {msg.channel} template is set for '{msg.kind or 'this kind of message'}'."
    return "", f"No {msg.channel} provider is configured."


def _personalisation(msg: EmailMessage, body: str) -> dict[str, str]:
    data = dict(msg.personalisation or {})
    data.update({"subject": msg.subject, "body": body})
    return data


CLAIM_BATCH = 100  # messages claimed (and their outcomes recorded) per transaction


@dataclass
class _Job:
    msg: EmailMessage
    route: str
    template_id: str | None
    link: str | None
    attachments: list[EmailAttachment]
    error: str = ""
    permanent: bool = False
    provider_id: str | None = None


def _claim(ids: list[int]) -> list[_Job]:
    """Claim the due messages among ``ids`` in one transaction: each becomes "sending" (or is held, or cancelled
    when it is no longer wanted). Rows another worker holds are skipped on PostgreSQL and waited for on SQLite (one
    writer at a time), where they are then no longer due."""
    jobs: list[_Job] = []
    with write_session() as s:
        rows = s.exec(select(EmailMessage).where(EmailMessage.id.in_(ids)).order_by(EmailMessage.id)
                      .with_for_update(skip_locked=True)).all()
        attachments: dict[int, list[EmailAttachment]] = {}
        for att in s.exec(select(EmailAttachment).where(EmailAttachment.email_id.in_([m.id for m in rows]))).all():
            attachments.setdefault(att.email_id, []).append(att)
        for msg in rows:
            if msg.status not in ("queued", "held"):
                continue
            guard = STILL_WANTED.get(msg.kind)
            reason = guard(s, msg) if guard is not None else None
            if reason:
                msg.status, msg.last_error = "cancelled", reason[:1000]
                s.add(msg)
                continue
            route, detail = _route(s, msg)
            if not route:
                msg.status, msg.last_error = "held", (detail or "")[:1000]
                msg.next_attempt_at = utcnow() + UNROUTABLE_RETRY
                s.add(msg)
                continue
            link = None
            if msg.secret_kind:
                # A fresh link for each attempt; the stored row keeps only the placeholder.
                link = LINK_RENDERERS[msg.secret_kind](s, msg.secret_id)
                if link is None:
                    msg.status, msg.last_error = "cancelled", "The link is no longer valid; not sent."
                    s.add(msg)
                    continue
            msg.status = "sending"
            msg.attempts += 1
            s.add(msg)
            jobs.append(_Job(msg, route, detail, link, attachments.get(msg.id, [])))
        s.flush()
        for job in jobs:
            s.expunge(job.msg)
    return jobs


def _send_notify(notify, job: _Job) -> str:
    msg = job.msg
    body = msg.body_text.replace(LINK_PLACEHOLDER, job.link) if job.link is not None else msg.body_text
    reference = f"atlas-{msg.id}"
    if msg.channel == "email":
        answer = notify_gateway.send_email(notify, to=msg.to_address, template_id=job.template_id,
                                           personalisation=_personalisation(msg, body), reference=reference)
    elif msg.channel == "sms":
        answer = notify_gateway.send_sms(notify, to=msg.to_phone, template_id=job.template_id,
                                         personalisation=_personalisation(msg, body), reference=reference)
    else:
        answer = notify_gateway.send_precompiled_letter(notify, pdf=job.attachments[0].content, reference=reference)
    return answer.notification_id


class _SmtpSenders:
    """Sends a batch of claimed emails over up to ``width`` SMTP connections at once, one per sending thread, each
    opened on first use and kept for the whole delivery pass (no connection set up per email). A connection that
    fails is dropped; its email is retried later like any failed send."""

    def __init__(self, url: str, sender: str, width: int) -> None:
        self.url, self.sender, self.width = url, sender, max(1, width)
        self.local = threading.local()
        self.clients: list[smtplib.SMTP] = []
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None

    def _client(self) -> smtplib.SMTP:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = _smtp_connect(self.url)
            with self.lock:
                self.clients.append(client)
        return client

    def _send_one(self, job: _Job) -> None:
        try:
            self._client().send_message(build_mime(job.msg, job.attachments, self.sender, job.link))
        except (OSError, smtplib.SMTPException) as exc:
            job.error = f"{type(exc).__name__}: {exc}"[:1000]
            if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                                    smtplib.SMTPDataError)):
                self.local.client = None  # the connection is in doubt: the next email opens another

    def send(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        if self.width == 1 or len(jobs) == 1:
            for job in jobs:
                self._send_one(job)
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=self.width, thread_name_prefix="atlas-smtp")
        list(self.pool.map(self._send_one, jobs))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        for client in self.clients:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass


def _record_outcomes(jobs: list[_Job]) -> tuple[int, int, int]:
    """Record a batch's outcomes in one transaction: the emails sent by SMTP in one UPDATE, the rest row by row."""
    sent = failed = retrying = 0
    now = utcnow()
    table = EmailMessage.__table__
    with write_session() as s:
        by_route: dict[str, list[int]] = {}
        for job in jobs:
            if not job.error and not job.provider_id:
                by_route.setdefault(job.route, []).append(job.msg.id)
        for route, ids in by_route.items():
            s.connection().execute(update(table).where(table.c.id.in_(ids)).values(
                status="sent", sent_at=now, last_error="", provider=route))
        sent += sum(len(ids) for ids in by_route.values())
        for job in jobs:
            if not job.error and not job.provider_id:
                continue
            row = s.get(EmailMessage, job.msg.id)
            if not job.error:
                row.status, row.sent_at, row.last_error = "sent", now, ""
                row.provider = job.route
                row.provider_id, row.delivery_status = job.provider_id, row.delivery_status or "created"
                sent += 1
            elif job.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status, row.last_error = "failed", job.error
                failed += 1
            else:
                row.status, row.last_error = "queued", job.error
                row.next_attempt_at = now + RETRY_BASE * (2 ** (row.attempts - 1))
                retrying += 1
            s.add(row)
    return sent, failed, retrying


def deliver_due(limit: int = 100) -> DeliveryReport:
    """Send queued messages that are due, each by its channel's provider. Safe to run from several workers: each
    message is claimed (``_claim``) in a transaction before it is sent, so no message goes out twice; the outcomes
    of a batch are recorded together. Emails go over ``SMTP_CONNECTIONS`` connections at once, each reused for the
    whole pass."""
    settings = get_settings()
    channels = _available_channels()
    if not channels:
        return DeliveryReport(0, 0, 0)
    sent = failed = retrying = 0
    now = utcnow()
    with read_session() as s:
        ids = list(s.exec(
            select(EmailMessage.id)
            .where(EmailMessage.status.in_(("queued", "held")), EmailMessage.next_attempt_at <= now,
                   EmailMessage.channel.in_(channels))
            .order_by(EmailMessage.id)
            .limit(limit)
        ).all())
    smtp = _SmtpSenders(settings.smtp_url or "", settings.mail_from, settings.smtp_connections)
    notify = None
    try:
        for start in range(0, len(ids), CLAIM_BATCH):
            jobs = _claim(ids[start:start + CLAIM_BATCH])
            smtp.send([job for job in jobs if job.route == "smtp"])
            for job in jobs:
                if job.route == "smtp":
                    continue
                try:
                    if notify is None:
                        notify = notify_gateway.client()
                    job.provider_id = _send_notify(notify, job)
                except notify_gateway.NotifyRefused as exc:
                    job.error, job.permanent = str(exc)[:1000], exc.permanent
                except (OSError, smtplib.SMTPException) as exc:
                    job.error = f"{type(exc).__name__}: {exc}"[:1000]
            if jobs:
                s_, f_, r_ = _record_outcomes(jobs)
                sent, failed, retrying = sent + s_, failed + f_, retrying + r_
    finally:
        smtp.close()
    return DeliveryReport(sent, failed, retrying)


@dataclass(frozen=True)
class ReceiptOutcome:
    outcome: str  # "updated", "unchanged", "unknown"
    message_id: int | None = None


def record_receipt(payload: dict) -> ReceiptOutcome:
    """Apply one GOV.UK Notify delivery receipt (``id``, ``reference``, ``status``, ``completed_at``...) to the
    message it is about. Receipts may come twice or out of order: a final status is never replaced by an earlier
    one, and a repeat changes nothing."""
    notification_id = str(payload.get("id") or "")[:64]
    status = str(payload.get("status") or "")[:30]
    if not notification_id or not status:
        return ReceiptOutcome("unknown")
    with write_session() as s:
        msg = s.exec(select(EmailMessage).where(EmailMessage.provider_id == notification_id)
                     .with_for_update()).first()
        if msg is None:
            return ReceiptOutcome("unknown")
        if msg.delivery_status == status or (msg.delivery_status in FINAL_RECEIPTS and status not in FINAL_RECEIPTS):
            return ReceiptOutcome("unchanged", msg.id)
        msg.delivery_status = status
        if status in ("delivered", "received"):
            msg.delivered_at = utcnow()
        if status in FAILED_RECEIPTS:
            msg.status, msg.last_error = "failed", f"GOV.UK Notify: {status}"
        s.add(msg)
        return ReceiptOutcome("updated", msg.id)


def retry(actor: Actor, message_id: int) -> None:
    """Put a failed message back in the queue."""
    actor.require(Perm.OUTBOX_VIEW)
    org_id = actor.require_org()
    with write_session() as s:
        msg = s.exec(
            select(EmailMessage).where(EmailMessage.id == bounds.query_id(message_id),
                                       EmailMessage.organisation_id == org_id)
        ).first()
        if msg is None:
            raise NotFound("That email is not in your organisation's outbox.")
        msg.status = "queued"
        msg.attempts = 0
        msg.next_attempt_at = utcnow()
        s.add(msg)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    created_at: datetime
    to_address: str
    subject: str
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    body_text: str
    attachment_names: list[str]
    channel: str = "email"
    delivery_status: str = ""


def list_messages(actor: Actor, status: str | None = None, limit: int = 100, offset: int = 0
                  ) -> tuple[list[OutboxRow], int]:
    """The organisation's outbox, newest first. Bodies of sensitive messages (reset links) are withheld."""
    actor.require(Perm.OUTBOX_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        conditions = [EmailMessage.organisation_id == org_id]
        if status:
            conditions.append(EmailMessage.status == status)
        total = s.exec(select(func.count()).select_from(EmailMessage).where(*conditions)).one()
        rows = s.exec(
            select(EmailMessage).where(*conditions).order_by(EmailMessage.id.desc()).offset(offset).limit(limit)
        ).all()
        names: dict[int, list[str]] = {}
        if rows:
            for email_id, filename in s.exec(
                select(EmailAttachment.email_id, EmailAttachment.filename).where(
                    EmailAttachment.email_id.in_([r.id for r in rows])
                )
            ).all():
                names.setdefault(email_id, []).append(filename)
    return [
        OutboxRow(
            id=r.id,
            created_at=r.created_at,
            to_address=r.to_address or r.to_phone or ("(post)" if r.channel == "letter" else ""),
            subject=r.subject or ("Text message" if r.channel == "sms" else ""),
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            sent_at=r.sent_at,
            body_text="(withheld: this email holds a single-use sign-in link)" if r.sensitive else r.body_text,
            attachment_names=names.get(r.id, []),
            channel=r.channel,
            delivery_status=r.delivery_status,
        )
        for r in rows
    ], total
