"""``python -m atlas_app COMMAND``: administration from the command line.

Each area's module adds its commands with ``register(subparsers)``; this module lists the areas and runs the
command chosen. Commands that name an organisation take its slug (``--org hartlepool``) and find it through
``services.platform.organisations``.
"""

from __future__ import annotations

import argparse

from atlas_app.cli import booking, casework, platform, rent_arrears, utilities

COMMANDS_HELP = "commands"

# Platform first, then the areas: the order commands are listed in ``--help``.
AREAS = (platform, booking, casework, utilities, rent_arrears)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m atlas_app", description="Atlas administration commands.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title=COMMANDS_HELP)
    for area in AREAS:
        area.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)
