"""The audit trail: append-only and hash-chained, one chain per organisation.

Each entry's hash covers its own content and the previous entry's hash on its chain, so altering or deleting any
row breaks that chain from that point, which ``verify_trail`` (``python -m atlas_app audit-verify``) reports, for
each chain. Each organisation's entries are on its own chain (``AuditEntry.chain`` = the organisation's id) with its
own head row, so one organisation's writers never wait for another's; entries with no organisation are on chain 0,
which also holds, unchanged, every entry written before chains were per organisation (migration 0017).

An entry about a client or a casework person names it as its subject (``subject=("client", id)``); the subject is
covered by the entry's hash, so moving an entry onto or off someone's trail breaks the chain like any other change.
Entries with no subject (and every entry from before migration 0024) hash exactly as they always did.

The personal data of an entry about someone can be shredded (``shred_subjects``, when retention purges that person;
``shred_entities`` for the entries of their cases and reports) without breaking the chain: since migration 0035
such an entry's hash covers a digest of its ``before``/``after`` (``personal_digest``, kept on the entry) instead of
the data itself; since 0036 entries about a case or a resident's report do too. Entries written before then
cover their data directly; ``reseal_old_entries`` (``python -m atlas_app audit-reseal``) verifies the whole trail,
gives them the kept digest, re-links each chain from the first of them, and records a sealing entry naming the
head hash it verified, after which they can be shredded too. Verification recomputes the digest from the
data while it is there (so changing it is still detected) and uses the kept digest once it is shredded. Entries
about someone written before 0035 carry no digest: their data is covered directly and cannot be shredded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Iterator

from sqlalchemy import func, text
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow
from atlas_app.models import AuditChainHead, AuditEntry
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, PermissionDenied
from atlas_app.services.platform.permissions import Perm

GENESIS = "0" * 64
SYSTEM_CHAIN = 0  # the chain of entries with no organisation (and of every entry from before migration 0017)
REDACTED = "[redacted]"
_SECRET_KEYS = {"password", "password_hash", "token", "token_hash", "secret"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): (REDACTED if str(k) in _SECRET_KEYS else _jsonable(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    return value


SUBJECT_KINDS = ("client", "person")
# Entries about these records keep their personal part apart too (a case's title names its people, a report's
# entries what a resident wrote), so a purge of the case can shred them.
PERSONAL_ENTITIES = frozenset({"case", "env_report"})


def keeps_personal_apart(subject_kind: str | None, entity: str) -> bool:
    return subject_kind is not None or entity in PERSONAL_ENTITIES


def _fields(entry: AuditEntry) -> dict[str, Any]:
    fields = {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "organisation_id": entry.organisation_id,
        "user_id": entry.user_id,
        "username": entry.username,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "action": entry.action,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    if getattr(entry, "personal_digest", None) is not None:
        # The personal part stands apart: the hash covers its digest, so it can be shredded later.
        del fields["before"], fields["after"]
        fields["personal"] = entry.personal_digest
    if entry.subject_kind is not None:
        fields["subject_kind"] = entry.subject_kind
        fields["subject_id"] = entry.subject_id
    return fields


def _payload(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(entry: AuditEntry) -> str:
    return hashlib.sha256(_payload(_fields(entry)).encode("utf-8")).hexdigest()


def personal_digest(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The digest of an entry's personal part (its before and after), which its hash covers."""
    text_ = _payload({"before": before, "after": after})
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


@dataclass
class _Draft:
    """An entry before it is written: the fast append needs no ORM object (the entry it returns is this)."""

    at: datetime
    organisation_id: int | None
    user_id: int | None
    username: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    subject_kind: str | None = None
    subject_id: int | None = None
    personal_digest: str | None = None
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    id: int | None = None


_DRAFT_FIELDS = ("seq", "at", "organisation_id", "user_id", "username", "entity", "entity_id", "action", "before",
                 "after", "subject_kind", "subject_id", "personal_digest", "prev_hash", "hash")


