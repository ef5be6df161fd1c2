"""Gazetteer import: places keyed by UPRN from AddressBase Premium, AddressBase Plus, OS Open UPRN or an LLPG's
DTF 7.3 export.

* Columns are found by header name when the file has a header row, else by the published record layout. The
  record-type formats (Premium, DTF 7.3) may carry a header row per record type, as OS's splitter writes them
  (``ID21_BLPU_Records.csv`` ...): the header is recognised as its record type's and gives the column order.
* The record-type formats can be imported as one file, or as a folder or ``.zip`` of the per-record-type files
  together. A file whose records refer to records it does not hold (BLPUs without their addresses, addresses
  without their street descriptors) is refused, saying which records are missing.
* Change markers are honoured: I and U insert or update, D marks the place deleted (it stays, so people's address
  history and cases keep pointing at it).
* Reruns are idempotent: the same file gives the same places.
* All or nothing: one malformed row refuses the whole file (``ImportRefused``, every malformed row named with its
  line); with ``skip_bad_rows`` the other rows are imported and the malformed ones reported. A line that ends inside
  a quoted field is malformed on its own line; the next line is read as a row of its own.
* The whole import is one transaction: a refusal or a failure part-way leaves the previous gazetteer exactly as it
  was. Once a malformed row is found (and rows are not being skipped) nothing more is written; the rest of the file
  is still read so that every malformed row is named.
* Rows are applied in batches: ``executemany`` on SQLite (with a larger page cache for the import), ``COPY`` on
  PostgreSQL: places new to the organisation straight into the table, the others into a temporary staging table and
  one set-based upsert per batch. AddressBase Plus and Open UPRN stream in bounded memory; the record-type formats
  (Premium, DTF 7.3) join several records per UPRN, so they hold one entry per UPRN of the file while reading.
* AddressBase Plus, the bulk format, has a fast path (``_plus_batches``) that turns each row straight into the place
  row (or COPY text) with the same values and search keys ``address_values`` gives, normalising repeated strings
  once; large files are read in a second process, so parsing overlaps the database work.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import multiprocessing
import os
import operator
import string
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import ImportJob
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.casework.search import normalise, postcode_key
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm

FORMATS: dict[str, str] = {
    "abp-plus": "AddressBase Plus (CSV, one row per address)",
    "abp-premium": "AddressBase Premium (CSV of record types 10–99)",
    "open-uprn": "OS Open UPRN (CSV: UPRN and coordinates)",
    "dtf73": "LLPG export in NLPG DTF 7.3 (record types 11–99)",
}
BATCH_SIZE = 20000
SQLITE_CACHE_KIB = 64 * 1024
_LOCK_KEY = 0x6A7E  # the first half of PostgreSQL advisory lock keys that serialise one organisation's imports
MAX_REPORTED_ERRORS = 200

PLUS_COLUMNS = (
    "UPRN UDPRN CHANGE_TYPE STATE STATE_DATE CLASS PARENT_UPRN X_COORDINATE Y_COORDINATE LATITUDE LONGITUDE RPC "
    "LOCAL_CUSTODIAN_CODE COUNTRY LA_START_DATE LAST_UPDATE_DATE ENTRY_DATE RM_ORGANISATION_NAME LA_ORGANISATION "
    "DEPARTMENT_NAME LEGAL_NAME SUB_BUILDING_NAME BUILDING_NAME BUILDING_NUMBER SAO_START_NUMBER SAO_START_SUFFIX "
    "SAO_END_NUMBER SAO_END_SUFFIX SAO_TEXT ALT_LANGUAGE_SAO_TEXT PAO_START_NUMBER PAO_START_SUFFIX PAO_END_NUMBER "
    "PAO_END_SUFFIX PAO_TEXT ALT_LANGUAGE_PAO_TEXT USRN USRN_MATCH_INDICATOR AREA_NAME LEVEL OFFICIAL_FLAG "
    "OS_ADDRESS_TOID OS_ADDRESS_TOID_VERSION OS_ROADLINK_TOID OS_ROADLINK_TOID_VERSION OS_TOPO_TOID "
    "OS_TOPO_TOID_VERSION VOA_CT_RECORD VOA_NDR_RECORD STREET_DESCRIPTION ALT_LANGUAGE_STREET_DESCRIPTION "
    "DEPENDENT_THOROUGHFARE THOROUGHFARE WELSH_DEPENDENT_THOROUGHFARE WELSH_THOROUGHFARE DOUBLE_DEPENDENT_LOCALITY "
    "DEPENDENT_LOCALITY LOCALITY WELSH_DEPENDENT_LOCALITY WELSH_DOUBLE_DEPENDENT_LOCALITY TOWN_NAME "
    "ADMINISTRATIVE_AREA POST_TOWN WELSH_POST_TOWN POSTCODE POSTCODE_LOCATOR POSTCODE_TYPE DELIVERY_POINT_SUFFIX "
    "ADDRESSBASE_POSTAL PO_BOX_NUMBER WARD_CODE PARISH_CODE RM_START_DATE MULTI_OCC_COUNT VOA_NDR_P_DESC_CODE "
    "VOA_NDR_SCAT_CODE ALT_LANGUAGE"
).split()
OPEN_UPRN_COLUMNS = ("UPRN", "X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE")

_COMMON = ["RECORD_IDENTIFIER", "CHANGE_TYPE", "PRO_ORDER"]
PREMIUM_RECORDS: dict[str, list[str]] = {
    "10": "RECORD_IDENTIFIER CUSTODIAN_NAME LOCAL_CUSTODIAN_NAME PROCESS_DATE VOLUME_NUMBER ENTRY_DATE TIME_STAMP "
          "VERSION FILE_TYPE".split(),
    "11": _COMMON + "USRN RECORD_TYPE SWA_ORG_REF_NAMING STATE STATE_DATE STREET_SURFACE STREET_CLASSIFICATION "
                    "VERSION STREET_START_DATE STREET_END_DATE LAST_UPDATE_DATE RECORD_ENTRY_DATE STREET_START_X "
                    "STREET_START_Y STREET_START_LAT STREET_START_LONG STREET_END_X STREET_END_Y STREET_END_LAT "
                    "STREET_END_LONG STREET_TOLERANCE".split(),
    "15": _COMMON + "USRN STREET_DESCRIPTION LOCALITY TOWN_NAME ADMINISTRATIVE_AREA LANGUAGE START_DATE END_DATE "
                    "LAST_UPDATE_DATE ENTRY_DATE".split(),
    "21": _COMMON + "UPRN LOGICAL_STATUS BLPU_STATE BLPU_STATE_DATE PARENT_UPRN X_COORDINATE Y_COORDINATE LATITUDE "
                    "LONGITUDE RPC LOCAL_CUSTODIAN_CODE COUNTRY START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE "
                    "ADDRESSBASE_POSTAL POSTCODE_LOCATOR MULTI_OCC_COUNT".split(),
    "23": _COMMON + "UPRN XREF_KEY CROSS_REFERENCE VERSION SOURCE START_DATE END_DATE LAST_UPDATE_DATE "
                    "ENTRY_DATE".split(),
    "24": _COMMON + "UPRN LPI_KEY LANGUAGE LOGICAL_STATUS START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE "
                    "SAO_START_NUMBER SAO_START_SUFFIX SAO_END_NUMBER SAO_END_SUFFIX SAO_TEXT PAO_START_NUMBER "
                    "PAO_START_SUFFIX PAO_END_NUMBER PAO_END_SUFFIX PAO_TEXT USRN USRN_MATCH_INDICATOR AREA_NAME "
                    "LEVEL OFFICIAL_FLAG".split(),
    "28": _COMMON + "UPRN UDPRN ORGANISATION_NAME DEPARTMENT_NAME SUB_BUILDING_NAME BUILDING_NAME BUILDING_NUMBER "
                    "DEPENDENT_THOROUGHFARE THOROUGHFARE DOUBLE_DEPENDENT_LOCALITY DEPENDENT_LOCALITY POST_TOWN "
                    "POSTCODE POSTCODE_TYPE DELIVERY_POINT_SUFFIX WELSH_DEPENDENT_THOROUGHFARE WELSH_THOROUGHFARE "
                    "WELSH_DOUBLE_DEPENDENT_LOCALITY WELSH_DEPENDENT_LOCALITY WELSH_POST_TOWN PO_BOX_NUMBER "
                    "PROCESS_DATE START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE".split(),
    "29": "RECORD_IDENTIFIER GAZ_NAME GAZ_SCOPE TER_OF_USE LINKED_DATA GAZ_OWNER NGAZ_FREQ CUSTODIAN_NAME "
          "CUSTODIAN_UPRN LOCAL_CUSTODIAN_CODE CO_ORD_SYSTEM CO_ORD_UNIT META_DATE CLASS_SCHEME GAZ_DATE LANGUAGE "
          "CHARACTER_SET".split(),
    "30": _COMMON + "UPRN SUCC_KEY START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE SUCCESSOR".split(),
    "31": _COMMON + "UPRN ORG_KEY ORGANISATION LEGAL_NAME START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE".split(),
    "32": _COMMON + "UPRN CLASS_KEY CLASSIFICATION_CODE CLASS_SCHEME SCHEME_VERSION START_DATE END_DATE "
                    "LAST_UPDATE_DATE ENTRY_DATE".split(),
    "99": "RECORD_IDENTIFIER NEXT_VOLUME_NUMBER RECORD_COUNT ENTRY_DATE TIME_STAMP".split(),
}
DTF73_RECORDS: dict[str, list[str]] = {
    "10": "RECORD_IDENTIFIER ORIGINATING_AUTHORITY CUSTODIAN_CODE LOCAL_CUSTODIAN_NAME PROCESS_DATE VOLUME_NUMBER "
          "ENTRY_DATE TIME_STAMP VERSION FILE_TYPE".split(),
    "11": _COMMON + "USRN RECORD_TYPE SWA_ORG_REF_NAMING STATE STATE_DATE STREET_SURFACE STREET_CLASSIFICATION "
                    "VERSION RECORD_ENTRY_DATE LAST_UPDATE_DATE STREET_START_DATE STREET_END_DATE START_X START_Y "
                    "END_X END_Y STREET_TOLERANCE".split(),
    "12": _COMMON + "USRN XREF_TYPE USRN_VERSION_NUMBER XREF_ID XREF_VERSION_NUMBER ENTRY_DATE".split(),
    "15": _COMMON + "USRN STREET_DESCRIPTION LOCALITY TOWN_NAME ADMINISTRATIVE_AREA LANGUAGE".split(),
    "21": _COMMON + "UPRN LOGICAL_STATUS BLPU_STATE BLPU_STATE_DATE BLPU_CLASS PARENT_UPRN X_COORDINATE "
                    "Y_COORDINATE RPC LOCAL_CUSTODIAN_CODE START_DATE END_DATE LAST_UPDATE_DATE ENTRY_DATE "
                    "ORGANISATION WARD_CODE PARISH_CODE CUSTODIAN_ONE CUSTODIAN_TWO CAN_KEY".split(),
    "22": _COMMON + "UPRN PROV_KEY PROVENANCE_CODE ANNOTATION ENTRY_DATE START_DATE END_DATE "
                    "LAST_UPDATE_DATE".split(),
    "23": _COMMON + "UPRN XREF_KEY START_DATE LAST_UPDATE_DATE ENTRY_DATE END_DATE CROSS_REFERENCE SOURCE".split(),
    "24": _COMMON + "UPRN LPI_KEY LANGUAGE LOGICAL_STATUS START_DATE END_DATE ENTRY_DATE LAST_UPDATE_DATE "
                    "SAO_START_NUMBER SAO_START_SUFFIX SAO_END_NUMBER SAO_END_SUFFIX SAO_TEXT PAO_START_NUMBER "
                    "PAO_START_SUFFIX PAO_END_NUMBER PAO_END_SUFFIX PAO_TEXT USRN LEVEL POSTALLY_ADDRESSABLE "
                    "POSTCODE POST_TOWN OFFICIAL_FLAG CUSTODIAN_ONE CUSTODIAN_TWO CAN_KEY".split(),
    "29": "RECORD_IDENTIFIER GAZ_NAME GAZ_SCOPE TER_OF_USE LINKED_DATA GAZ_OWNER NGAZ_FREQ CUSTODIAN_NAME "
          "CUSTODIAN_UPRN LOCAL_CUSTODIAN_CODE CO_ORD_SYSTEM CO_ORD_UNIT META_DATE CLASS_SCHEME GAZ_DATE LANGUAGE "
          "CHARACTER_SET".split(),
    "99": "RECORD_IDENTIFIER NEXT_VOLUME_NUMBER RECORD_COUNT ENTRY_DATE TIME_STAMP".split(),
}
# Record types whose layout is not needed; their rows are counted but not checked field by field.
_SKIPPED_TYPES = {"25", "26", "27", "98"}

LOGICAL_STATUS = {"1": "approved", "3": "alternative", "5": "candidate", "6": "provisional", "7": "rejected",
                  "8": "historical", "9": "rejected"}

# Place columns the importer writes, in this order.
PLACE_COLUMNS = ("organisation_id", "uprn", "parent_uprn", "usrn", "address_line1", "address_line2",
                 "address_line3", "town", "postcode", "postcode_key", "search_text", "classification", "status",
                 "x_coordinate", "y_coordinate", "latitude", "longitude", "source", "updated_at")
_DEFAULTS: dict[str, Any] = {"parent_uprn": None, "usrn": None, "address_line1": "", "address_line2": "",
                             "address_line3": "", "town": "", "postcode": "", "postcode_key": "", "search_text": "",
                             "classification": "", "status": "approved", "x_coordinate": None,
                             "y_coordinate": None, "latitude": None, "longitude": None}
ADDRESS_FIELDS = ("address_line1", "address_line2", "address_line3", "town", "postcode", "postcode_key",
                  "search_text", "usrn")
COORD_FIELDS = ("x_coordinate", "y_coordinate", "latitude", "longitude")
# The columns a whole place row provides (all but the key and the bookkeeping).
_WHOLE_ROW = tuple(sorted(c for c in PLACE_COLUMNS if c not in ("organisation_id", "uprn", "source", "updated_at")))
# Files at least this large are read in a second process while the first writes (when there are two cores).
PARALLEL_MIN_BYTES = 4 << 20


class RowError(ValueError):
    """A malformed row: the message says what is wrong with it."""


class ImportRefused(ValidationFailed):
    """The file had malformed rows and rows were not being skipped: nothing was imported. ``report`` names every
    malformed row (``report.errors``)."""

    def __init__(self, report: "ImportReport") -> None:
        super().__init__(f"{report.error_count:,} malformed row(s); nothing was imported.", {"file": "malformed"})
        self.report = report


@dataclass
class ImportReport:
    format: str
    filename: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    job_id: int | None = None

    refused: bool = False

    def error(self, line: int | str, message: str) -> None:
        """Note a malformed row; ``line`` is its line number, or a place such as "ID21_BLPU_Records.csv line 4"."""
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"line {line}: {message}" if isinstance(line, int) else f"{line}: {message}")

    @property
    def summary(self) -> str:
        if self.refused:
            return (f"{self.rows_read:,} rows read, {self.error_count:,} malformed: nothing imported "
                    "(the whole file is refused when a row is malformed).")
        text = (f"{self.rows_read:,} rows read: {self.inserted:,} places added, {self.updated:,} updated, "
                f"{self.deleted:,} marked deleted")
        if self.error_count:
            text += f"; {self.error_count:,} malformed rows skipped"
        return text + "."


# A change for one UPRN: ("upsert", values with the columns the file provides) or ("delete", None).
Change = tuple[int, str, dict[str, Any] | None]


# --- parsing helpers -------------------------------------------------------------------------------------------


def _uprn(value: str, name: str = "UPRN", required: bool = True) -> int | None:
    if value and value.isdigit() and len(value) <= 12 and value != "0" * len(value):
        return int(value)
    text = (value or "").strip()
    if not text:
        if required:
            raise RowError(f"{name} is missing")
        return None
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit() or len(text) > 12 or int(text) == 0:
        raise RowError(f"{name} '{value[:20]}' is not a number of up to 12 digits")
    return int(text)


def _float(value: str, name: str) -> float | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RowError(f"{name} '{value[:20]}' is not a number") from None


def _change(value: str) -> str:
    text = (value or "I").strip().upper() or "I"
    if text not in ("I", "U", "D"):
        raise RowError(f"CHANGE_TYPE '{value[:5]}' is not I, U or D")
    return text


@functools.lru_cache(maxsize=65536)
def _cap(text: str) -> str:
    text = " ".join((text or "").split())
    return string.capwords(text.lower()) if text.isupper() or text.islower() else text


def _number(start: str, suffix: str, end: str, end_suffix: str) -> str:
    out = f"{(start or '').strip()}{(suffix or '').strip()}"
    if (end or "").strip():
        out += f"-{end.strip()}{(end_suffix or '').strip()}"
    return out


def address_values(*, sao_text: str = "", sao_number: str = "", pao_text: str = "", pao_number: str = "",
                   street: str = "", locality: str = "", town: str = "", postcode: str = "",
                   usrn: int | None = None) -> dict[str, Any]:
    sao = " ".join(p for p in (_cap(sao_text), sao_number) if p)
    building = ", ".join(p for p in (sao, _cap(pao_text)) if p)
    street_line = " ".join(p for p in (pao_number, _cap(street)) if p)
    lines = [line for line in (building, street_line, _cap(locality)) if line]
    if len(lines) > 3:
        lines = lines[:2] + [", ".join(lines[2:])]
    lines += [""] * (3 - len(lines))
    pc = " ".join((postcode or "").upper().split())
    town = _cap(town)
    return {
        "address_line1": lines[0][:200], "address_line2": lines[1][:200], "address_line3": lines[2][:200],
        "town": town[:100], "postcode": pc[:10], "postcode_key": postcode_key(pc)[:10],
        "search_text": normalise(" ".join(lines + [town, pc]))[:700], "usrn": usrn,
    }


# A line that ends inside a quoted field reaches the CSV reader as this one-field row, so that the reader does not
# run on into the next line (losing it, and naming the wrong line).
_UNCLOSED = "\x01"
UNCLOSED_MESSAGE = "the line ends inside a quoted field (a closing quote is missing)"


def _guard_quotes(lines: Iterator[str]) -> Iterator[str]:
    """The lines of a gazetteer file, each line that has an odd number of double quotes replaced by the
    ``_UNCLOSED`` marker row. Gazetteer fields never hold a line break, so such a line is truncated."""
    for raw in lines:
        if '"' in raw and raw.count('"') & 1:
            yield _UNCLOSED + "\n"
        else:
            yield raw


@dataclass(frozen=True)
class _Source:
    """One CSV file of an import: a file on disk, or a member of a zip archive."""

    name: str
    path: Path
    member: str = ""

    @contextlib.contextmanager
    def open_binary(self) -> Iterator[Any]:
        if not self.member:
            with open(self.path, "rb") as f:
                yield f
            return
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as f:
            yield f

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        """The file as text (a UTF-8 byte-order mark skipped, line ends kept for the CSV reader)."""
        with self.open_binary() as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")

    def count_lines(self) -> int:
        count = 0
        with self.open_binary() as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
        return count


def _zip_sources(path: Path) -> list[_Source]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist()
                           if n.lower().endswith(".csv") and not n.startswith("__MACOSX/"))
    except zipfile.BadZipFile:
        raise ValidationFailed(f"{path.name} is not a readable zip file.", {"file": "zip"}) from None
    return [_Source(f"{path.name}:{n}", path, n) for n in names]


def _sources(path: Path) -> list[_Source]:
    """The CSV files to read: the file itself, the CSV files of a zip, or the CSV and zip files of a folder."""
    if path.is_dir():
        found: list[_Source] = []
        for child in sorted(path.iterdir()):
            if child.is_file() and child.suffix.lower() == ".csv":
                found.append(_Source(child.name, child))
            elif child.is_file() and child.suffix.lower() == ".zip":
                found += _zip_sources(child)
        if not found:
            raise ValidationFailed(f"The folder {path.name} has no CSV or zip files.", {"file": "empty"})
        return found
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        found = _zip_sources(path)
        if not found:
            raise ValidationFailed(f"The zip file {path.name} holds no CSV files.", {"file": "empty"})
        return found
    return [_Source(path.name, path)]


def _count_lines(path: Path) -> int:
    return _Source(path.name, path).count_lines()


def _source_rows(source: _Source) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank CSV row of one file; a UTF-8 byte-order mark is ignored; a line
    that ends inside a quoted field is the row ``[_UNCLOSED]``."""
    with source.open() as f:
        reader = csv.reader(_guard_quotes(f))
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            yield reader.line_num, fields


