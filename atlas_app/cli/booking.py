"""Command-line commands for course booking: ``api-token``, ``import-referrals``, ``card-provider`` and
``send-reminders``."""

from __future__ import annotations

import argparse
import sys


def _api_token(args) -> int:
    from atlas_app.services.platform import api_tokens
    from atlas_app.services.platform.errors import AtlasError

    try:
        new = api_tokens.create_for_organisation(args.org, args.name, created_by="cli")
    except AtlasError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 2
    print(f"API token '{new.view.name}' for {args.org} (shown once; store it now):", file=sys.stderr)
    print(new.token)
    return 0


def _import_referrals(args) -> int:
    from atlas_app.services.booking import referrals
    from atlas_app.services.platform.organisations import system_actor_for

    actor = system_actor_for(args.org, "cli:import-referrals")
    if actor is None:
        print(f"No organisation '{args.org}'.", file=sys.stderr)
        return 2
    try:
        result = referrals.import_file(actor, args.file, skip_bad_rows=args.skip_bad_rows)
    except OSError as exc:
        print(f"Cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not result.ok:
        print(f"Nothing imported from {args.file}: {len(result.errors)} problem(s).", file=sys.stderr)
        for error in result.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    print(f"Imported {args.file}: {result.summary()}")
    for error in result.errors:
        print(f"  {error}")
    return 1 if result.errors else 0


def _card_provider(args) -> int:
    from atlas_app.services.payments import checkout
    from atlas_app.services.platform.errors import AtlasError

    try:
        in_use = checkout.set_card_provider(args.org, args.provider, by="cli")
    except AtlasError as exc:
        print(f"Not changed: {exc}", file=sys.stderr)
        return 2
    print(f"{args.org} chose {args.provider}; card payments now go through: {in_use}")
    return 0


def _send_reminders(_args) -> int:
    from atlas_app.services.booking import reminders

    run = reminders.queue_due()
    print(f"Reminders queued: {run.queued} (due but not sent for want of consent or an address: {run.skipped}).")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card-provider", help="choose an organisation's online card provider: stripe or govuk_pay")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("provider", choices=["stripe", "govuk_pay"])
    p.set_defaults(func=_card_provider)

    p = sub.add_parser("api-token", help="create an API token for an organisation and print it (shown once)")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("--name", required=True, help="what will use the token, e.g. 'Cleveland Police back office'")
    p.set_defaults(func=_api_token)

    p = sub.add_parser("import-referrals",
                       help="import a CSV of police offers (all or nothing; lists every bad row; exits 1 when any "
                            "row was bad)")
    p.add_argument("file", help="the CSV file (see assets/samples/referrals-sample.csv)")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="import the good rows when some are bad (still exits 1, listing the bad rows)")
    p.set_defaults(func=_import_referrals)

    p = sub.add_parser("send-reminders",
                       help="queue the course reminders that are due (each once per booking and schedule point, "
                            "however often or in however many places it runs)")
    p.set_defaults(func=_send_reminders)
