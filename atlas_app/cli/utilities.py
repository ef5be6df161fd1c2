"""Command-line commands for Gas and Electric Utilities Servicing: ``import-installations``."""

from __future__ import annotations

import argparse
import sys


def _import_installations(args) -> int:
    from atlas_app.services.modules.utilities_servicing import imports
    from atlas_app.services.platform.errors import AtlasError
    from atlas_app.services.platform.organisations import system_actor_for

    actor = system_actor_for(args.org, "cli:import-installations")
    if actor is None:
        print(f"No organisation '{args.org}'.", file=sys.stderr)
        return 2
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as exc:
        print(f"Cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        report = imports.import_installations(actor, data)
    except imports.ImportRefused as exc:
        report = exc.report
        print(f"Nothing imported from {args.file}: {report.summary}", file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        if report.error_count > len(report.errors):
            print(f"  ... and {report.error_count - len(report.errors):,} more bad rows", file=sys.stderr)
        return 1
    except AtlasError as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 2
    print(f"Imported {args.file} in {report.seconds:.1f} s: {report.summary}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-installations",
                       help="import a stock list of installations by UPRN with their last certificate dates, all or "
                            "nothing; names every bad row; exits 1 when any row was bad")
    p.add_argument("file", help="CSV with columns uprn, type, location, make, model, ownership, last_certificate "
                                "(sample in assets/samples/installations.csv)")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.set_defaults(func=_import_installations)
