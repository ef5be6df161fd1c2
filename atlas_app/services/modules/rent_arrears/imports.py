"""The weekly file of rent transactions from the rent system (CSV with a header row).

Columns (by header name, in any order, case and spaces ignored):

* ``transaction_id`` — the rent system's id of the transaction (40 characters at most), unique per organisation;
* ``rent_account`` — the tenancy's rent account reference (the tenancy must exist);
* ``date`` — the day it was posted, ``YYYY-MM-DD`` or ``DD/MM/YYYY``;
* ``type`` — ``charge`` (rent), ``payment``, ``housing_benefit`` (or ``HB``), ``universal_credit`` (or ``UC``,
  a direct payment to the landlord), ``adjustment``;
* ``method`` — how a payment was made (``direct_debit``, ``card``, ``cash``, ...), optional;
* ``amount`` — pounds and pence. Charges and payments are written as positive amounts; an adjustment is positive
  when it adds to what the tenant owes and negative (``-12.50``) when it is a credit.

All or nothing: the whole file is one transaction; one malformed row refuses it (``ImportRefused``) and every
malformed row is named with its line (the first ``MAX_REPORTED_ERRORS``). Idempotent: a transaction id already
imported is skipped (the rent system's transactions do not change; a correction comes as an adjustment), so
importing the same file again changes nothing. Bounded memory: rows are read as a stream, checked, and written in
batches; only the organisation's rent accounts are held (one entry per tenancy). Large files are read in a second
process, so parsing overlaps the database work.

On PostgreSQL each batch is a ``COPY`` into a temporary staging table (no indexes, no triggers, not logged), and
every ``MOVE_ROWS`` staged rows one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` moves them into
``rent_transaction`` while the reader process goes on parsing. PostgreSQL checks the foreign keys of
``rent_transaction`` row by row, and those checks were most of the time of a large load, so for a file of
``BULK_MIN_BYTES`` or more the foreign keys are dropped at the start of the import's transaction and added back at
its end: adding them validates every row in one anti-join, and nothing commits unless it passes. Dropping them
takes an exclusive lock on ``rent_transaction`` and ``rent_tenancy`` until the import ends (every organisation's
rent pages wait for it); when the lock is not granted within ``BULK_LOCK_TIMEOUT`` the keys stay and are checked
row by row. On SQLite each batch is an ``executemany … ON CONFLICT DO NOTHING``. After the file is in,
``recompute`` works out every tenancy's figures and stages.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import select

from atlas_app.db import write_session
from atlas_app.models import ImportJob
from atlas_app.models.rent_arrears import RentTenancy
from atlas_app.services import modules
from atlas_app.services.modules.rent_arrears import CODE
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.permissions import Perm

BATCH_SIZE = 20_000
MOVE_ROWS = 250_000
BULK_MIN_BYTES = 32 << 20
BULK_LOCK_TIMEOUT = "5s"
QUEUED_BATCHES = 16
PARALLEL_MIN_BYTES = 4 << 20
ANALYZE_AFTER = 50_000
MAX_REPORTED_ERRORS = 200
MAX_AMOUNT_PENCE = 100_000_00
JOB_KIND = "rent_transactions"
_LOCK_KEY = 0x7E47  # first half of the advisory lock key that makes one organisation's rent imports take turns

COLUMNS = ("transaction_id", "rent_account", "date", "type", "method", "amount")
REQUIRED = ("transaction_id", "rent_account", "date", "type", "amount")
KINDS = {"charge": "charge", "rent": "charge", "rent_charge": "charge", "payment": "payment",
         "housing_benefit": "housing_benefit", "hb": "housing_benefit", "universal_credit": "universal_credit",
         "uc": "universal_credit", "adjustment": "adjustment"}
STAGE_COLUMNS = ("organisation_id", "tenancy_id", "external_id", "posted_on", "kind", "method", "amount_pence",
                 "import_job_id")


class ImportRefused(ValidationFailed):
    """Malformed rows: nothing was imported; ``report.errors`` names them."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.error_count:,} malformed row(s); nothing was imported.", {"file": "malformed"})
        self.report = report