def chain_of(organisation_id: int | None) -> int:
    """The chain an entry of this organisation (None: the system) goes on."""
    return SYSTEM_CHAIN if organisation_id is None else int(organisation_id)


def _locked_head(session: Session, chain: int) -> AuditChainHead:
    """The chain's head row, locked for this transaction; created by the chain's first writer.

    Several first writers may race to create it: ``INSERT ... ON CONFLICT DO NOTHING`` lets the losers wait for the
    winner's row instead of failing on its primary key, and then lock it like any later writer.
    """
    # populate_existing: the single-statement append may have moved the head since this session last read it.
    query = (select(AuditChainHead).where(AuditChainHead.id == chain).with_for_update()
             .execution_options(populate_existing=True))
    head = session.exec(query).first()
    if head is not None:
        return head
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        session.exec(
            insert(AuditChainHead).values(id=chain, last_seq=0, last_hash=GENESIS).on_conflict_do_nothing(
                index_elements=["id"]
            )
        )
        return session.exec(query).one()
    head = AuditChainHead(id=chain, last_seq=0, last_hash=GENESIS)
    session.add(head)
    session.flush()
    return head


def record(
    session: Session,
    actor: Actor | None,
    entity: str,
    entity_id: Any,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    organisation_id: int | None = None,
    subject: tuple[str, int] | None = None,
) -> AuditEntry | _Draft:
    """Append an audit entry to its organisation's chain inside the caller's transaction (so it commits or rolls
    back with the change).

    The chain's head stays locked until the caller commits, and every writer of the organisation needs it, so
    callers record their entry as their last change. On PostgreSQL the append is a single statement (lock the head,
    chain and insert the entry, move the head), so the lock is held for that statement and the commit only.
    ``subject`` is who the entry is about: ("client", client id) or ("person", person id)."""
    draft = _draft(actor, entity, entity_id, action, before, after, organisation_id, subject)
    if session.get_bind().dialect.name == "postgresql" and _append_in_one_statement(session, [draft]):
        return draft
    entry = AuditEntry(chain=chain_of(draft.organisation_id), **{name: getattr(draft, name) for name in _DRAFT_FIELDS})
    head = _locked_head(session, entry.chain)
    entry.seq = head.last_seq + 1
    entry.prev_hash = head.last_hash
    entry.hash = _digest(entry)
    head.last_seq = entry.seq
    head.last_hash = entry.hash
    session.add(entry)
    session.add(head)
    session.flush()
    return entry


def lock_chain(session: Session, organisation_id: int | None) -> None:
    """Take the organisation's chain head for this transaction: a writer that must not run twice at once for one
    organisation (a purge from the command line while the nightly one runs) waits here for the other to commit."""
    _locked_head(session, chain_of(organisation_id))


def about_client(client_id: int | None) -> tuple[str, int] | None:
    """The subject of an entry about this client (None when there is no client)."""
    return None if client_id is None else ("client", int(client_id))


def about_person(person_id: int | None) -> tuple[str, int] | None:
    """The subject of an entry about this casework person (None when there is none)."""
    return None if person_id is None else ("person", int(person_id))


def _subject(subject: tuple[str, int] | None) -> tuple[str | None, int | None]:
    if subject is None:
        return None, None
    kind, subject_id = subject
    if kind not in SUBJECT_KINDS or subject_id is None:
        raise ValueError(f"audit subject must be one of {SUBJECT_KINDS} with an id, not {subject!r}")
    return kind, int(subject_id)


