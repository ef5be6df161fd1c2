"""Command-line commands for casework: ``import-gazetteer``."""

from __future__ import annotations

import argparse
import sys


def _import_gazetteer(args) -> int:
    from atlas_app.services.casework import gazetteer
    from atlas_app.services.platform.errors import AtlasError
    from atlas_app.services.platform.organisations import system_actor_for

    actor = system_actor_for(args.org, "cli:import-gazetteer")
    if actor is None:
        print(f"No organisation '{args.org}'.", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  {done:,} of about {total:,} rows read", file=sys.stderr)

    try:
        report = gazetteer.import_gazetteer(actor, args.file, args.format, progress=progress,
                                            skip_bad_rows=args.skip_bad_rows)
    except gazetteer.ImportRefused as exc:
        report = exc.report
        print(f"Nothing imported from {args.file}: {report.summary}", file=sys.stderr)
        _print_errors(report, sys.stderr)
        print("  (--skip-bad-rows imports the other rows)", file=sys.stderr)
        return 1
    except AtlasError as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"Imported {args.file} ({args.format}) in {report.seconds:.1f} s: {report.summary}")
    _print_errors(report, sys.stdout)
    return 1 if report.error_count else 0


def _print_errors(report, out) -> None:
    for error in report.errors:
        print(f"  {error}", file=out)
    if report.error_count > len(report.errors):
        print(f"  ... and {report.error_count - len(report.errors):,} more malformed rows", file=out)


def register(sub: argparse._SubParsersAction) -> None:
    from atlas_app.services.casework.gazetteer import FORMATS

    p = sub.add_parser("import-gazetteer",
                       help="import places (UPRNs) from a gazetteer file, all or nothing; names every malformed "
                            "row; exits 1 when any row was malformed")
    p.add_argument("file", help="the CSV file; for abp-premium, dtf73 and open-uprn also a folder or .zip of CSV "
                                "files, e.g. OS's per-record-type files (samples in assets/samples/gazetteer-*.csv)")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="import the other rows when some are malformed (still exits 1, naming them)")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), metavar="FORMAT",
                   help="; ".join(f"{k}: {v}" for k, v in FORMATS.items()))
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_import_gazetteer)
