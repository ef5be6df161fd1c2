"""The demo organisation, Demo Borough Council (slug ``demo``): a tenant full of generated data that anyone may sign
in to with the demo logins, and that the platform administrator resets (in the app, or ``python -m atlas_app
reset-demo``), and optionally every night (a platform setting, off by default: ``set_nightly``).

A reset deletes every row of the demo organisation and regenerates them, in one transaction per step, and touches
no other organisation: the rows deleted are found from the schema itself, as those whose ``organisation_id`` is the
demo organisation's, and the rows that hang from them by foreign key (a user's sessions, an email's attachments),
children before parents. The organisation's row stays (same id); its audit chain is deleted with its head and
starts again from the reset. Everyone signed in to the demo organisation is signed out by it (their sessions go with
their users) and the sign-in page says when the last reset was.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import time as time_of_day

from sqlalchemy import Table, delete
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from atlas_app.db import read_session, write_session
from atlas_app.models import AuditChainHead, AuditEntry, AuthSession, Organisation, User
from atlas_app.services import demo
from atlas_app.services.platform import audit, nightly, platform_settings, previews
from atlas_app.services.platform.actor import Actor, system_actor
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed

SLUG = previews.DEMO_ORG_SLUG
NAME = previews.DEMO_ORG_NAME
RESET_ACTION = "demo_reset"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    full_name: str


def logins() -> list[DemoLogin]:
    """The demo organisation's logins, one for each role (shown on its sign-in page: they are public)."""
    return [DemoLogin(role, username, password, full_name)
            for username, full_name, role, password in demo.DEMO_USERS[SLUG]]


def organisation_id() -> int | None:
    with read_session() as s:
        return s.exec(select(Organisation.id).where(Organisation.slug == SLUG)).first()


def last_reset_at() -> datetime | None:
    """When the demo organisation was last reset (None: never)."""
    oid = organisation_id()
    if oid is None:
        return None
    with read_session() as s:
        return s.exec(select(AuditEntry.at).where(AuditEntry.organisation_id == oid,
                                                  AuditEntry.entity == "organisation",
                                                  AuditEntry.action == RESET_ACTION)
                      .order_by(AuditEntry.id.desc())).first()


def _fingerprint(token_hash: str) -> str:
    """What the reset keeps of a session it ended: a hash of the token's hash (no use for signing in), so the
    sign-in page can tell that browser why it was signed out."""
    return hashlib.sha256(("atlas-demo-reset:" + token_hash).encode()).hexdigest()[:32]


def signed_out_by_reset(raw_token: str | None) -> datetime | None:
    """When the last reset ended the session of this browser's token (None: it did not)."""
    if not raw_token:
        return None
    oid = organisation_id()
    if oid is None:
        return None
    mark = _fingerprint(hashlib.sha256(raw_token.encode("utf-8")).hexdigest())
    with read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.organisation_id == oid,
                                                AuditEntry.entity == "organisation",
                                                AuditEntry.action == RESET_ACTION)
                       .order_by(AuditEntry.id.desc())).first()
    if entry is None or mark not in ((entry.after or {}).get("signed_out") or []):
        return None
    return entry.at


def _tables() -> list[Table]:
    """Every table of the schema, children before parents."""
    return list(reversed(SQLModel.metadata.sorted_tables))


def _owned_condition(table: Table, org_id: int, memo: dict[str, object]):
    """The SQL condition picking the demo organisation's rows of ``table`` (None: the table holds none)."""
    if table.name in memo:
        return memo[table.name]
    memo[table.name] = None  # a cycle holds nothing more
    if table.name == "organisation":
        cond = None  # the organisation's own row stays
    elif "organisation_id" in table.c:
        cond = table.c.organisation_id == org_id
    elif table.name == AuditChainHead.__tablename__:
        cond = table.c.id == audit.chain_of(org_id)
    else:
        parts = []
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name == "organisation":
                # Not the owner (that is ``organisation_id``): e.g. the organisation a platform administrator's
                # session acts for. The organisation's row stays, so such a row stays valid and is not deleted.
                continue
            parent_cond = _owned_condition(parent, org_id, memo)
            if parent_cond is not None:
                parts.append(fk.parent.in_(sa_select(fk.column).where(parent_cond)))
        cond = None
        for part in parts:
            cond = part if cond is None else (cond | part)
    memo[table.name] = cond
    return cond