def _reader(path: Path) -> Iterator[tuple[int, list[str]]]:
    return _source_rows(_Source(path.name, path))


# --- formats ---------------------------------------------------------------------------------------------------


_PLUS_NEEDED = (
    "UPRN", "CHANGE_TYPE", "PARENT_UPRN", "X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE", "CLASS",
    "SAO_TEXT", "SUB_BUILDING_NAME", "SAO_START_NUMBER", "SAO_START_SUFFIX", "SAO_END_NUMBER", "SAO_END_SUFFIX",
    "PAO_TEXT", "BUILDING_NAME", "PAO_START_NUMBER", "PAO_START_SUFFIX", "PAO_END_NUMBER", "PAO_END_SUFFIX",
    "BUILDING_NUMBER", "STREET_DESCRIPTION", "THOROUGHFARE", "LOCALITY", "DEPENDENT_LOCALITY", "TOWN_NAME",
    "POST_TOWN", "POSTCODE_LOCATOR", "POSTCODE", "USRN",
)


@functools.lru_cache(maxsize=65536)
def _cap_norm(text: str) -> tuple[str, str]:
    """A street, locality or town as stored (see ``_cap``) and its search form."""
    capped = _cap(text)
    return capped, normalise(capped)


@functools.lru_cache(maxsize=65536)
def _norm(text: str) -> str:
    return normalise(text)


