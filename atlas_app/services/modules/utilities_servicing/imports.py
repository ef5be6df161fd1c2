"""The stock-list import: installations by UPRN with the dates of their last certificates, from a CSV file.

Columns (a header row; names in any order and case): ``uprn``, ``type`` (an installation type's code or name),
``location``, ``make``, ``model``, ``ownership`` (landlord or tenant; landlord if empty) and ``last_certificate``
(YYYY-MM-DD or DD/MM/YYYY; empty when none is on record). Every row is checked first; if any is bad nothing is
imported and each bad row is named with its reason. A row for an installation already on record (same home, type
and location) updates it instead of adding another, so importing the same file twice changes nothing the second
time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from time import perf_counter
from typing import Any

from sqlalchemy import insert
from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models.casework import Place
from atlas_app.models.utilities import Installation, InstallationType
from atlas_app.services.modules.utilities_servicing import rules
from atlas_app.services.modules.utilities_servicing.installations import (
    ensure_types,
    manager,
    refresh_homes,
    today,
)
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import ValidationFailed

COLUMNS = ("uprn", "type", "location", "make", "model", "ownership", "last_certificate")
REQUIRED = ("uprn", "type")
MAX_ROWS = 500_000
MAX_ERRORS_SHOWN = 200


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    homes: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    @property
    def summary(self) -> str:
        if self.error_count:
            return f"{self.error_count:,} bad row{'' if self.error_count == 1 else 's'} in {self.rows:,}"
        return (f"{self.rows:,} rows: {self.added:,} installations added, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged, at {self.homes:,} homes")


class ImportRefused(ValidationFailed):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"Nothing imported: {report.summary}.", {"file": "bad rows"})
        self.report = report


def _date(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"last_certificate '{text[:20]}' is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _rows(data: bytes | str) -> tuple[list[str], Any]:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValidationFailed("The file is empty.", {"file": "empty"}) from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationFailed(f"The header has no {', '.join(missing)} column (columns: {', '.join(COLUMNS)}).",
                               {"file": "header"})
    return header, reader


def import_installations(actor: Actor, data: bytes | str) -> ImportReport:
    """Import a stock list, all or nothing (``ImportRefused`` names every bad row)."""
    started = perf_counter()
    header, reader = _rows(data)
    index = {name: header.index(name) for name in COLUMNS if name in header}
    report = ImportReport()
    now = today()
    with write_session() as s:
        org_id = manager(s, actor)
        ensure_types(s, org_id)
        types: dict[str, InstallationType] = {}
        for t in s.exec(select(InstallationType).where(InstallationType.organisation_id == org_id)).all():
            types[t.code.lower()] = t
            types[t.name.lower()] = t
        parsed: list[tuple[int, int, int, dict[str, Any]]] = []
        uprns: set[int] = set()
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise ValidationFailed(f"A stock list has at most {MAX_ROWS:,} rows.", {"file": "too many"})
            get = lambda name, row=row: row[index[name]].strip() if name in index and index[name] < len(row) else ""  # noqa: E731
            problems = []
            uprn_text = get("uprn")
            uprn = int(uprn_text) if uprn_text.isdigit() and 0 < len(uprn_text) <= 12 else None
            if uprn is None:
                problems.append(f"uprn '{uprn_text[:20]}' is not a UPRN (a number of up to 12 digits)")
            kind = types.get(get("type").lower())
            if kind is None:
                problems.append(f"type '{get('type')[:40]}' is not an installation type")
            ownership = (get("ownership") or "landlord").lower()
            if ownership not in ("landlord", "tenant"):
                problems.append(f"ownership '{ownership[:20]}' is not landlord or tenant")
            try:
                last = _date(get("last_certificate"))
                if last and last > now:
                    problems.append(f"last_certificate {last.isoformat()} is in the future")
                elif last and last.year < 1990:
                    problems.append(f"last_certificate {last.isoformat()} is before 1990")
            except ValueError as exc:
                last = None
                problems.append(str(exc))
            for name in ("location", "make", "model"):
                if len(get(name)) > 100:
                    problems.append(f"{name} is longer than 100 characters")
            if problems:
                report.error_count += 1
                if len(report.errors) < MAX_ERRORS_SHOWN:
                    report.errors.append(f"row {line}: {'; '.join(problems)}")
                continue
            uprns.add(uprn)
            parsed.append((line, uprn, kind.id, {"location": get("location"), "make": get("make"),
                                                 "model": get("model"), "ownership": ownership,
                                                 "last_check_on": last}))
        places: dict[int, int] = {}
        ordered = sorted(uprns)
        for i in range(0, len(ordered), 1000):
            chunk = ordered[i:i + 1000]
            places.update(s.exec(select(Place.uprn, Place.id).where(Place.organisation_id == org_id,
                                                                    Place.uprn.in_(chunk))).all())
        for line, uprn, _kind, _values in parsed:
            if uprn not in places:
                report.error_count += 1
                if len(report.errors) < MAX_ERRORS_SHOWN:
                    report.errors.append(f"row {line}: uprn {uprn} is not in the organisation's gazetteer")
        if report.error_count:
            report.errors.sort(key=lambda e: int(e.split(":")[0].split()[1]))
            report.seconds = perf_counter() - started
            raise ImportRefused(report)
        if not parsed:
            raise ValidationFailed("The file has no rows to import.", {"file": "empty"})
        intervals = {t.id: t.interval_months for t in types.values()}
        existing: dict[tuple[int, int, str], Installation] = {}
        place_ids = sorted(set(places.values()))
        for i in range(0, len(place_ids), 1000):
            for inst in s.exec(select(Installation).where(Installation.organisation_id == org_id,
                                                          Installation.place_id.in_(place_ids[i:i + 1000]))).all():
                existing[(inst.place_id, inst.installation_type_id, inst.location.lower())] = inst
        fresh: list[dict[str, Any]] = []
        for _line, uprn, kind_id, values in parsed:
            pid = places[uprn]
            last = values["last_check_on"]
            due = rules.add_months(last, intervals[kind_id]) if last else None
            key = (pid, kind_id, values["location"].lower())
            inst = existing.get(key)
            if inst is None:
                fresh.append({"organisation_id": org_id, "place_id": pid, "installation_type_id": kind_id,
                              **values, "next_due_on": due, "is_active": True, "created_at": utcnow()})
                existing[key] = Installation(place_id=pid, installation_type_id=kind_id, **values)
                continue
            changed = False
            for name in ("make", "model", "ownership"):
                if getattr(inst, name) != values[name]:
                    setattr(inst, name, values[name])
                    changed = True
            if last and (inst.last_check_on is None or last > inst.last_check_on):
                inst.last_check_on, inst.next_due_on = last, due
                changed = True
            if changed:
                s.add(inst)
                report.updated += 1
            else:
                report.unchanged += 1
        for i in range(0, len(fresh), 5000):
            s.execute(insert(Installation), fresh[i:i + 5000])
        report.added = len(fresh)
        s.flush()
        refresh_homes(s, org_id, place_ids)
        report.homes = len(place_ids)
        report.seconds = perf_counter() - started
        audit.record(s, actor, "installation_import", None, "imported",
                     after={"rows": report.rows, "added": report.added, "updated": report.updated,
                            "unchanged": report.unchanged, "homes": report.homes})
    return report
