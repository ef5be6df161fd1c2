"""Platform commands: ``migrate``, ``seed-demo``, ``reset-demo``, ``create-admin``, ``audit-verify``, ``audit-reseal``, ``send-email``."""

from __future__ import annotations

import argparse
import getpass
import sys


def _migrate(_args) -> int:
    from atlas_app.migrations import upgrade_head

    upgrade_head()
    print("Database is at the latest migration.")
    return 0


def _seed_demo(args) -> int:
    from atlas_app.services import demo

    if args.if_empty and demo.has_demo_data():
        print("Demo data already present.")
        return 0
    created = demo.seed_demo()
    print(f"Demo data ready ({created['users']} users created).")
    return 0


def _create_admin(args) -> int:
    from atlas_app.db import write_session
    from atlas_app.models import Organisation
    from atlas_app.services.booking import emails
    from atlas_app.services.platform import audit, organisations
    from atlas_app.services.platform.actor import system_actor
    from atlas_app.services.platform.errors import AtlasError
    from atlas_app.services.platform.users import create_user, ensure_default_roles

    password = args.password or getpass.getpass("Password for the new administrator: ")
    with write_session() as s:
        org = organisations.by_slug(s, args.org)
        if org is None:
            slug = organisations.clean_slug(args.org)
            if not args.org_name or not slug:
                print(f"No organisation '{args.org}'. Give --org-name to create it.", file=sys.stderr)
                return 2
            org = Organisation(slug=slug, name=args.org_name)
            s.add(org)
            s.flush()
            audit.record(s, system_actor(org.id, "create-admin"), "organisation", org.id, "created",
                         after={"name": org.name})
            emails.ensure_templates(s, org.id)
        roles = ensure_default_roles(s, org.id)
        org_id = org.id
    actor = system_actor(org_id, "create-admin")
    try:
        user_id = create_user(actor, username=args.username, full_name=args.full_name or args.username,
                              email=args.email or "", password=password, role_ids=[roles["Administrator"]],
                              must_change_password=False)
    except AtlasError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 2
    if args.platform:
        from atlas_app.models import User

        with write_session() as s:
            user = s.get(User, user_id)
            user.is_platform_admin = True
            s.add(user)
            audit.record(s, actor, "user", user_id, "made_platform_admin", after={"is_platform_admin": True})
    print(f"Created administrator '{args.username.lower()}' in {organisations.clean_slug(args.org)}.")
    return 0


def _audit_verify(_args) -> int:
    from atlas_app.db import read_session
    from atlas_app.services.platform.audit import verify_trail

    with read_session() as s:
        report = verify_trail(s)
    for chain in report.chains:
        if chain.ok:
            print(f"{chain.name.capitalize()}: intact, {chain.entries_checked} entries checked.")
        else:
            print(f"{chain.name.capitalize()}: BROKEN at entry {chain.first_broken_seq}: {chain.reason} "
                  f"({chain.entries_checked} entries before it are intact).")
    if report.ok:
        print(f"Audit trail intact: {report.entries_checked} entries checked in {len(report.chains)} chains.")
        return 0
    print(f"Audit trail BROKEN in {len(report.broken)} of {len(report.chains)} chains.")
    return 1


def _audit_reseal(_args) -> int:
    from atlas_app.db import write_session
    from atlas_app.services.platform import audit

    try:
        with write_session() as s:
            done = audit.reseal_old_entries(s)
    except audit.ChainBroken as exc:
        print(f"Refused: {exc}. Run audit-verify.", file=sys.stderr)
        return 1
    for c in done:
        chain = "The system's chain" if c.chain == audit.SYSTEM_CHAIN else f"Organisation {c.chain}"
        print(f"{chain}: verified up to entry {c.old_head_seq} (head {c.old_head_hash}); {c.resealed} entries "
              f"re-sealed, {c.rechained} re-linked; sealing entry {c.sealing_seq}.")
    if not done:
        print("Nothing to re-seal: every entry about a person already keeps its personal part apart.")
    return 0