@functools.lru_cache(maxsize=65536)
def _building(sao_text: str, sao_number: str, pao_text: str) -> tuple[str, str]:
    """The building line (as ``address_values`` builds it) and its search form."""
    sao = " ".join(p for p in (_cap(sao_text), sao_number) if p)
    line = ", ".join(p for p in (sao, _cap(pao_text)) if p)
    return line, normalise(line)


@functools.lru_cache(maxsize=65536)
def _postcode(text: str) -> tuple[str, str, str]:
    """Postcode as stored, its key, and its search form."""
    pc = " ".join(text.upper().split())
    return pc[:10], postcode_key(pc)[:10], normalise(pc)


def _width_error(fields: list[str], expected: str) -> str:
    if fields == [_UNCLOSED]:
        return UNCLOSED_MESSAGE
    return f"{expected}, found {len(fields)}"


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _plus_layout(path: Path) -> tuple[list[str], bool]:
    """The columns of an AddressBase Plus file and whether its first row is a header; unusable headers are
    refused."""
    for _line, fields in _reader(path):
        header = [f.strip().upper() for f in fields]
        if header[0] != "UPRN":
            break
        missing = {"UPRN", "X_COORDINATE", "Y_COORDINATE"} - set(header)
        if missing:
            raise ValidationFailed(f"The header has no {', '.join(sorted(missing))} column.", {"file": "header"})
        return header, True
    return list(PLUS_COLUMNS), False