@dataclass
class ImportReport:
    filename: str
    rows_read: int = 0
    inserted: int = 0
    already_imported: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    job_id: int | None = None
    refused: bool = False
    recompute: Any = None

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"line {line}: {message}")

    @property
    def summary(self) -> str:
        if self.refused:
            return (f"{self.rows_read:,} rows read, {self.error_count:,} malformed: nothing imported "
                    "(the whole file is refused when a row is malformed).")
        return (f"{self.rows_read:,} rows read: {self.inserted:,} transactions added, "
                f"{self.already_imported:,} already imported.")


def _key(name: str) -> str:
    return "_".join(str(name or "").strip().lower().replace("-", " ").split())


def parse_amount(text: str) -> int | None:
    """Pounds and pence (``95``, ``95.5``, ``-12.50``, ``£1,045.00``) as signed pence, or None."""
    text = text.strip().replace(",", "").replace("£", "")
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    whole, _sep, frac = text.partition(".")
    if not whole.isdigit() and not (whole == "" and frac.isdigit()):
        return None
    if frac and (not frac.isdigit() or len(frac) > 2):
        return None
    pence = int(whole or "0") * 100 + int((frac + "00")[:2])
    return -pence if negative else pence


def parse_day(text: str) -> date | None:
    text = text.strip()
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        if len(text) == 10 and text[2] == "/" and text[5] == "/":
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
    except ValueError:
        return None
    return None


def _header(path: Path) -> dict[str, int]:
    """The column of each name, from the header row; refuses a file without one of the required columns."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if header is None:
        raise ValidationFailed("The file is empty.", {"file": "empty"})
    where = {_key(h): i for i, h in enumerate(header)}
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        raise ValidationFailed(f"The header row has no {', '.join(missing)} column; the columns are "
                               f"{', '.join(COLUMNS)}.", {"file": "header"})
    return where


@dataclass
class _Batch:
    # The good rows: COPY text (one line a row) on PostgreSQL, tuples on SQLite; ``count`` of them.
    rows: str | list[tuple]
    count: int
    read: int
    errors: list[tuple[int, str]]


def _row_problems(fields: list[str], where: dict[str, int], accounts: dict[str, int]) -> str:
    """What is wrong with a row the fast path refused (every problem, in words)."""
    ext = fields[where["transaction_id"]].strip()
    account = fields[where["rent_account"]].strip().upper()
    kind = KINDS.get(_key(fields[where["type"]]))
    amount = parse_amount(fields[where["amount"]])
    problems = []
    if not ext or len(ext) > 40:
        problems.append("transaction_id is missing" if not ext else "transaction_id is longer than 40 characters")
    if accounts.get(account) is None:
        problems.append(f"no tenancy has rent account '{account[:30]}'" if account else "rent_account is missing")
    if parse_day(fields[where["date"]]) is None:
        problems.append(f"date '{fields[where['date']][:20]}' is not a date (YYYY-MM-DD or DD/MM/YYYY)")
    if kind is None:
        problems.append(f"type '{fields[where['type']][:30]}' is not charge, payment, housing_benefit, "
                        "universal_credit or adjustment")
    if amount is None:
        problems.append(f"amount '{fields[where['amount']][:20]}' is not pounds and pence")
    elif abs(amount) > MAX_AMOUNT_PENCE:
        problems.append("amount is more than £100,000")
    elif kind is not None and kind != "adjustment" and amount < 0:
        problems.append("only an adjustment can be negative")
    return "; ".join(problems) or "malformed"


def _batches(path: Path, where: dict[str, int], accounts: dict[str, int], org_id: int, job_id: int, pg: bool,
             batch_size: int) -> Iterator[_Batch]:
    """The file's rows in batches, good rows turned into rows to write and malformed rows into messages."""
    width = max(where.values()) + 1
    c_ext, c_acc, c_day, c_type, c_amount = (where[c] for c in ("transaction_id", "rent_account", "date", "type",
                                                                "amount"))
    c_method = where.get("method")
    kinds, get_account, day_of, amount_of = KINDS, accounts.get, parse_day, parse_amount
    rows: list = []
    errors: list[tuple[int, str]] = []
    read = 0
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for fields in reader:
            if not fields or fields == [""]:
                continue
            read += 1
            if len(fields) < width:
                errors.append((reader.line_num, f"{len(fields)} columns where the header has {width}"))
                continue
            ext = fields[c_ext].strip()
            tenancy = get_account(fields[c_acc].strip().upper())
            posted = day_of(fields[c_day])
            kind = kinds.get(fields[c_type].strip().lower()) or kinds.get(_key(fields[c_type]))
            amount = amount_of(fields[c_amount])
            if (tenancy is None or posted is None or kind is None or amount is None or not ext or len(ext) > 40
                    or abs(amount) > MAX_AMOUNT_PENCE or (amount < 0 and kind != "adjustment")):
                errors.append((reader.line_num, _row_problems(fields, where, accounts)))
                continue
            method = fields[c_method].strip()[:30] if c_method is not None else ""
            signed = amount if kind == "charge" or kind == "adjustment" else -amount
            if pg:
                rows.append(f"{org_id}\t{tenancy}\t{_copy_text(ext)}\t{posted.isoformat()}\t{kind}\t"
                            f"{_copy_text(method)}\t{signed}\t{job_id}\n")
            else:
                rows.append((org_id, tenancy, ext, posted.isoformat(), kind, method, signed, job_id))
            if len(rows) >= batch_size:
                yield _Batch("".join(rows) if pg else rows, len(rows), read, errors)
                rows, errors, read = [], [], 0
    if rows or errors or read:
        yield _Batch("".join(rows) if pg else rows, len(rows), read, errors)