def _draft(actor: Actor | None, entity: str, entity_id: Any, action: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None, organisation_id: int | None, subject: tuple[str, int] | None) -> _Draft:
    kind, subject_id = _subject(subject)
    before = _jsonable(before) if before is not None else None
    after = _jsonable(after) if after is not None else None
    return _Draft(
        at=utcnow(),
        organisation_id=organisation_id if organisation_id is not None else (actor.organisation_id if actor else None),
        user_id=actor.user_id if actor else None,
        username=actor.username if actor else "",
        entity=entity,
        entity_id="" if entity_id is None else str(entity_id),
        action=action,
        before=before,
        after=after,
        subject_kind=kind,
        subject_id=subject_id,
        personal_digest=personal_digest(before, after) if keeps_personal_apart(kind, entity) else None,
    )


@dataclass(frozen=True)
class Pending:
    """One entry for ``record_many``: what ``record`` takes, without the session and actor."""

    entity: str
    entity_id: Any
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    subject: tuple[str, int] | None = None


def record_many(session: Session, actor: Actor | None, entries: list[Pending], organisation_id: int | None = None,
                batch: int = 1000) -> int:
    """Append many entries of one organisation to its chain in the caller's transaction, in the order given: the
    head is locked once, each entry is chained and hashed exactly as ``record`` would, and they are written with a
    few multi-row INSERTs (on PostgreSQL, up to 16 entries with the head's move in one statement, as ``record``
    writes one). Returns how many were written."""
    if not entries:
        return 0
    drafts = [_draft(actor, p.entity, p.entity_id, p.action, p.before, p.after, organisation_id, p.subject)
              for p in entries]
    if session.get_bind().dialect.name == "postgresql" and _append_in_one_statement(session, drafts):
        return len(drafts)
    chain = chain_of(drafts[0].organisation_id)
    head = _locked_head(session, chain)
    seq, prev = head.last_seq, head.last_hash
    rows: list[dict[str, Any]] = []
    for d in drafts:
        seq += 1
        d.seq, d.prev_hash = seq, prev
        d.hash = prev = _digest(d)  # type: ignore[arg-type]  # _fields reads the same attributes off a draft
        rows.append({"chain": chain, **{name: getattr(d, name) for name in _DRAFT_FIELDS}})
    for i in range(0, len(rows), batch):
        session.execute(AuditEntry.__table__.insert(), rows[i:i + batch])
    head.last_seq, head.last_hash = seq, prev
    session.add(head)
    session.flush()
    return len(rows)


# The entry's digest is sha256 of its JSON (``_payload``); the JSON is cut around the two values only the head knows
# (the previous hash and the sequence number) and PostgreSQL joins the pieces and hashes them under the head's lock.
# For several entries, each one's hash is chained on the one before it inside the statement (e1, e2, ...), so a
# whole change's entries are appended, and the head moved, in one round trip.
_APPEND_MAX = 16  # entries per statement; longer lists take the general path
_APPEND_COLUMNS = ("at", "organisation_id", "user_id", "username", "entity", "entity_id", "action", "before",
                   "after", "subject_kind", "subject_id", "personal_digest")
_APPEND_SQL: dict[int, Any] = {}


def _append_sql(n: int):
    """The statement appending ``n`` entries (made once per ``n``)."""
    made = _APPEND_SQL.get(n)
    if made is not None:
        return made
    steps = []
    for i in range(1, n + 1):
        before = "old" if i == 1 else f"e{i - 1}"
        seq, prev = ("old.last_seq", "old.last_hash") if i == 1 else (f"e{i - 1}.seq", f"e{i - 1}.hash")
        steps.append(f"""e{i} AS (
    SELECT {seq} + 1 AS seq, {prev} AS prev_hash,
           encode(sha256(convert_to(CAST(:p1_{i} AS TEXT) || {prev} || CAST(:p2_{i} AS TEXT)
                                    || CAST({seq} + 1 AS TEXT) || CAST(:p3_{i} AS TEXT), 'UTF8')), 'hex') AS hash
    FROM {before}
)""")
    from sqlalchemy.dialects import postgresql

    columns = AuditEntry.__table__.c
    types = {c: columns[c].type.compile(dialect=postgresql.dialect()) for c in _APPEND_COLUMNS}
    rows = []
    for i in range(1, n + 1):   # each value cast to its column's type, so the rows' types agree
        values = ", ".join(f"CAST(:{c}_{i} AS {types[c]})" for c in _APPEND_COLUMNS)
        rows.append(f"SELECT :chain, e{i}.seq, {values}, e{i}.prev_hash, e{i}.hash FROM e{i}, head")
    made = text(f"""
WITH old AS (
    SELECT id, last_seq, last_hash FROM audit_chain_head WHERE id = :chain FOR UPDATE
), {", ".join(steps)}, head AS (
    UPDATE audit_chain_head AS h SET last_seq = e{n}.seq, last_hash = e{n}.hash
    FROM e{n} WHERE h.id = :chain
    RETURNING h.id
)
INSERT INTO audit_entry (chain, seq, {", ".join(_APPEND_COLUMNS)}, prev_hash, hash)
{" UNION ALL ".join(rows)}
RETURNING id, seq, prev_hash, hash
""")
    _APPEND_SQL[n] = made
    return made