@dataclass
class _Batch:
    """Parsed rows ready to write: UPRN -> the place row (a tuple in ``PLACE_COLUMNS`` order, or a line of
    PostgreSQL COPY text), or None for a delete marker; with the rows read and the malformed rows found."""

    rows: dict[int, Any]
    rows_read: int
    errors: list[tuple[int, str]]


def _plus_batches(path: Path, columns: list[str], has_header: bool, org_id: int, source: str, now: Any,
                  batch_size: int, copy_text: bool) -> Iterator[_Batch]:
    """AddressBase Plus rows turned straight into place rows, ``batch_size`` UPRNs at a time.

    The values are those ``address_values`` gives (the unit tests compare the two); the common case is checked with
    string methods, and repeated strings (streets, towns, postcodes, building names) are normalised once."""
    index = {name: i for i, name in enumerate(columns)}
    width = len(columns)
    # A missing column reads the empty string appended to every row.
    pick = operator.itemgetter(*[index.get(name, width) for name in _PLUS_NEEDED])
    nul = "\\N" if copy_text else None
    head = f"{org_id}\t"
    tail = f"\t{source}\t{now.isoformat() if copy_text else now}\n"
    rows: dict[int, Any] = {}
    errors: list[tuple[int, str]] = []
    read = 0
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(_guard_quotes(f))
        # Line numbers are looked up only for malformed rows; blank rows are skipped as _reader skips them.
        for fields in reader:
            if len(fields) != width:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if has_header:
                    has_header = False
                    continue
                read += 1
                errors.append((reader.line_num, _width_error(fields, f"expected {width} fields")))
                continue
            if has_header:
                has_header = False
                continue
            read += 1
            fields.append("")
            (uprn_s, change, parent, x, y, lat, lon, cls, sao_text, sub_building, sao_s, sao_ss, sao_e, sao_es,
             pao_text, building, pao_s, pao_ss, pao_e, pao_es, building_no, street, thoroughfare, locality,
             dep_locality, town, post_town, pc_locator, pc, usrn_s) = pick(fields)
            try:
                if uprn_s.isdigit() and len(uprn_s) <= 12 and uprn_s.strip("0"):
                    uprn = int(uprn_s)
                else:
                    uprn = _uprn(uprn_s)
                if change not in ("I", "U") and _change(change) == "D":
                    rows[uprn] = None
                else:
                    parent_uprn = _uprn(parent, "PARENT_UPRN", required=False) if parent else None
                    try:
                        xf = float(x) if x else None
                        yf = float(y) if y else None
                        latf = float(lat) if lat else None
                        lonf = float(lon) if lon else None
                    except ValueError:
                        xf, yf = _float(x, "X_COORDINATE"), _float(y, "Y_COORDINATE")
                        latf, lonf = _float(lat, "LATITUDE"), _float(lon, "LONGITUDE")
                    if usrn_s.isdigit() and len(usrn_s) <= 12 and usrn_s.strip("0"):
                        usrn = int(usrn_s)
                    else:
                        usrn = _uprn(usrn_s, "USRN", required=False) if usrn_s else None
                    # The address, as address_values builds it.
                    sao_text = sao_text or sub_building
                    pao_text = pao_text or building
                    sao_number = _number(sao_s, sao_ss, sao_e, sao_es) if sao_s else ""
                    if pao_s:
                        pao_number = _number(pao_s, pao_ss, pao_e, pao_es) if pao_ss or pao_e else pao_s.strip()
                    else:
                        pao_number = ""
                    if not pao_number and building_no:
                        pao_number = building_no.strip()
                    if sao_text or sao_number or pao_text:
                        building_line, building_norm = _building(sao_text, sao_number, pao_text)
                    else:
                        building_line = building_norm = ""
                    street_cap, street_norm = _cap_norm(street or thoroughfare)
                    if pao_number:
                        street_line = f"{pao_number} {street_cap}" if street_cap else pao_number
                        number_norm = _norm(pao_number)
                    else:
                        street_line, number_norm = street_cap, ""
                    locality_cap, locality_norm = _cap_norm(locality or dep_locality)
                    town_cap, town_norm = _cap_norm(town or post_town)
                    postcode, key, postcode_norm = _postcode(pc_locator or pc)
                    if building_line:
                        if street_line:
                            line1, line2, line3 = building_line[:200], street_line[:200], locality_cap[:200]
                        else:
                            line1, line2, line3 = building_line[:200], locality_cap[:200], ""
                    elif street_line:
                        line1, line2, line3 = street_line[:200], locality_cap[:200], ""
                    else:
                        line1, line2, line3 = locality_cap[:200], "", ""
                    search = " ".join(filter(None, (building_norm, number_norm, street_norm, locality_norm, town_norm,
                                                    postcode_norm)))[:700]
                    cls = cls.strip()[:10]
                    if copy_text:
                        text = f"{line1}\t{line2}\t{line3}\t{town_cap[:100]}\t{postcode}\t{key}\t{search}\t{cls}"
                        if "\\" in text or "\n" in text or "\r" in text or text.count("\t") != 7:
                            text = "\t".join(_copy_escape(v) for v in (
                                line1, line2, line3, town_cap[:100], postcode, key, search, cls))
                        rows[uprn] = (
                            f"{head}{uprn}\t{nul if parent_uprn is None else parent_uprn}"
                            f"\t{nul if usrn is None else usrn}"
                            f"\t{text}\tapproved\t{nul if xf is None else xf}\t{nul if yf is None else yf}"
                            f"\t{nul if latf is None else latf}\t{nul if lonf is None else lonf}{tail}")
                    else:
                        rows[uprn] = (org_id, uprn, parent_uprn, usrn, line1, line2, line3, town_cap[:100], postcode,
                                      key, search, cls, "approved", xf, yf, latf, lonf, source, now)
            except RowError as exc:
                errors.append((reader.line_num, str(exc)))
                continue
            if len(rows) >= batch_size:
                yield _Batch(rows, read, errors)
                rows, errors, read = {}, [], 0
    if rows or errors or read:
        yield _Batch(rows, read, errors)


