"""Command-line commands for Rent Arrears Monitoring: ``import-rent-transactions``."""

from __future__ import annotations

import argparse
import sys
from datetime import date


def _import_rent_transactions(args) -> int:
    from atlas_app.services.modules.rent_arrears import imports
    from atlas_app.services.platform.errors import AtlasError
    from atlas_app.services.platform.organisations import system_actor_for

    actor = system_actor_for(args.org, "cli:import-rent-transactions")
    if actor is None:
        print(f"No organisation '{args.org}'.", file=sys.stderr)
        return 2
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        print("--as-of is a date, YYYY-MM-DD.", file=sys.stderr)
        return 2

    def progress(done: int) -> None:
        if not args.quiet and done % 100_000 < imports.BATCH_SIZE:
            print(f"  {done:,} rows read", file=sys.stderr)

    try:
        report = imports.import_transactions(actor, args.file, recompute_after=not args.no_recompute, as_of=as_of,
                                             progress=progress)
    except imports.ImportRefused as exc:
        print(f"Nothing imported from {args.file}: {exc.report.summary}", file=sys.stderr)
        for error in exc.report.errors:
            print(f"  {error}", file=sys.stderr)
        if exc.report.error_count > len(exc.report.errors):
            print(f"  ... and {exc.report.error_count - len(exc.report.errors):,} more malformed rows",
                  file=sys.stderr)
        return 1
    except AtlasError as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"Imported {args.file} in {report.seconds:.1f} s: {report.summary}")
    if report.recompute is not None:
        print(f"  {report.recompute.summary}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-rent-transactions",
                       help="import a CSV of rent transactions from the rent system, all or nothing (every "
                            "malformed row named, exit 1); a transaction id already imported is skipped; then "
                            "recompute balances, arrears and recovery stages")
    p.add_argument("file", help="CSV with a header row: transaction_id, rent_account, date, type, method, amount "
                                "(sample in assets/samples/rent-transactions.csv)")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("--as-of", default="", help="recompute as of this day (YYYY-MM-DD; default today)")
    p.add_argument("--no-recompute", action="store_true", help="import only; recompute later")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_import_rent_transactions)
