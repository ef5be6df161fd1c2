"""The row locks a change needs, always taken in one order.

Two writers that lock the same rows in different orders can each hold what the other waits for (a transfer and a
refund at once did, on PostgreSQL). So every writer takes its locks through this module, which takes them in the
order of ``ORDER``:

    checkout attempt → offer → booking → payment → refund → course session (its seats)

and, within one kind, by id. Asking for several locks at once takes them in that order whatever order they were
asked in; asking, later in the same transaction, for a lock that ranks before one already held is a mistake in the
calling code and raises :class:`LockOrderError` at once (instead of deadlocking one day under load).

On PostgreSQL each lock is ``SELECT ... FOR UPDATE`` in key order, and the same statement sets the transaction's
``lock_timeout`` (``set_config(..., is_local => true)``, which is ``SET LOCAL``, without a round trip of its own):
a lock still held by another writer after the timeout gives :class:`Busy`, a Conflict ("busy, try again"), instead
of a wait with no end. On SQLite a write transaction already holds the database's single write lock from its first
statement (``BEGIN IMMEDIATE``, see ``db.py``), so the rows are just read and the order recorded.

Statements that lock a row themselves (the booking's one query for its offer, the guarded seat UPDATEs) declare it
with :func:`claim` before they run, so the order is checked for them too at no cost in round trips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, bindparam, event, func, literal_column
from sqlalchemy import select as rows_of
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from atlas_app.models import Booking, CourseSession, Offer
from atlas_app.models.payments import CheckoutAttempt, Payment, Refund
from atlas_app.services.platform.errors import Conflict

ORDER = ("checkout_attempt", "offer", "booking", "payment", "refund", "course_session")
_MODELS: dict[str, Any] = {"checkout_attempt": CheckoutAttempt, "offer": Offer, "booking": Booking,
                           "payment": Payment, "refund": Refund, "course_session": CourseSession}
_RANK = {kind: rank for rank, kind in enumerate(ORDER)}

LOCK_TIMEOUT_MS = 5000  # how long a writer waits for a row another writer holds before it is told "busy"
_HELD = "atlas_locks_held"
TIMEOUT_PARAM = "atlas_lock_timeout"


class Busy(Conflict):
    """Another change holds a row this one needs for longer than the lock timeout."""

    def __init__(self, message: str = "Someone else is changing this booking right now. "
                                      "Please try again in a moment.") -> None:
        super().__init__(message)


class LockOrderError(RuntimeError):
    """A lock was asked for after one that ranks after it: the calling code must ask for both up front."""


@dataclass(frozen=True, order=True)
class Key:
    rank: int
    id: int
    kind: str = field(compare=False)

    def __repr__(self) -> str:
        return f"{self.kind}:{self.id}"


def key(kind: str, row_id: int) -> Key:
    return Key(_RANK[kind], int(row_id), kind)


def checkout_attempt(row_id: int) -> Key:
    return key("checkout_attempt", row_id)


def offer(row_id: int) -> Key:
    return key("offer", row_id)


def booking(row_id: int) -> Key:
    return key("booking", row_id)


def payment(row_id: int) -> Key:
    return key("payment", row_id)


def refund(row_id: int) -> Key:
    return key("refund", row_id)


def seats(session_id: int) -> Key:
    """The course session's row, whose ``seats_taken`` the guarded seat UPDATEs move."""
    return key("course_session", session_id)


def _held(s: Session) -> set[Key]:
    return s.info.setdefault(_HELD, set())


def held(s: Session) -> frozenset[Key]:
    """The locks this transaction has taken through this module."""
    return frozenset(s.info.get(_HELD, ()))


def _check_order(s: Session, wanted: Iterable[Key]) -> list[Key]:
    """The keys not held yet, sorted; LockOrderError if any ranks before a key already held."""
    holding = _held(s)
    new = sorted(set(wanted) - holding)
    if new and holding and new[0] < max(holding):
        raise LockOrderError(f"lock {new[0]!r} asked for after {max(holding)!r}; ask for both together "
                             f"(the order is {' → '.join(ORDER)})")
    return new


