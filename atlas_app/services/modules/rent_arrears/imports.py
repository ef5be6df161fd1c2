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
importing the same file again changes nothing. Bounded memory: rows are read as a stream and written in batches
(``executemany`` on SQLite; ``COPY`` into a temporary staging table and one ``INSERT … ON CONFLICT DO NOTHING`` per
batch on PostgreSQL); only the organisation's rent accounts are held (one entry per tenancy). After the file is in,
``recompute`` works out every tenancy's figures and stages.
"""

from __future__ import annotations

import csv
import io
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


def _rows(path: Path, report: ImportReport) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValidationFailed("The file is empty.", {"file": "empty"})
        where = {_key(h): i for i, h in enumerate(header)}
        missing = [c for c in REQUIRED if c not in where]
        if missing:
            raise ValidationFailed(f"The header row has no {', '.join(missing)} column; the columns are "
                                   f"{', '.join(COLUMNS)}.", {"file": "header"})
        for fields in reader:
            if not fields or fields == [""]:
                continue
            yield reader.line_num, fields, where


def _parse(path: Path, accounts: dict[str, int], report: ImportReport, org_id: int, job_id: int,
           pg: bool, batch_size: int) -> Iterator[list[Any]]:
    """Batches of good rows (COPY lines on PostgreSQL, tuples on SQLite); malformed rows go into the report."""
    batch: list[Any] = []
    width = None
    for line, fields, where in _rows(path, report):
        if width is None:
            width = max(where.values()) + 1
        report.rows_read += 1
        if len(fields) < width:
            report.error(line, f"{len(fields)} columns where the header has {width}")
            continue
        ext = fields[where["transaction_id"]].strip()
        account = fields[where["rent_account"]].strip().upper()
        posted = parse_day(fields[where["date"]])
        kind = KINDS.get(_key(fields[where["type"]]))
        method = fields[where["method"]].strip()[:30] if "method" in where else ""
        amount = parse_amount(fields[where["amount"]])
        problems = []
        if not ext or len(ext) > 40:
            problems.append("transaction_id is missing" if not ext else "transaction_id is longer than 40 characters")
        tenancy = accounts.get(account)
        if tenancy is None:
            problems.append(f"no tenancy has rent account '{account[:30]}'" if account else "rent_account is missing")
        if posted is None:
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
        if problems:
            report.error(line, "; ".join(problems))
            continue
        signed = amount if kind in ("charge", "adjustment") else -amount
        if pg:
            batch.append(f"{org_id}\t{tenancy}\t{_copy_text(ext)}\t{posted.isoformat()}\t{kind}\t"
                         f"{_copy_text(method)}\t{signed}\t{job_id}\n")
        else:
            batch.append((org_id, tenancy, ext, posted.isoformat(), kind, method, signed, job_id))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


class _Writer:
    def __init__(self, session, org_id: int) -> None:
        self.conn = session.connection()
        self.dbapi = self.conn.connection.driver_connection
        self.pg = self.conn.dialect.name == "postgresql"
        self.staged = False
        if self.pg:
            with self.dbapi.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_KEY, org_id))

    def write(self, batch: list[Any]) -> int:
        """Write one batch; returns how many rows were new."""
        cols = ", ".join(STAGE_COLUMNS)
        if self.pg:
            with self.dbapi.cursor() as cur:
                if not self.staged:
                    cur.execute(f"CREATE TEMP TABLE rent_txn_stage ON COMMIT DROP AS SELECT {cols} "
                                "FROM rent_transaction WITH NO DATA")
                    self.staged = True
                with cur.copy(f"COPY rent_txn_stage ({cols}) FROM STDIN") as copy:
                    copy.write("".join(batch))
                cur.execute(f"INSERT INTO rent_transaction ({cols}) SELECT {cols} FROM rent_txn_stage "
                            "ON CONFLICT (organisation_id, external_id) DO NOTHING")
                inserted = cur.rowcount
                cur.execute("TRUNCATE rent_txn_stage")
                return inserted
        cur = self.dbapi.cursor()
        before = self.dbapi.total_changes
        cur.executemany(f"INSERT INTO rent_transaction ({cols}) VALUES ({', '.join('?' * len(STAGE_COLUMNS))}) "
                        "ON CONFLICT (organisation_id, external_id) DO NOTHING", batch)
        inserted = self.dbapi.total_changes - before
        cur.close()
        return inserted


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
                        progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import one file of rent transactions for the actor's organisation (see the module notes), then (unless
    ``recompute_after`` is False) recompute the tenancies' figures and stages as of ``as_of`` (default today)."""
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
        with write_session() as s:
            writer = _Writer(s, org_id)
            for batch in _parse(path, accounts, report, org_id, report.job_id, writer.pg, batch_size):
                if not report.error_count:
                    report.inserted += writer.write(batch)
                if progress:
                    progress(report.rows_read)
            if report.error_count:
                report.refused = True
                report.inserted = 0
                raise ImportRefused(report)
            if report.rows_read == 0:
                raise ValidationFailed("The file has no rows.", {"file": "empty"})
            report.already_imported = report.rows_read - report.inserted
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