def _cut(entry: _Draft) -> tuple[str, str, str] | None:
    """The entry's JSON in three pieces around its previous hash and its sequence number, or None when its text
    happens to contain a cut marker."""
    prev_mark, seq_mark = secrets.token_hex(16), secrets.token_hex(16)
    fields = _fields(entry)  # type: ignore[arg-type]  # _fields reads the same attributes off a draft
    fields["prev_hash"], fields["seq"] = prev_mark, seq_mark
    text_ = _payload(fields)
    quoted_seq = f'"{seq_mark}"'
    if text_.count(prev_mark) != 1 or text_.count(seq_mark) != 1 or text_.index(prev_mark) > text_.index(quoted_seq):
        return None
    p1, rest = text_.split(prev_mark)
    p2, p3 = rest.split(quoted_seq)
    return p1, p2, p3


def _append_in_one_statement(session: Session, entries: list[_Draft]) -> bool:
    """Append ``entries`` (one organisation's, in order) with one statement; False (nothing written) when the chain
    has no head row yet, there are too many, or an entry's text happens to contain a cut marker, so the caller
    takes the general path."""
    if not entries or len(entries) > _APPEND_MAX:
        return False
    params: dict[str, Any] = {"chain": chain_of(entries[0].organisation_id)}
    for i, entry in enumerate(entries, start=1):
        pieces = _cut(entry)
        if pieces is None:
            return False
        params[f"p1_{i}"], params[f"p2_{i}"], params[f"p3_{i}"] = pieces
        for c in _APPEND_COLUMNS:
            value = getattr(entry, c)
            if c in ("before", "after") and value is not None:
                value = json.dumps(value, ensure_ascii=False)
            params[f"{c}_{i}"] = value
    rows = sorted(session.connection().execute(_append_sql(len(entries)), params).all(), key=lambda r: r.seq)
    if not rows:
        return False
    for entry, row in zip(entries, rows, strict=True):
        entry.id, entry.seq, entry.prev_hash, entry.hash = row.id, row.seq, row.prev_hash, row.hash
        if _digest(entry) != entry.hash:  # type: ignore[arg-type]  # the database must hash what verify_chain will
            raise RuntimeError("audit chain: the database computed a different hash; nothing was written")
    return True


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


@dataclass(frozen=True)
class ChainReport:
    """One chain's verification: ``chain`` is the organisation's id, or 0 for the system's chain."""

    chain: int
    ok: bool
    entries_checked: int
    first_broken_seq: int | None = None
    reason: str = ""

    @property
    def name(self) -> str:
        return "the system's chain" if self.chain == SYSTEM_CHAIN else f"organisation {self.chain}"


