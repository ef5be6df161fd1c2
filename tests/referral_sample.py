"""The shipped referral sample (assets/samples/referrals-sample.csv) with its offence and critical dates moved so
that they fall around today, as a police file would: the file's own dates are fixed and pass with time."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from atlas_app.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "assets" / "samples" / "referrals-sample.csv"
DATE_COLUMNS = ("Offence date", "Critical date")
FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def _read(text: str) -> tuple[date, str]:
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date(), fmt
        except ValueError:
            continue
    raise ValueError(f"not a sample date: {text!r}")


def current_sample_text(today: date | None = None) -> str:
    """The sample with every offence and critical date shifted by one number of days, so the latest offence was
    40 days ago; everything else, including each date's written form, is as shipped."""
    rows = list(csv.DictReader(io.StringIO(SHIPPED.read_text(encoding="utf-8"))))
    latest = max(_read(r["Offence date"])[0] for r in rows)
    shift = ((today or date.today()) - timedelta(days=40)) - latest
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        for column in DATE_COLUMNS:
            day, fmt = _read(r[column])
            r[column] = (day + shift).strftime(fmt)
        writer.writerow(r)
    return out.getvalue()


def current_sample_path() -> Path:
    """A file named like the shipped sample holding :func:`current_sample_text`."""
    path = Path(tempfile.mkdtemp(prefix="atlas-sample-")) / SHIPPED.name
    path.write_text(current_sample_text(), encoding="utf-8")
    return path