def delete_rows(session, org_id: int) -> dict[str, int]:
    """Delete every row of the organisation, children first; returns rows deleted per table."""
    memo: dict[str, object] = {}
    conditions = [(t, _owned_condition(t, org_id, memo)) for t in _tables()]
    # The dashboards' daily totals last: deleting the rows they count updates them through triggers.
    conditions.sort(key=lambda tc: tc[0].name.startswith("dashboard_"))
    counts = {}
    for table, cond in conditions:
        if cond is None:
            continue
        result = session.execute(delete(table).where(cond))
        if result.rowcount:
            counts[table.name] = result.rowcount
    return counts


@dataclass(frozen=True)
class ResetReport:
    deleted: int
    users: int
    seconds: float


def reset(actor: Actor) -> ResetReport:
    """Delete and regenerate the demo organisation's rows (platform administrator only; creates the organisation
    if it does not exist yet). Audited on the platform administrator's chain and as the first entry of the demo
    organisation's new chain."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the platform administrator can reset the demo organisation.")
    started = time.monotonic()
    deleted = 0
    signed_out: list[str] = []
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.slug == SLUG).with_for_update()).first()
        if org is not None:
            signed_out = [_fingerprint(h) for h in s.exec(
                select(AuthSession.token_hash).join(User, User.id == AuthSession.user_id)
                .where(User.organisation_id == org.id, AuthSession.ended_at.is_(None))).all()]
            deleted = sum(delete_rows(s, org.id).values())
    users = demo.seed_organisation(SLUG)
    seconds = time.monotonic() - started
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.slug == SLUG)).first()
        if org is None:
            raise NotFound("The demo organisation could not be made.")
        details = {"rows_deleted": deleted, "users": users, "seconds": round(seconds, 1)}
        audit.record(s, actor, "organisation", org.id, RESET_ACTION, after=details,
                     organisation_id=actor.organisation_id)
        audit.record(s, system_actor(org.id, "reset-demo"), "organisation", org.id, RESET_ACTION,
                     after={**details, "by": actor.username, "signed_out": signed_out}, organisation_id=org.id)
    return ResetReport(deleted, users, seconds)


# --- the nightly reset -------------------------------------------------------------------------------------------

NIGHTLY_KEY, AT_KEY = "demo_reset_nightly", "demo_reset_at"
JOB = "demo_reset"


@dataclass(frozen=True)
class NightlyReset:
    on: bool
    at: time_of_day

    @property
    def at_text(self) -> str:
        return self.at.strftime("%H:%M")


def _parse_at(value: object) -> time_of_day:
    text = str(value or "").strip()
    try:
        hours, minutes = text.split(":")
        if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
            raise ValueError
        return time_of_day(int(hours), int(minutes))
    except ValueError:
        raise ValidationFailed("Give the time as hours and minutes, for example 03:00.", {"at": "invalid"}) from None


def nightly_setting() -> NightlyReset:
    """Whether the demo organisation is reset every night, and at what London time."""
    values = platform_settings.get_many(NIGHTLY_KEY, AT_KEY)
    try:
        at = _parse_at(values[AT_KEY])
    except ValidationFailed:
        at = _parse_at(platform_settings.DEFAULTS[AT_KEY])
    return NightlyReset(values[NIGHTLY_KEY] == "on", at)


def set_nightly(actor: Actor, on: bool, at: object) -> NightlyReset:
    """Switch the nightly reset on or off and set its London time (platform administrator; audited)."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the platform administrator can schedule the demo organisation's reset.")
    when = _parse_at(at)
    platform_settings.put_many(actor, {NIGHTLY_KEY: "on" if on else "off", AT_KEY: when.strftime("%H:%M")})
    return NightlyReset(bool(on), when)


def nightly_reset(now: datetime | None = None) -> bool:
    """The housekeeping job: when the nightly reset is on, reset the demo organisation once a night at its time,
    in the one worker that claims the night (services/platform/nightly.py, as the retention purge). True when it
    ran here."""
    setting = nightly_setting()
    if not setting.on:
        return False

    def work() -> str:
        report = reset(system_actor(None, "nightly:reset-demo"))
        return f"{report.deleted:,} rows deleted and made afresh in {report.seconds:.1f} s"

    return nightly.run_daily(JOB, setting.at, work, now=now)