@dataclass(frozen=True)
class TrailReport:
    """Every chain's verification, the system's chain first, then by organisation."""

    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    @property
    def broken(self) -> tuple[ChainReport, ...]:
        return tuple(c for c in self.chains if not c.ok)

    @property
    def entries_checked(self) -> int:
        """Entries found intact, over all chains (up to the first broken link of a broken chain)."""
        return sum(c.entries_checked for c in self.chains)

    @property
    def first_broken_seq(self) -> int | None:
        return self.broken[0].first_broken_seq if self.broken else None

    @property
    def reason(self) -> str:
        return self.broken[0].reason if self.broken else ""

    def for_chain(self, chain: int) -> ChainReport | None:
        return next((c for c in self.chains if c.chain == chain), None)


def verify_chain(session: Session, chain: int, batch: int = 5000) -> ChainReport:
    """Walk one chain in order; report its first entry whose link or content does not match."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    last_seq = 0

    def broken(seq: int, reason: str, intact: int | None = None) -> ChainReport:
        return ChainReport(chain, False, checked if intact is None else intact, seq, reason)

    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return broken(expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != prev_hash:
                return broken(entry.seq, "its link to the previous entry does not match")
            if _digest(entry) != entry.hash:
                return broken(entry.seq, "its content was changed after it was written")
            if entry.personal_digest is not None and entry.shredded_at is None and \
                    personal_digest(entry.before, entry.after) != entry.personal_digest:
                return broken(entry.seq, "its content was changed after it was written")
            if chain != SYSTEM_CHAIN and entry.organisation_id != chain:
                return broken(entry.seq, "it was moved here from another organisation's chain")
            prev_hash = entry.hash
            expected_seq += 1
            checked += 1
            last_seq = entry.seq
    head = session.get(AuditChainHead, chain)
    if head is not None and head.last_seq != last_seq:
        return broken(last_seq + 1, "entries at the end of the trail were deleted")
    if head is not None and head.last_hash != prev_hash:
        # The last entry has no successor to link to it; the head keeps its true hash.
        return broken(last_seq, "its content was changed after it was written", checked - 1)
    if head is None and checked:
        return broken(last_seq, "the head of the chain is missing")
    return ChainReport(chain, True, checked)


def shred_subjects(session: Session, organisation_id: int, kind: str, subject_ids: list[int]) -> int:
    """Delete the personal part (before and after) of every entry about these subjects that keeps it apart; the
    chain stays verifiable through each entry's kept digest. Returns how many entries were shredded."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(kind)
    shredded = 0
    table = AuditEntry.__table__
    for i in range(0, len(subject_ids), 500):
        chunk = subject_ids[i:i + 500]
        result = session.execute(
            table.update().where(table.c.organisation_id == organisation_id, table.c.subject_kind == kind,
                                 table.c.subject_id.in_(chunk), table.c.personal_digest.is_not(None),
                                 table.c.shredded_at.is_(None))
            .values(before=None, after=None, shredded_at=utcnow()))
        shredded += result.rowcount or 0
    return shredded


def shred_entities(session: Session, organisation_id: int, entity: str, entity_ids: list[int | str]) -> int:
    """Like ``shred_subjects``, for the entries about these records (``PERSONAL_ENTITIES``: cases, reports)."""
    if entity not in PERSONAL_ENTITIES:
        raise ValueError(entity)
    shredded = 0
    table = AuditEntry.__table__
    ids = [str(i) for i in entity_ids]
    for i in range(0, len(ids), 500):
        result = session.execute(
            table.update().where(table.c.organisation_id == organisation_id, table.c.entity == entity,
                                 table.c.entity_id.in_(ids[i:i + 500]), table.c.personal_digest.is_not(None),
                                 table.c.shredded_at.is_(None))
            .values(before=None, after=None, shredded_at=utcnow()))
        shredded += result.rowcount or 0
    return shredded


class ChainBroken(Exception):
    """Re-sealing refused: the trail does not verify as it is, so it must be investigated, not re-hashed."""

    def __init__(self, report: TrailReport):
        self.report = report
        super().__init__(f"the audit trail is broken ({report.broken[0].name}, entry {report.first_broken_seq}: "
                         f"{report.reason}); nothing was re-sealed")