def _produce(send, args: tuple) -> None:
    """In the reader process: send each batch, then None; or the failure's text."""
    try:
        for batch in _plus_batches(*args):
            send.send(batch)
        send.send(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the importing process
        send.send(f"{type(exc).__name__}: {exc}")
    finally:
        send.close()


def _batches_from_reader_process(args: tuple) -> Iterator[_Batch]:
    """Batches parsed in a second process, so that reading the file overlaps writing to the database. The pipe
    holds little, so the reader stays at most a batch or two ahead (memory stays bounded)."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_produce, args=(send, args), name="gazetteer-reader", daemon=True)
    proc.start()
    send.close()
    try:
        while True:
            try:
                item = recv.recv()
            except EOFError:
                raise RuntimeError("the file reader stopped unexpectedly") from None
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"reading the file failed: {item}")
            yield item
    finally:
        recv.close()
        if proc.is_alive():
            proc.terminate()
        proc.join(10)


def _chain(first, rest):
    yield first
    yield from rest


def _where(source: _Source, line: int, several: bool) -> int | str:
    return f"{source.name} line {line}" if several else line


def _open_uprn_rows(sources: list[_Source], report: ImportReport) -> Iterator[Change]:
    for source in sources:
        yield from _open_uprn_source(source, report, len(sources) > 1)


def _open_uprn_source(source: _Source, report: ImportReport, several: bool) -> Iterator[Change]:
    rows = _source_rows(source)
    first = next(rows, None)
    if first is None:
        return
    line, fields = first
    header = [f.strip().upper() for f in fields]
    if header and header[0] == "UPRN":
        missing = set(OPEN_UPRN_COLUMNS) - set(header)
        if missing:
            raise ValidationFailed(f"The header has no {', '.join(sorted(missing))} column.", {"file": "header"})
        columns, pending = header, rows
    else:
        columns, pending = list(OPEN_UPRN_COLUMNS), _chain(first, rows)
    index = {name: i for i, name in enumerate(columns)}
    for line, fields in pending:
        report.rows_read += 1
        try:
            if len(fields) != len(columns):
                raise RowError(_width_error(fields, f"expected {len(columns)} fields"))
            uprn = _uprn(fields[index["UPRN"]])
            values = {name.lower(): _float(fields[index[name]], name) for name in OPEN_UPRN_COLUMNS[1:]}
        except RowError as exc:
            report.error(_where(source, line, several), str(exc))
            continue
        yield uprn, "upsert", values


# Header names that OS's own files spell differently from the record layouts above.
HEADER_ALIASES = {"LOCALITY_NAME": "LOCALITY", "ADMINSTRATIVE_AREA": "ADMINISTRATIVE_AREA",
                  "STREET_DESCRIPTOR": "STREET_DESCRIPTION", "LOCAL_CUSTODIAN_CODE_NAME": "LOCAL_CUSTODIAN_NAME"}
# The records a place needs, and what they are called when missing.
_NEEDED_TYPES = ("15", "21", "24")
_TYPE_NAMES = {"15": "street descriptor", "21": "BLPU", "24": "LPI", "28": "delivery point", "32": "classification",
               "11": "street", "23": "cross-reference", "31": "organisation", "30": "successor"}


def _header_layout(header: list[str], layouts: dict[str, list[str]]) -> tuple[str, list[str]] | None:
    """The record type whose layout a header row (``RECORD_IDENTIFIER, ...``) gives, and its column names; None when
    it matches no record type well enough."""
    names = [HEADER_ALIASES.get(n, n) for n in (h.strip().upper() for h in header)]
    best, score = None, 0.0
    for rtype, layout in layouts.items():
        common = len(set(names) & set(layout))
        jaccard = common / len(set(names) | set(layout))
        if jaccard > score:
            best, score = rtype, jaccard
    if best is None or score < 0.6:
        return None
    return best, names


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _missing_records(seen: set[str], dtf: bool) -> str:
    """Why a file cannot be imported on its own ('' when it can): the records its records refer to are elsewhere.
    ``seen`` holds the record types with inserts or updates (a delete marker needs no other record)."""
    if not seen & {"15", "21", "24", "28", "32"}:
        return ""
    missing = [t for t in _NEEDED_TYPES if t not in seen]
    if not missing:
        return ""
    held = [_TYPE_NAMES[t] for t in sorted(seen) if t in _TYPE_NAMES]
    held_text = _and(held) + " records only"
    parts = []
    for t in missing:
        if t == "15":
            parts.append("street descriptors (record 15)")
        elif t == "21":
            parts.append("BLPUs with the coordinates (record 21)")
        elif dtf or "28" in seen:
            parts.append("addresses (record 24)")
        else:
            parts.append("addresses (24/28)")
    return (f"{held_text}: the {_and(parts)} are in other files; import the folder or zip of all the record files "
            "together.")


def _record_rows(sources: list[_Source], report: ImportReport, layouts: dict[str, list[str]],
                 dtf: bool) -> Iterator[Change]:
    """AddressBase Premium and DTF 7.3: join each UPRN's BLPU, LPI, delivery point and classification records, from
    one file or from several (one per record type) read together."""
    streets: dict[int, dict[str, str]] = {}
    places: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    several = len(sources) > 1
    for source in sources:
        # Column orders given by header rows in this file: record type -> column names.
        headed: dict[str, list[str]] = {}
        id_at = 0  # where the record identifier is (a header row may put it elsewhere than first)
        for line, fields in _source_rows(source):
            rtype = fields[id_at].strip().strip('"') if len(fields) > id_at else ""
            if not rtype.isdigit() and "RECORD_IDENTIFIER" in (f.strip().upper() for f in fields):
                found = _header_layout(fields, layouts)
                if found is None:
                    report.error(_where(source, line, several), "a header row that is not one of the record types'")
                else:
                    headed[found[0]] = found[1]
                    id_at = found[1].index("RECORD_IDENTIFIER")
                continue
            report.rows_read += 1
            if rtype in _SKIPPED_TYPES:
                continue
            layout = layouts.get(rtype)
            try:
                if fields == [_UNCLOSED]:
                    raise RowError(UNCLOSED_MESSAGE)
                if layout is None:
                    raise RowError(f"unknown record type '{rtype[:4]}'")
                columns = headed.get(rtype)
                if columns is None:
                    if len(fields) != len(layout):
                        raise RowError(f"record type {rtype} needs {len(layout)} fields, found {len(fields)}")
                    rec = dict(zip(layout, fields, strict=True))
                else:
                    if len(fields) != len(columns):
                        raise RowError(f"record type {rtype} has {len(columns)} columns in its header, found "
                                       f"{len(fields)} fields")
                    rec = dict.fromkeys(layout, "")
                    rec.update(zip(columns, fields, strict=True))
                if rtype in ("10", "29", "99", "11", "12", "22", "23", "30", "31"):
                    seen.add(rtype)
                    continue
                change = _change(rec.get("CHANGE_TYPE", "I"))
                if change != "D":
                    seen.add(rtype)
                if rtype == "15":
                    usrn = _uprn(rec["USRN"], "USRN")
                    known = streets.get(usrn)
                    if change != "D" and (known is None or rec.get("LANGUAGE", "ENG").upper() in ("ENG", "")):
                        streets[usrn] = rec
                    continue
                uprn = _uprn(rec["UPRN"])
                entry = places.setdefault(uprn, {"line": line})
                if rtype == "21":
                    if change == "D":
                        entry["delete"] = True
                    else:
                        entry["blpu"] = rec
                        _uprn(rec["PARENT_UPRN"], "PARENT_UPRN", required=False)
                        for name in ("X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE"):
                            if name in rec:
                                _float(rec[name], name)
                elif rtype == "24":
                    _uprn(rec["USRN"], "USRN", required=False)
                    preferred = rec["LANGUAGE"].upper() in ("ENG", "") and rec["LOGICAL_STATUS"].strip() in ("1", "")
                    if change != "D" and (preferred or "lpi" not in entry):
                        entry["lpi"] = rec
                        entry["lpi_at"] = _where(source, line, several)
                elif rtype == "28":
                    if change != "D":
                        entry["dpa"] = rec
                elif rtype == "32":
                    if change != "D" and rec["CLASS_SCHEME"].startswith("AddressBase"):
                        entry["class"] = rec["CLASSIFICATION_CODE"].strip()
            except RowError as exc:
                report.error(_where(source, line, several), str(exc))
                continue
    why = _missing_records(seen, dtf)
    if why:
        raise ValidationFailed(why, {"file": "records"})
    for uprn, entry in places.items():
        if entry.get("delete"):
            yield uprn, "delete", None
            continue
        lpi = entry.get("lpi")
        if lpi:
            usrn = _uprn(lpi["USRN"], "USRN", required=False)
            if usrn and usrn not in streets:
                report.error(entry["lpi_at"], f"the LPI of UPRN {uprn} names street USRN {usrn}, which has no "
                                              "street descriptor (record 15)")
                continue
        values: dict[str, Any] = {}
        blpu, lpi, dpa = entry.get("blpu"), entry.get("lpi"), entry.get("dpa")
        if blpu:
            values.update({
                "parent_uprn": _uprn(blpu["PARENT_UPRN"], "PARENT_UPRN", required=False),
                "x_coordinate": _float(blpu["X_COORDINATE"], "X_COORDINATE"),
                "y_coordinate": _float(blpu["Y_COORDINATE"], "Y_COORDINATE"),
                "latitude": _float(blpu.get("LATITUDE", ""), "LATITUDE"),
                "longitude": _float(blpu.get("LONGITUDE", ""), "LONGITUDE"),
                "status": LOGICAL_STATUS.get(blpu["LOGICAL_STATUS"].strip(), "approved"),
            })
            if dtf and blpu.get("BLPU_CLASS", "").strip():
                values["classification"] = blpu["BLPU_CLASS"].strip()[:10]
        if "class" in entry:
            values["classification"] = entry["class"][:10]
        if lpi:
            usrn = _uprn(lpi["USRN"], "USRN", required=False)
            street = streets.get(usrn, {}) if usrn else {}
            postcode = lpi.get("POSTCODE", "") or (dpa or {}).get("POSTCODE", "") or (blpu or {}).get(
                "POSTCODE_LOCATOR", "")
            values.update(address_values(
                sao_text=lpi["SAO_TEXT"],
                sao_number=_number(lpi["SAO_START_NUMBER"], lpi["SAO_START_SUFFIX"], lpi["SAO_END_NUMBER"],
                                   lpi["SAO_END_SUFFIX"]),
                pao_text=lpi["PAO_TEXT"],
                pao_number=_number(lpi["PAO_START_NUMBER"], lpi["PAO_START_SUFFIX"], lpi["PAO_END_NUMBER"],
                                   lpi["PAO_END_SUFFIX"]),
                street=street.get("STREET_DESCRIPTION", ""),
                locality=street.get("LOCALITY", ""),
                town=street.get("TOWN_NAME", "") or lpi.get("POST_TOWN", "") or (dpa or {}).get("POST_TOWN", ""),
                postcode=postcode,
                usrn=usrn,
            ))
        elif blpu and blpu.get("POSTCODE_LOCATOR", "").strip():
            values["postcode"] = " ".join(blpu["POSTCODE_LOCATOR"].upper().split())[:10]
            values["postcode_key"] = postcode_key(values["postcode"])
        if values:
            yield uprn, "upsert", values


def _parse(fmt: str, sources: list[_Source], report: ImportReport) -> Iterator[Change]:
    if fmt == "open-uprn":
        return _open_uprn_rows(sources, report)
    if fmt == "abp-premium":
        return _record_rows(sources, report, PREMIUM_RECORDS, dtf=False)
    if fmt == "dtf73":
        return _record_rows(sources, report, DTF73_RECORDS, dtf=True)
    raise ValidationFailed(f"Unknown format '{fmt}'. Choose one of: {', '.join(FORMATS)}.", {"format": "unknown"})


# --- applying batches ------------------------------------------------------------------------------------------


class _Applier:
    """Writes batches of changes inside the caller's transaction."""

    def __init__(self, session, org_id: int, source: str) -> None:
        self.conn = session.connection()
        self.dbapi = self.conn.connection.driver_connection
        self.pg = self.conn.dialect.name == "postgresql"
        self.org_id = org_id
        self.source = source
        now = utcnow()
        self.now = now if self.pg else now.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        self.staged = False
        self.saved_cache_size = None
        if self.pg:
            # One gazetteer import at a time per organisation (until this transaction ends).
            with self.dbapi.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_KEY, org_id))
        if not self.pg:
            # A larger page cache for the one long transaction: index pages stay in memory instead of being
            # spilled to the write-ahead log again and again (about a fifth less work). Restored by close().
            cur = self.dbapi.cursor()
            self.saved_cache_size = cur.execute("PRAGMA cache_size").fetchone()[0]
            cur.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
            cur.close()

    def close(self) -> None:
        if self.saved_cache_size is not None:
            cur = self.dbapi.cursor()
            cur.execute(f"PRAGMA cache_size = {int(self.saved_cache_size)}")
            cur.close()

    def apply(self, batch: dict[int, Any], report: ImportReport) -> None:
        """Write one batch. Each UPRN maps to None (a delete marker), a dict of the columns the file provides, or a
        whole place row: a tuple in ``PLACE_COLUMNS`` order, or (PostgreSQL) a line of COPY text."""
        deletes: list[int] = []
        whole: list[Any] = []
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for uprn, values in batch.items():
            if values is None:
                deletes.append(uprn)
            elif isinstance(values, dict):
                provided = tuple(sorted(values))
                row = {**_DEFAULTS, **values, "organisation_id": self.org_id, "uprn": uprn, "source": self.source,
                       "updated_at": self.now}
                groups.setdefault(provided, []).append(tuple(row[c] for c in PLACE_COLUMNS))
            else:
                whole.append((uprn, values))
        if whole and self.pg and isinstance(whole[0][1], str):
            whole = self._copy_new_places(whole, report)
        work = list(groups.items()) + ([(_WHOLE_ROW, [row for _uprn, row in whole])] if whole else [])
        for provided, rows in work:
            updates = [c for c in provided if c in PLACE_COLUMNS] + ["source", "updated_at"]
            if "status" not in provided:
                # A place that comes back after a delete marker is live again.
                updates.append("status")
            inserted, total = (self._upsert_pg if self.pg else self._upsert_sqlite)(rows, updates, provided)
            report.inserted += inserted
            report.updated += total - inserted
        if deletes:
            report.deleted += self._delete(deletes)

    def _copy_new_places(self, lines: list[tuple[int, str]], report: ImportReport) -> list[tuple[int, str]]:
        """COPY the places new to the organisation straight into the table; return the others (to upsert).
        Imports of one organisation's gazetteer take turns (see ``__init__``), so no other import can add one of
        these UPRNs in between."""
        with self.dbapi.cursor() as cur:
            cur.execute("SELECT uprn FROM place WHERE organisation_id = %s AND uprn = ANY(%s)",
                        (self.org_id, [uprn for uprn, _line in lines]))
            existing = {uprn for (uprn,) in cur.fetchall()}
            fresh = [line for uprn, line in lines if uprn not in existing]
            if fresh:
                with cur.copy(f"COPY place ({', '.join(PLACE_COLUMNS)}) FROM STDIN") as copy:
                    copy.write("".join(fresh))
        report.inserted += len(fresh)
        return [(uprn, line) for uprn, line in lines if uprn in existing] if existing else []

    def _set_clause(self, updates: list[str], provided: tuple[str, ...]) -> str:
        parts = []
        for col in updates:
            if col == "status" and "status" not in provided:
                parts.append("status = CASE WHEN place.status = 'deleted' THEN 'approved' ELSE place.status END")
            else:
                parts.append(f"{col} = excluded.{col}")
        return ", ".join(parts)

    def _upsert_sqlite(self, rows: list[tuple], updates: list[str], provided) -> tuple[int, int]:
        cur = self.dbapi.cursor()
        # Only this transaction writes, and SQLite gives a new row the largest id so far plus one: the rows with a
        # larger id than before the batch are the ones it inserted.
        cur.execute("SELECT coalesce(max(id), 0) FROM place")
        before = cur.fetchone()[0]
        sql = (f"INSERT INTO place ({', '.join(PLACE_COLUMNS)}) VALUES ({', '.join('?' * len(PLACE_COLUMNS))}) "
               f"ON CONFLICT (organisation_id, uprn) DO UPDATE SET {self._set_clause(updates, provided)}")
        cur.executemany(sql, rows)
        cur.execute("SELECT count(*) FROM place WHERE id > ?", (before,))
        inserted = cur.fetchone()[0]
        cur.close()
        return inserted, len(rows)

    def _upsert_pg(self, rows: list[tuple], updates: list[str], provided) -> tuple[int, int]:
        cols = ", ".join(PLACE_COLUMNS)
        with self.dbapi.cursor() as cur:
            if not self.staged:
                cur.execute(f"CREATE TEMP TABLE place_stage ON COMMIT DROP AS SELECT {cols} FROM place WITH NO DATA")
                self.staged = True
            with cur.copy(f"COPY place_stage ({cols}) FROM STDIN") as copy:
                if rows and isinstance(rows[0], str):
                    copy.write("".join(rows))
                else:
                    for row in rows:
                        copy.write_row(row)
            cur.execute(
                f"WITH up AS (INSERT INTO place ({cols}) SELECT {cols} FROM place_stage "
                f"ON CONFLICT (organisation_id, uprn) DO UPDATE SET {self._set_clause(updates, provided)} "
                f"RETURNING (xmax = 0) AS ins) SELECT count(*) FILTER (WHERE ins), count(*) FROM up"
            )
            inserted, total = cur.fetchone()
            cur.execute("TRUNCATE place_stage")
        return inserted, total

    def _delete(self, uprns: list[int]) -> int:
        if self.pg:
            with self.dbapi.cursor() as cur:
                cur.execute("UPDATE place SET status = 'deleted', updated_at = %s WHERE organisation_id = %s "
                            "AND uprn = ANY(%s) AND status <> 'deleted'", (self.now, self.org_id, uprns))
                return cur.rowcount
        cur = self.dbapi.cursor()
        count = 0
        for i in range(0, len(uprns), 900):
            chunk = uprns[i:i + 900]
            cur.execute(f"UPDATE place SET status = 'deleted', updated_at = ? WHERE organisation_id = ? AND uprn IN "
                        f"({','.join('?' * len(chunk))}) AND status <> 'deleted'", [self.now, self.org_id, *chunk])
            count += cur.rowcount
        cur.close()
        return count