def _produce(send, args: tuple) -> None:
    """In the reader process: send each batch, then None; or the failure's text."""
    try:
        for batch in _batches(*args):
            send.send(batch)
        send.send(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the importing process
        send.send(f"{type(exc).__name__}: {exc}")
    finally:
        send.close()


def _batches_from_reader_process(args: tuple) -> Iterator[_Batch]:
    """``_batches`` run in a second process, so that reading the file overlaps writing to the database. A thread
    here takes the batches off the pipe into a queue of at most ``QUEUED_BATCHES`` while the database works, so the
    reader keeps going during a long statement and memory stays bounded."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_produce, args=(send, args), name="rent-reader", daemon=True)
    proc.start()
    send.close()
    items: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                item = recv.recv()
            except (EOFError, OSError):
                item = "the file reader stopped unexpectedly"
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if item is None or isinstance(item, str):
                return

    thread = threading.Thread(target=receive, name="rent-reader-pipe", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"reading the file failed: {item}")
            yield item
    finally:
        stop.set()
        if proc.is_alive():
            proc.terminate()
        proc.join(10)
        thread.join(10)
        recv.close()


def _copy_text(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


class _Writer:
    """Writes the good rows: staged then moved in one statement on PostgreSQL, batch by batch on SQLite."""

    def __init__(self, session, org_id: int, bulk: bool = False, move_rows: int = MOVE_ROWS) -> None:
        self.conn = session.connection()
        self.dbapi = self.conn.connection.driver_connection
        self.pg = self.conn.dialect.name == "postgresql"
        self.org_id = org_id
        self.move_rows = move_rows
        self.staged = 0
        self.inserted = 0
        self.keys: list[tuple[str, str]] = []
        if self.pg:
            with self.dbapi.cursor() as cur:
                # One organisation's rent imports take turns.
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_KEY, org_id))
                cur.execute("DROP TABLE IF EXISTS rent_import_stage")
                cur.execute("CREATE TEMPORARY TABLE rent_import_stage (organisation_id integer, tenancy_id integer, "
                            "external_id varchar(40), posted_on date, kind varchar(20), method varchar(30), "
                            "amount_pence integer, import_job_id integer) ON COMMIT DROP")
                if bulk:
                    self.keys = self._drop_foreign_keys(cur)

    def write(self, batch: _Batch) -> None:
        if not batch.count:
            return
        cols = ", ".join(STAGE_COLUMNS)
        if self.pg:
            with self.dbapi.cursor() as cur, cur.copy(f"COPY rent_import_stage ({cols}) FROM STDIN") as copy:
                copy.write(batch.rows)
            self.staged += batch.count
            if self.staged >= self.move_rows:
                self._move()
            return
        cur = self.dbapi.cursor()
        before = self.dbapi.total_changes
        cur.executemany(f"INSERT INTO rent_transaction ({cols}) VALUES ({', '.join('?' * len(STAGE_COLUMNS))}) "
                        "ON CONFLICT (organisation_id, external_id) DO NOTHING", batch.rows)
        self.inserted += self.dbapi.total_changes - before
        cur.close()

    def _move(self) -> None:
        """Move the staged rows into ``rent_transaction``; a transaction id already imported, or repeated in the
        file, is written once."""
        cols = ", ".join(STAGE_COLUMNS)
        with self.dbapi.cursor() as cur:
            cur.execute(f"INSERT INTO rent_transaction ({cols}) SELECT {cols} FROM rent_import_stage "
                        "ON CONFLICT (organisation_id, external_id) DO NOTHING")
            self.inserted += cur.rowcount
            cur.execute("TRUNCATE rent_import_stage")
        self.staged = 0

    def finish(self) -> int:
        """The last move and the foreign keys put back (validated: the transaction cannot commit unless every row
        has its tenancy and organisation); returns how many rows were new."""
        if not self.pg:
            return self.inserted
        if self.staged:
            self._move()
        with self.dbapi.cursor() as cur:
            for name, definition in self.keys:
                cur.execute(f'ALTER TABLE rent_transaction ADD CONSTRAINT "{name}" {definition}')
            cur.execute("DROP TABLE rent_import_stage")
        self.keys = []
        return self.inserted

    def _drop_foreign_keys(self, cur) -> list[tuple[str, str]]:
        """Drop ``rent_transaction``'s foreign keys for the rest of this transaction, returning their names and
        definitions to add back; none when the tables cannot be locked within ``BULK_LOCK_TIMEOUT``."""
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'rent_transaction'::regclass AND contype = 'f' ORDER BY conname")
        keys = cur.fetchall()
        if not keys:
            return []
        cur.execute("SAVEPOINT rent_import_keys")
        cur.execute(f"SET LOCAL lock_timeout = '{BULK_LOCK_TIMEOUT}'")
        try:
            cur.execute("ALTER TABLE rent_transaction " + ", ".join(f'DROP CONSTRAINT "{name}"' for name, _ in keys))
        except Exception as exc:  # noqa: BLE001 - only a lock not granted is expected here
            if getattr(exc, "sqlstate", "") != "55P03":
                raise
            cur.execute("ROLLBACK TO SAVEPOINT rent_import_keys")  # also undoes the SET LOCAL
            return []
        cur.execute("RELEASE SAVEPOINT rent_import_keys")
        cur.execute("SET LOCAL lock_timeout = DEFAULT")
        return keys


def _job(actor: Actor, org_id: int, filename: str) -> int:
    with write_session() as s:
        job = ImportJob(organisation_id=org_id, kind=JOB_KIND, filename=filename[:200], status="running",
                        started_by=actor.username[:80])
        s.add(job)
        s.flush()
        return job.id


def _finish(job_id: int, report: ImportReport, status: str, failure: str = "") -> None:
    from atlas_app.db import utcnow

    with write_session() as s:
        job = s.get(ImportJob, job_id)
        job.status, job.rows_done, job.rows_total = status, report.rows_read, report.rows_read
        job.created = report.inserted if status == "done" else 0
        job.errors = ([failure] if failure else []) + report.errors
        job.finished_at = utcnow()
        s.add(job)


def import_transactions(actor: Actor, path: str | Path, *, filename: str = "", batch_size: int = BATCH_SIZE,
                        recompute_after: bool = True, as_of: date | None = None,
                        progress: Callable[[int], None] | None = None, parallel: bool | None = None,
                        bulk_min_bytes: int = BULK_MIN_BYTES, move_rows: int = MOVE_ROWS) -> ImportReport:
    """Import one file of rent transactions for the actor's organisation (see the module notes), then (unless
    ``recompute_after`` is False) recompute the tenancies' figures and stages as of ``as_of`` (default today). Large
    files are read in a second process when ``parallel`` (by default: files of 4 MB or more on two or more cores)."""
    actor.require(Perm.CASES_MANAGE)
    org_id = actor.require_org()
    path = Path(path)
    if not path.is_file():
        raise ValidationFailed(f"No such file: {path}", {"file": "missing"})
    filename = filename or path.name
    with write_session() as s:
        modules.require_module(s, org_id, CODE)
        accounts = {a: i for a, i in s.exec(select(RentTenancy.rent_account, RentTenancy.id)
                                            .where(RentTenancy.organisation_id == org_id)).all()}
    report = ImportReport(filename=filename)
    report.job_id = _job(actor, org_id, filename)
    started = time.perf_counter()
    try:
        where = _header(path)
        with write_session() as s:
            writer = _Writer(s, org_id, bulk=path.stat().st_size >= bulk_min_bytes, move_rows=move_rows)
            args = (path, where, accounts, org_id, report.job_id, writer.pg, batch_size)
            if parallel is None:
                parallel = (os.cpu_count() or 1) > 1 and path.stat().st_size >= PARALLEL_MIN_BYTES
            for batch in (_batches_from_reader_process(args) if parallel else _batches(*args)):
                report.rows_read += batch.read
                for line, message in batch.errors:
                    report.error(line, message)
                if not report.error_count:
                    writer.write(batch)
                if progress:
                    progress(report.rows_read)
            if report.error_count:
                report.refused = True
                report.inserted = 0
                raise ImportRefused(report)
            if report.rows_read == 0:
                raise ValidationFailed("The file has no rows.", {"file": "empty"})
            report.inserted = writer.finish()
            report.already_imported = report.rows_read - report.inserted
            if writer.pg and report.inserted >= ANALYZE_AFTER:
                # Fresh statistics for the recompute's plan after a large load (the table may have doubled).
                with writer.dbapi.cursor() as cur:
                    cur.execute("ANALYZE rent_transaction")
            audit.record(s, actor, "rent_transactions", report.job_id, "imported",
                         after={"file": filename, "rows": report.rows_read, "inserted": report.inserted,
                                "already_imported": report.already_imported})
    except BaseException as exc:
        report.seconds = time.perf_counter() - started
        message = str(exc) if isinstance(exc, ValidationFailed) else f"Import failed and was undone: {exc}"
        _finish(report.job_id, report, "failed", message[:500])
        raise
    _finish(report.job_id, report, "done")
    if recompute_after:
        from atlas_app.services.modules.rent_arrears import recompute

        report.recompute = recompute.recompute(actor, as_of=as_of)
    report.seconds = time.perf_counter() - started
    return report


def import_text(actor: Actor, text: str, filename: str, **kw) -> ImportReport:
    """The same import from an uploaded file's text (the app's upload)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8", delete=True) as fh:
        fh.write(text)
        fh.flush()
        return import_transactions(actor, fh.name, filename=filename, **kw)


def sample_csv(rows: list[tuple[str, str, str, str, str, str]]) -> str:
    """A file in the import's format (tests and samples)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    return out.getvalue()