@dataclass(frozen=True)
class ResealedChain:
    chain: int
    old_head_seq: int
    old_head_hash: str
    resealed: int  # entries given a kept digest of their personal part
    rechained: int  # entries whose hash changed (the resealed ones and every one after the first)
    sealing_seq: int


def _needs_digest(entry: AuditEntry) -> bool:
    return entry.personal_digest is None and keeps_personal_apart(entry.subject_kind, entry.entity)


def reseal_old_entries(session: Session, actor: Actor | None = None, batch: int = 2000) -> list[ResealedChain]:
    """Make entries about people written before their personal part was kept apart (before migrations 0035 and
    0036) shreddable, without losing the trail's evidence.

    First the whole trail is verified, each chain's head locked; a broken chain refuses everything
    (``ChainBroken``). Then, on each chain that has such entries, they get the kept digest of their personal part
    and every entry from the first of them on is re-hashed and re-linked in order, so the chain verifies as
    before; a sealing entry at the end (``audit_trail`` / ``resealed``) names the head's hash and sequence number
    that were verified, and how many entries changed. A copy of the old head's hash kept elsewhere is matched by
    that entry; tampering after the re-seal breaks the chain like any other change. Run inside one transaction:
    the caller commits (or nothing is changed)."""
    chains = sorted(set(session.exec(select(AuditEntry.chain).distinct()).all())
                    | set(session.exec(select(AuditChainHead.id)).all()))
    heads = {c: _locked_head(session, c) for c in chains}  # no writer appends while the trail is checked
    session.flush()
    report = verify_trail(session)
    if not report.ok:
        raise ChainBroken(report)
    done: list[ResealedChain] = []
    for chain in chains:
        first = session.exec(select(func.min(AuditEntry.seq)).where(
            AuditEntry.chain == chain, AuditEntry.personal_digest.is_(None),
            (AuditEntry.subject_kind.is_not(None)) | (AuditEntry.entity.in_(sorted(PERSONAL_ENTITIES))))).one()
        if first is None:
            continue
        head = heads[chain]
        old_seq, old_hash = head.last_seq, head.last_hash
        prev = session.exec(select(AuditEntry.hash).where(AuditEntry.chain == chain,
                                                          AuditEntry.seq == first - 1)).first() or GENESIS
        resealed = rechained = 0
        last = first - 1
        while True:
            rows = session.exec(select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > last)
                                .order_by(AuditEntry.seq).limit(batch)).all()
            if not rows:
                break
            for entry in rows:
                if _needs_digest(entry):
                    entry.personal_digest = personal_digest(entry.before, entry.after)
                    resealed += 1
                entry.prev_hash = prev
                entry.hash = prev = _digest(entry)
                rechained += 1
                last = entry.seq
                session.add(entry)
            session.flush()
        head.last_hash = prev
        session.add(head)
        session.flush()
        sealing = record(session, actor, "audit_trail", chain, "resealed",
                         after={"old_head_seq": old_seq, "old_head_hash": old_hash, "entries_resealed": resealed,
                                "entries_rechained": rechained},
                         organisation_id=None if chain == SYSTEM_CHAIN else chain)
        done.append(ResealedChain(chain, old_seq, old_hash, resealed, rechained, sealing.seq))
    return done


def verify_trail(session: Session, batch: int = 5000) -> TrailReport:
    """Verify every chain: each one that has entries or a head row."""
    chains = set(session.exec(select(AuditEntry.chain).distinct()).all())
    chains |= set(session.exec(select(AuditChainHead.id)).all())
    return TrailReport(tuple(verify_chain(session, c, batch) for c in sorted(chains)))


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: datetime
    organisation_id: int | None
    username: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    subject_kind: str | None = None
    subject_id: int | None = None


