"""One organisation's rows by ids that came from a browser or an API client: looking one up, and the
create-or-change-with-audit of an administrator's record screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session, select

from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound

Row = TypeVar("Row")


def owned_row(s: Session, model: type[Row], org_id: int, row_id: Any, what: str) -> Row:
    """The ``model`` row ``row_id`` of organisation ``org_id``. An id that is not a number, does not exist or
    belongs to another organisation, or is outside the id range (``bounds``), gets the same
    ``NotFound("No such {what}.")``, so another organisation's ids
    reveal nothing."""
    rid = bounds.id_or_none(row_id)
    if rid is None:
        raise NotFound(f"No such {what}.")
    row = s.exec(select(model).where(model.id == rid, model.organisation_id == org_id)).first()
    if row is None:
        raise NotFound(f"No such {what}.")
    return row


def save_owned(s: Session, actor: Actor, model: type, org_id: int, row_id: Any, values: dict[str, Any], *,
               entity: str, what: str, before_change: Callable[[Any], None] | None = None) -> int:
    """Create the organisation's ``model`` row with ``values`` (``row_id`` None) or change row ``row_id``; either
    is audited as ``entity`` (a change with only the fields that changed, and not at all when nothing did).
    ``before_change(row)`` may refuse a change by raising. Returns the row's id."""
    if row_id is None:
        row = model(organisation_id=org_id, **values)
        s.add(row)
        s.flush()
        audit.record(s, actor, entity, row.id, "created", after=values)
        return row.id
    row = owned_row(s, model, org_id, row_id, what)
    if before_change is not None:
        before_change(row)
    before = {k: getattr(row, k) for k in values}
    for key, value in values.items():
        setattr(row, key, value)
    s.add(row)
    old, new = audit.changes(before, values)
    if new:
        audit.record(s, actor, entity, row.id, "updated", before=old, after=new)
    return row.id