# --- the import ------------------------------------------------------------------------------------------------


def _error_order(error: str) -> tuple[str, int]:
    """Reported errors in file order: ("ID21_BLPU_Records.csv line 4: ..." or "line 4: ...")."""
    where, _sep, rest = error.partition("line ")
    number = rest.split(":", 1)[0]
    return where, int(number) if number.isdigit() else 0


def _start_job(actor: Actor, org_id: int, fmt: str, filename: str, total: int) -> int:
    with write_session() as s:
        job = ImportJob(organisation_id=org_id, kind="gazetteer", filename=f"{filename} ({fmt})"[:200],
                        status="running", rows_total=total, started_by=actor.username[:80])
        s.add(job)
        s.flush()
        return job.id


def _finish_job(job_id: int, report: ImportReport, status: str, failure: str = "") -> None:
    with write_session() as s:
        job = s.get(ImportJob, job_id)
        job.status = status
        job.rows_done = report.rows_read
        job.created = report.inserted if status == "done" else 0
        job.updated = report.updated + report.deleted if status == "done" else 0
        job.errors = ([failure] if failure else []) + report.errors
        job.finished_at = utcnow()
        s.add(job)


def _write_rows(applier: _Applier, fmt: str, path: Path, sources: list[_Source], report: ImportReport, total: int,
                batch_size: int, parallel: bool | None, skip_bad_rows: bool,
                progress: Callable[[int, int], None] | None) -> None:
    """Read the file and write its places. Unless ``skip_bad_rows``, writing stops at the first malformed row (the
    caller then rolls back) while reading goes on, so that every malformed row is reported."""
    org_id = applier.org_id

    def writing() -> bool:
        return skip_bad_rows or not report.error_count

    if fmt == "abp-plus":
        columns, has_header = _plus_layout(path)
        args = (path, columns, has_header, org_id, fmt, applier.now, batch_size, applier.pg)
        if parallel is None:
            parallel = (os.cpu_count() or 1) > 1 and path.stat().st_size >= PARALLEL_MIN_BYTES
        batches = _batches_from_reader_process(args) if parallel else _plus_batches(*args)
        for parsed in batches:
            report.rows_read += parsed.rows_read
            for line, message in parsed.errors:
                report.error(line, message)
            if parsed.rows and writing():
                applier.apply(parsed.rows, report)
            if progress:
                progress(report.rows_read, total)
    else:
        batch: dict[int, dict[str, Any] | None] = {}
        for uprn, op, values in _parse(fmt, sources, report):
            if op == "delete":
                batch[uprn] = None
            else:
                previous = batch.get(uprn)
                batch[uprn] = {**previous, **values} if previous else values
            if len(batch) >= batch_size:
                if writing():
                    applier.apply(batch, report)
                batch = {}
                if progress:
                    progress(report.rows_read, total)
        if batch and writing():
            applier.apply(batch, report)


