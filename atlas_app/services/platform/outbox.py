"""The email outbox. Every email is queued as a row in the sender's transaction; a delivery pass sends it over SMTP
when ``SMTP_URL`` is set (retrying with back-off, failures kept and shown), and otherwise holds it for staff to read
in the app.

``SMTP_URL`` forms: ``smtp://host:port``, ``smtp://user:password@host:587?starttls=1``, ``smtps://host:465``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

from sqlalchemy import func, insert
from sqlmodel import Session, select

from atlas_app.db import utcnow, write_session, read_session
from atlas_app.models import EmailAttachment, EmailMessage
from atlas_app.services.platform import bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)

# Where a message's single-use link goes. The stored body holds this text; the link itself is made by the renderer
# of the message's ``secret_kind`` when the message is sent, and exists only in the email that leaves.
LINK_PLACEHOLDER = "[single-use link: added to the email when it is sent]"
# secret_kind -> fn(session, secret_id) giving the link, or None when it is no longer wanted (used, expired,
# replaced). Registered by the services that send such links.
LINK_RENDERERS: dict[str, Callable[[Session, int], str | None]] = {}


@dataclass(frozen=True)
class QueuedEmail:
    id: int
    to_address: str
    subject: str


_MESSAGE_INSERT = insert(EmailMessage.__table__).returning(EmailMessage.__table__.c.id)
_ATTACHMENT_INSERT = insert(EmailAttachment.__table__)


def queue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    organisation_id: int | None = None,
    related: tuple[str, object] | None = None,
    sensitive: bool = False,
    link: tuple[str, int] | None = None,
) -> QueuedEmail:
    """Queue an email inside the caller's transaction. ``attachments`` are (filename, content type, bytes).
    The rows are plain INSERTs, sent at once (bookings queue one with every confirmation).

    ``link`` is (secret kind, id) for a message whose body holds ``LINK_PLACEHOLDER``: the link is made at sending.
    """
    if link is not None and (link[0] not in LINK_RENDERERS or LINK_PLACEHOLDER not in body):
        raise ValueError("a message with a link needs a registered kind and the placeholder in its body")
    to = (to or "").strip()
    if "@" not in to or any(c in to for c in "\r\n,;<>"):
        raise ValidationFailed(f"'{to}' is not an email address.", {"to": "invalid"})
    now = utcnow()
    subject = subject.replace("\r", " ").replace("\n", " ")[:300]
    conn = session.connection()
    message_id = conn.execute(_MESSAGE_INSERT, {
        "organisation_id": organisation_id, "to_address": to, "subject": subject, "body_text": body,
        "body_html": html, "status": "queued" if get_settings().smtp_url else "held", "attempts": 0,
        "last_error": "", "sensitive": sensitive, "created_at": now, "next_attempt_at": now, "sent_at": None,
        "related_entity": related[0] if related else "", "related_id": str(related[1]) if related else "",
        "secret_kind": link[0] if link else "", "secret_id": int(link[1]) if link else None,
    }).scalar_one()
    if attachments:
        conn.execute(_ATTACHMENT_INSERT, [{"email_id": message_id, "filename": filename, "content_type": content_type,
                                           "content": content} for filename, content_type, content in attachments])
    return QueuedEmail(message_id, to, subject)


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


def deliver_due(limit: int = 100) -> DeliveryReport:
    """Send queued emails that are due. Safe to run from several workers: each message is claimed in its own
    transaction before it is sent, so no message goes out twice."""
    settings = get_settings()
    if not settings.smtp_url:
        return DeliveryReport(0, 0, 0)
    sent = failed = retrying = 0
    now = utcnow()
    with read_session() as s:
        ids = s.exec(
            select(EmailMessage.id)
            .where(EmailMessage.status.in_(("queued", "held")), EmailMessage.next_attempt_at <= now)
            .order_by(EmailMessage.id)
            .limit(limit)
        ).all()
    client: smtplib.SMTP | None = None
    try:
        for message_id in ids:
            with write_session() as s:
                msg = s.exec(select(EmailMessage).where(EmailMessage.id == message_id).with_for_update()).first()
                if msg is None or msg.status not in ("queued", "held"):
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
                attachments = list(s.exec(select(EmailAttachment).where(EmailAttachment.email_id == msg.id)).all())
            error = ""
            try:
                if client is None:
                    client = _smtp_connect(settings.smtp_url)
                client.send_message(build_mime(msg, attachments, settings.mail_from, link))
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                client = None
            with write_session() as s:
                row = s.get(EmailMessage, msg.id)
                if not error:
                    row.status, row.sent_at, row.last_error = "sent", utcnow(), ""
                    sent += 1
                elif row.attempts >= MAX_ATTEMPTS:
                    row.status, row.last_error = "failed", error
                    failed += 1
                else:
                    row.status, row.last_error = "queued", error
                    row.next_attempt_at = utcnow() + RETRY_BASE * (2 ** (row.attempts - 1))
                    retrying += 1
                s.add(row)
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return DeliveryReport(sent, failed, retrying)


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
            to_address=r.to_address,
            subject=r.subject,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            sent_at=r.sent_at,
            body_text="(withheld: this email holds a single-use sign-in link)" if r.sensitive else r.body_text,
            attachment_names=names.get(r.id, []),
        )
        for r in rows
    ], total
