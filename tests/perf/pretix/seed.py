"""Seeds the pretix instance of tests/perf/pretix/run.sh and prints what the load driver needs as JSON.

Run with pretix's own interpreter, DJANGO_SETTINGS_MODULE=pretix.settings and PRETIX_CONFIG_FILE set. It makes an
organizer, a live event, a free warm-up item with a large quota, one free rush item per run with its own quota of
``--rush-size`` (so every run starts with a fresh quota), and a team with an API token. The items cost nothing, so
pretix marks each order paid through its built-in "free" payment provider, with no outside service involved.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from decimal import Decimal

import django

django.setup()

from django.utils.timezone import now  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from pretix.base.models import Event, Organizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rush-size", type=int, default=24)
    parser.add_argument("--warm-size", type=int, default=10000)
    args = parser.parse_args()

    with scopes_disabled():
        organizer = Organizer.objects.create(name="Atlas benchmark", slug="bench")
        event = Event.objects.create(
            organizer=organizer, name="Booking rush", slug="rush", currency="EUR", live=True,
            date_from=now() + timedelta(days=30), plugins="pretix.plugins.banktransfer",
        )
        warm_item = event.items.create(name="Warm-up ticket", default_price=Decimal("0.00"), admission=True)
        warm_quota = event.quotas.create(name="Warm-up", size=args.warm_size)
        warm_quota.items.add(warm_item)
        rush = []
        for run in range(1, args.runs + 1):
            item = event.items.create(name=f"Rush ticket {run}", default_price=Decimal("0.00"), admission=True)
            quota = event.quotas.create(name=f"Rush {run}", size=args.rush_size)
            quota.items.add(item)
            rush.append({"item": item.pk, "quota": quota.pk})
        team = organizer.teams.create(name="API", all_events=True, all_event_permissions=True,
                                      all_organizer_permissions=True)
        token = team.tokens.create(name="benchmark")

    print(json.dumps({
        "organizer": organizer.slug, "event": event.slug, "token": token.token,
        "warm_item": warm_item.pk, "warm_quota": warm_quota.pk, "rush": rush,
    }))


if __name__ == "__main__":
    main()