def import_gazetteer(actor: Actor, path: str | Path, fmt: str, *, filename: str = "",
                     progress: Callable[[int, int], None] | None = None,
                     batch_size: int = BATCH_SIZE, parallel: bool | None = None,
                     skip_bad_rows: bool = False) -> ImportReport:
    """Import one gazetteer file (or, for the record-type formats, a folder or zip of files) for the actor's
    organisation, all or nothing: a malformed row refuses the whole file with ``ImportRefused`` (its ``report``
    names every malformed row) and nothing is written. With ``skip_bad_rows`` the other rows are imported and the
    report lists the malformed ones. ``progress(rows_read, total)`` is called after each batch. AddressBase Plus
    files are read in a second process when ``parallel`` (by default: large files on a machine with two or more
    cores)."""
    actor.require(Perm.CASES_MANAGE)
    org_id = actor.require_org()
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(f"Unknown format '{fmt}'. Choose one of: {', '.join(FORMATS)}.", {"format": "unknown"})
    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise ValidationFailed(f"No such file: {path}", {"file": "missing"})
    sources = _sources(path)
    if fmt == "abp-plus" and (len(sources) > 1 or sources[0].member):
        raise ValidationFailed("AddressBase Plus is imported one CSV file at a time; unzip it and import each file.",
                               {"file": "zip"})
    filename = filename or path.name
    report = ImportReport(format=fmt, filename=filename)
    total = sum(source.count_lines() for source in sources)
    report.job_id = _start_job(actor, org_id, fmt, filename, total)
    started = time.perf_counter()
    try:
        with write_session() as s:
            applier = _Applier(s, org_id, fmt)
            try:
                _write_rows(applier, fmt, path, sources, report, total, batch_size, parallel, skip_bad_rows,
                            progress)
            finally:
                applier.close()
            report.errors.sort(key=_error_order)
            if report.error_count and not skip_bad_rows:
                report.refused = True
                report.inserted = report.updated = report.deleted = 0
                raise ImportRefused(report)
            if report.rows_read == 0:
                raise ValidationFailed("The file has no rows.", {"file": "empty"})
            audit.record(s, actor, "gazetteer", report.job_id, "imported",
                         after={"format": fmt, "file": filename, "rows": report.rows_read,
                                "inserted": report.inserted, "updated": report.updated, "deleted": report.deleted,
                                "malformed": report.error_count, "skipped_bad_rows": skip_bad_rows})
    except BaseException as exc:
        report.seconds = time.perf_counter() - started
        message = str(exc) if isinstance(exc, ValidationFailed) else f"Import failed and was undone: {exc}"
        _finish_job(report.job_id, report, "failed", message[:500])
        raise
    report.seconds = time.perf_counter() - started
    if progress:
        progress(report.rows_read, max(total, report.rows_read))
    _finish_job(report.job_id, report, "done")
    return report


