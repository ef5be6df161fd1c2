"""Each organisation's GOV.UK Notify template ids: one per message kind and channel (the ids of the templates made on
Notify's templates page). A Notify template fills its ``((placeholders))`` from the message's personalisation: every
merge field of the kind, flattened (``((client_first_name))``, ``((booking_when))``), and ``((subject))`` and
``((body))``, the message as Atlas wrote it from the organisation's own template, so a Notify template of just
``((body))`` sends Atlas's wording unchanged."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import NotifyTemplate
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.permissions import Perm

CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class NotifyTemplateRow:
    kind: str
    channel: str
    template_id: str


def list_templates(actor: Actor) -> list[NotifyTemplateRow]:
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        rows = s.exec(select(NotifyTemplate).where(NotifyTemplate.organisation_id == org_id)
                      .order_by(NotifyTemplate.kind, NotifyTemplate.channel)).all()
        return [NotifyTemplateRow(r.kind, r.channel, r.template_id) for r in rows]


def set_template(actor: Actor, kind: str, channel: str, template_id: str) -> None:
    """Set (or, with an empty id, remove) the organisation's Notify template for a kind on a channel."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    kind = str(kind or "").strip()
    if not kind or len(kind) > 40:
        raise ValidationFailed("Choose the kind of message.", {"kind": "invalid"})
    if channel not in CHANNELS:
        raise ValidationFailed("Choose email or text message.", {"channel": "invalid"})
    template_id = str(template_id or "").strip().lower()
    if template_id:
        try:
            template_id = str(uuid.UUID(template_id))
        except ValueError:
            raise ValidationFailed("A Notify template id looks like 4f9d0e2a-...: copy it from Notify's template "
                                   "page.", {"template_id": "invalid"}) from None
    with write_session() as s:
        row = s.exec(select(NotifyTemplate).where(NotifyTemplate.organisation_id == org_id,
                                                  NotifyTemplate.kind == kind,
                                                  NotifyTemplate.channel == channel).with_for_update()).first()
        before = {"template_id": row.template_id} if row else None
        if not template_id:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(NotifyTemplate(organisation_id=org_id, kind=kind, channel=channel, template_id=template_id,
                                 updated_by=actor.username))
        else:
            row.template_id, row.updated_by, row.updated_at = template_id, actor.username, utcnow()
            s.add(row)
        audit.record(s, actor, "notify_template", f"{kind}:{channel}", "update", before=before,
                     after={"template_id": template_id} if template_id else None, organisation_id=org_id)