def _purge(args) -> int:
    from atlas_app.services.platform import retention
    from atlas_app.services.platform.organisations import system_actor_for

    if args.org:
        actor = system_actor_for(args.org, "cli:purge")
        if actor is None:
            print(f"No organisation '{args.org}'.", file=sys.stderr)
            return 2
        reports = [retention.purge(actor.organisation_id, dry_run=args.dry_run, actor=actor)]
    else:
        reports = retention.purge_all(dry_run=args.dry_run)
    verb = "would anonymise" if args.dry_run else "anonymised"
    for r in reports:
        parts = ", ".join(f"{n} by rule {rule}" for rule, n in r.counts.items() if n) or "nothing"
        print(f"Organisation {r.organisation_id}: {verb} {parts}; {r.held} held by a legal hold"
              + ("" if args.dry_run else f"; {r.audit_entries_shredded} audit entries shredded; "
                                         f"{r.files_deleted} files deleted") + ".")
    return 0


def _unlock_user(args) -> int:
    from atlas_app.services.platform.errors import AtlasError
    from atlas_app.services.platform.users import unlock_by_username

    try:
        was_locked = unlock_by_username(args.username, "unlock-user")
    except AtlasError as exc:
        print(f"Not unlocked: {exc}", file=sys.stderr)
        return 2
    print(f"Unlocked '{args.username.strip().lower()}'." if was_locked
          else f"'{args.username.strip().lower()}' was not locked.")
    return 0


def _send_email(_args) -> int:
    from atlas_app.services.platform.auth import send_requested_links
    from atlas_app.services.platform.outbox import deliver_due

    send_requested_links(limit=1000)
    report = deliver_due(limit=1000)
    print(f"Sent {report.sent}, failed {report.failed}, will retry {report.retrying}.")
    return 0


def _reset_demo(_args) -> int:
    from atlas_app.services.platform.actor import system_actor
    from atlas_app.services.user_group import demo_org

    report = demo_org.reset(system_actor(None, "cli:reset-demo"))
    print(f"{demo_org.NAME} reset: {report.deleted} rows deleted, {report.users} demo users made, "
          f"{report.seconds:.1f} s.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    p.set_defaults(func=_migrate)

    p = sub.add_parser("seed-demo", help="load the demo organisations, users and data")
    p.add_argument("--if-empty", action="store_true", help="do nothing when the database already has data")
    p.set_defaults(func=_seed_demo)

    p = sub.add_parser("reset-demo", help="delete and regenerate the demo organisation's data (no other's)")
    p.set_defaults(func=_reset_demo)

    p = sub.add_parser("create-admin", help="create an administrator for an organisation")
    p.add_argument("--org", required=True, help="organisation slug, e.g. hartlepool")
    p.add_argument("--org-name", help="create the organisation with this name if it does not exist")
    p.add_argument("--username", required=True)
    p.add_argument("--full-name")
    p.add_argument("--email")
    p.add_argument("--password", help="prompted for when not given")
    p.add_argument("--platform", action="store_true", help="make a platform administrator (acts for every org)")
    p.set_defaults(func=_create_admin)

    p = sub.add_parser("audit-verify",
                       help="check each hash chain of the audit trail; report the first broken link of each")
    p.set_defaults(func=_audit_verify)

    p = sub.add_parser("audit-reseal",
                       help="verify the whole audit trail, then make entries from before 0035/0036 shreddable "
                            "(re-linked, with a sealing entry naming the verified head)")
    p.set_defaults(func=_audit_reseal)

    p = sub.add_parser("purge", help="anonymise personal records whose retention period has run out")
    p.add_argument("--dry-run", action="store_true", help="count what would be anonymised; change nothing")
    p.add_argument("--org", help="one organisation's slug (default: every active organisation)")
    p.set_defaults(func=_purge)

    p = sub.add_parser("unlock-user", help="unlock a locked account (any organisation) and reset its failure count")
    p.add_argument("username")
    p.set_defaults(func=_unlock_user)

    p = sub.add_parser("send-email", help="deliver queued emails now over SMTP_URL")
    p.set_defaults(func=_send_email)