@dataclass(frozen=True)
class JobRow:
    id: int
    filename: str
    status: str
    rows_done: int
    created: int
    updated: int
    error_count: int
    errors: list[str]
    started_by: str
    started_at: datetime
    finished_at: datetime | None


def recent_imports(actor: Actor, limit: int = 10) -> list[JobRow]:
    actor.require(Perm.CASES_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        jobs = s.exec(select(ImportJob).where(ImportJob.organisation_id == org_id, ImportJob.kind == "gazetteer")
                      .order_by(ImportJob.id.desc()).limit(limit)).all()
        return [JobRow(j.id, j.filename, j.status, j.rows_done, j.created, j.updated, len(j.errors or []),
                       list(j.errors or [])[:50], j.started_by, j.started_at, j.finished_at) for j in jobs]


def job_errors(actor: Actor, job_id: int) -> list[str]:
    actor.require(Perm.CASES_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        job = s.exec(select(ImportJob).where(ImportJob.id == bounds.query_id(job_id),
                                             ImportJob.organisation_id == org_id,
                                             ImportJob.kind == "gazetteer")).first()
        if job is None:
            raise NotFound("No such import.")
        return list(job.errors or [])


def write_text(path: Path, text: str) -> None:
    """Small helper for tests and samples: write ``text`` with CRLF line ends as OS supplies them."""
    path.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))