def _row(r: AuditEntry) -> AuditRow:
    return AuditRow(r.seq, r.at, r.organisation_id, r.username, r.entity, r.entity_id, r.action, r.before, r.after,
                    r.subject_kind, r.subject_id)


def _subject_condition(session: Session, org_id: int, kind: str, subject_id: int) -> Any:
    """Entries about one client or casework person of the organisation: those naming it as their subject and, for
    a person, the entries of every case they are linked to (a case's entries are about all its people)."""
    from sqlalchemy import and_, or_

    from atlas_app.models.casework import Case, CasePerson

    own = and_(AuditEntry.subject_kind == kind, AuditEntry.subject_id == int(subject_id))
    if kind != "person":
        return own
    cases = session.exec(select(CasePerson.case_id).join(Case, Case.id == CasePerson.case_id)
                         .where(CasePerson.person_id == int(subject_id), Case.organisation_id == org_id)).all()
    if not cases:
        return own
    return or_(own, and_(AuditEntry.entity == "case", AuditEntry.entity_id.in_([str(c) for c in set(cases)])))


def _offer_condition(session: Session, org_id: int, reference: str) -> Any:
    """Entries about one of the organisation's offers: the offer's own, and those of its bookings, their payments,
    refunds and payment plans, its calls and its letters (matched by what each entry names)."""
    from sqlalchemy import and_, false, or_

    from atlas_app.models import Booking, CallLog, Offer, Payment, PaymentPlan, Refund

    ref = reference.strip().upper()
    offer = session.exec(select(Offer).where(Offer.organisation_id == org_id,
                                             func.upper(Offer.offer_reference) == ref)).first()
    if offer is None:
        return false()
    bookings = session.exec(select(Booking.id, Booking.reference).where(Booking.offer_id == offer.id,
                                                                        Booking.organisation_id == org_id)).all()
    booking_ids = [b.id for b in bookings]
    payments = session.exec(select(Payment.id).where(Payment.booking_id.in_(booking_ids))).all() if bookings else []
    refunds = session.exec(select(Refund.id).where(Refund.payment_id.in_(payments))).all() if payments else []
    plans = session.exec(select(PaymentPlan.id).where(PaymentPlan.booking_id.in_(booking_ids))).all() \
        if bookings else []
    calls = session.exec(select(CallLog.id).where(CallLog.offer_id == offer.id)).all()
    named = [("offer", [offer.offer_reference]), ("booking", [b.reference for b in bookings]),
             ("payment", payments), ("refund", refunds), ("payment_plan", plans), ("call", calls)]
    parts = [and_(AuditEntry.entity == entity, AuditEntry.entity_id.in_([str(v) for v in values]))
             for entity, values in named if values]
    return or_(*parts)


def search(
    session: Session,
    actor: Actor,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    username: str | None = None,
    action: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    client_id: int | None = None,
    person_id: int | None = None,
    offer_reference: str | None = None,
    limit: int = 200,
    offset: int = 0,
    oldest_first: bool = False,
) -> tuple[list[AuditRow], int]:
    """Audit entries of the actor's organisation, newest first (or oldest first), filtered; returns (rows, total).

    ``client_id`` / ``person_id``: the entries about that client or casework person; ``offer_reference``: the entries
    about that offer, its bookings and their payments. Every condition is within the actor's organisation, so
    another organisation's client, person or offer matches nothing."""
    if not actor.can(Perm.AUDIT_VIEW):
        raise PermissionDenied()
    org_id = actor.require_org()
    conditions = [AuditEntry.organisation_id == org_id]
    if entity:
        conditions.append(AuditEntry.entity == entity)
    if entity_id:
        conditions.append(AuditEntry.entity_id == entity_id)
    if username:
        conditions.append(AuditEntry.username == username.strip().lower())
    if action:
        conditions.append(AuditEntry.action == action)
    if date_from:
        conditions.append(AuditEntry.at >= date_from)
    if date_to:
        conditions.append(AuditEntry.at < date_to)
    if client_id is not None:
        conditions.append(_subject_condition(session, org_id, "client", client_id))
    if person_id is not None:
        conditions.append(_subject_condition(session, org_id, "person", person_id))
    if offer_reference and offer_reference.strip():
        conditions.append(_offer_condition(session, org_id, offer_reference))
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
    order = AuditEntry.id.asc() if oldest_first else AuditEntry.id.desc()
    rows = session.exec(
        select(AuditEntry).where(*conditions).order_by(order).offset(offset).limit(min(limit, 1000))
    ).all()
    return [_row(r) for r in rows], total