def claim(s: Session, *keys: Key) -> None:
    """Declare locks a statement of the caller's takes itself (checked against the order, then recorded)."""
    _held(s).update(_check_order(s, keys))


def timeout_column(timeout_ms: int | None = None):
    """A column that sets this transaction's lock timeout (PostgreSQL's ``SET LOCAL lock_timeout``) as the row is
    read, before the row is locked: add it to a ``FOR UPDATE`` query to bound its wait with no extra round trip.
    A statement built once (at import) leaves the value to :func:`timeout_params`, passed when it runs."""
    value = bindparam(TIMEOUT_PARAM, type_=String) if timeout_ms is None else \
        bindparam(TIMEOUT_PARAM, f"{int(timeout_ms)}ms", type_=String)
    return func.set_config("lock_timeout", value, literal_column("true")).label("atlas_lock_timeout")


def timeout_params() -> dict[str, str]:
    """The parameter a statement with ``timeout_column()`` (no value) needs: the current lock timeout."""
    return {TIMEOUT_PARAM: f"{int(LOCK_TIMEOUT_MS)}ms"}


def is_postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def lock(s: Session, *keys: Key, timeout_ms: int | None = None) -> dict[Key, Any]:
    """Lock the rows of ``keys`` for the rest of the transaction, in the fixed order, and return them (fresh from
    the database) by key; a key with no row is left out. Keys already held are returned without locking again."""
    new = _check_order(s, keys)
    out: dict[Key, Any] = {}
    postgres = is_postgres(s)
    for kind in ORDER:
        ids = [k.id for k in new if k.kind == kind]
        if not ids:
            continue
        model = _MODELS[kind]
        query = rows_of(model).where(model.id.in_(ids)).order_by(model.id)
        if postgres:
            query = query.add_columns(timeout_column(LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms))
        query = query.with_for_update().execution_options(populate_existing=True)
        rows = s.exec(query).all()
        _held(s).update(key(kind, i) for i in ids)
        for row in rows:
            out[key(kind, row[0].id)] = row[0]
    for k in set(keys) - set(new):
        model = _MODELS[k.kind]
        obj = s.get(model, k.id)
        if obj is not None:
            out[k] = obj
    return out


def lock_one(s: Session, k: Key, timeout_ms: int | None = None) -> Any:
    """Lock one row and return it (None if there is no such row)."""
    return lock(s, k, timeout_ms=timeout_ms).get(k)


def lock_where(s: Session, kind: str, *conditions: Any, timeout_ms: int | None = None) -> Any:
    """Lock the first row of ``kind`` matching ``conditions`` (for rows found by something other than their id,
    such as a checkout attempt by its provider's session id). None when nothing matches."""
    model = _MODELS[kind]
    holding = _held(s)
    if holding and max(holding).rank > _RANK[kind]:
        raise LockOrderError(f"a {kind} lock asked for after {max(holding)!r} (the order is {' → '.join(ORDER)})")
    query = rows_of(model).where(*conditions).order_by(model.id).limit(1)
    postgres = is_postgres(s)
    if postgres:
        query = query.add_columns(timeout_column(LOCK_TIMEOUT_MS if timeout_ms is None else timeout_ms))
    row = s.exec(query.with_for_update(of=model).execution_options(populate_existing=True)).first()
    if row is None:
        return None
    obj = row[0]
    claim(s, key(kind, obj.id))
    return obj


def _is_lock_timeout(exc: BaseException | None) -> bool:
    return getattr(exc, "sqlstate", None) == "55P03"  # lock_not_available


@event.listens_for(Engine, "handle_error")
def _busy_on_lock_timeout(context) -> Busy | None:
    """Any statement that waited longer than the lock timeout (a FOR UPDATE here, a seat UPDATE, the audit chain's
    head) tells the caller "busy, try again" instead of failing with a database error."""
    if _is_lock_timeout(context.original_exception):
        return Busy()
    return None


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_locks(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_HELD, None)


__all__ = ["Busy", "Key", "LOCK_TIMEOUT_MS", "LockOrderError", "ORDER", "booking", "checkout_attempt", "claim",
           "held", "lock", "lock_one", "lock_where", "offer", "payment", "refund", "seats", "timeout_column",
           "timeout_params"]