def subject_trail(actor: Actor, kind: str, subject_id: int, batch: int = 1000) -> Iterator[AuditRow]:
    """Every entry about one client or casework person of the actor's organisation, oldest first (from the
    referral on), read a batch at a time. Another organisation's subject yields nothing."""
    if not actor.can(Perm.AUDIT_VIEW):
        raise PermissionDenied()
    org_id = actor.require_org()
    if kind not in SUBJECT_KINDS:
        raise NotFound("An audit trail is kept for clients and casework people.")
    with read_session() as s:
        about = _subject_condition(s, org_id, kind, int(subject_id))
    last_id = 0
    while True:
        with read_session() as s:
            rows = s.exec(select(AuditEntry).where(AuditEntry.organisation_id == org_id, about,
                                                   AuditEntry.id > last_id)
                          .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return
        for r in rows:
            yield _row(r)
        last_id = rows[-1].id


CSV_COLUMNS = ("Sequence", "When (UTC)", "By", "Entity", "Entity id", "Action", "Before", "After")


def trail_csv(actor: Actor, kind: str, subject_id: int) -> Iterator[bytes]:
    """One subject's trail as CSV (UTF-8 with a byte-order mark), oldest first; every cell a spreadsheet could
    run as a formula is neutralised. Permission and tenancy are checked before the first byte."""
    import csv
    import io

    from atlas_app.services.insight.reports import safe_cell

    rows = subject_trail(actor, kind, subject_id)
    first = next(rows, None)  # runs the checks now, not when the response starts streaming

    def chunks() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_COLUMNS)
        row = first
        n = 0
        while row is not None:
            writer.writerow([safe_cell(v) for v in (
                row.seq, row.at.isoformat(), row.username, row.entity, row.entity_id, row.action,
                "" if row.before is None else json.dumps(row.before, ensure_ascii=False, sort_keys=True),
                "" if row.after is None else json.dumps(row.after, ensure_ascii=False, sort_keys=True))])
            n += 1
            if n % 200 == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate(0)
            row = next(rows, None)
        yield buffer.getvalue().encode("utf-8")

    return chunks()


def distinct_values(session: Session, actor: Actor) -> dict[str, list[str]]:
    """The entities and actions seen in the organisation's trail, for the viewer's filters."""
    actor.require(Perm.AUDIT_VIEW)
    org_id = actor.require_org()
    entities = session.exec(
        select(AuditEntry.entity).where(AuditEntry.organisation_id == org_id).distinct().order_by(AuditEntry.entity)
    ).all()
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.organisation_id == org_id).distinct().order_by(AuditEntry.action)
    ).all()
    return {"entities": list(entities), "actions": list(actions)}


@dataclass(frozen=True)
class TrailPage:
    rows: list[AuditRow]
    total: int
    entities: list[str]
    actions: list[str]


def trail_page(actor: Actor, *, limit: int = 200, offset: int = 0, **filters: Any) -> TrailPage:
    """One page of the audit viewer: the filtered entries (``search``) and the filter choices, in one session."""
    with read_session() as s:
        rows, total = search(s, actor, limit=limit, offset=offset, **filters)
        values = distinct_values(s, actor)
    return TrailPage(rows, total, values["entities"], values["actions"])
