"""The load for pretix's side of the booking-rush comparison, with Atlas's own load generator (tests/perf/load.py).

Run by run.sh once pretix is serving: a warm-up of 40 orders on the warm-up item at concurrency 50 (every worker has
made orders before the runs), then per run 300 orders at concurrency 50 for an item with a quota of 24, each order
for one ticket with its own email address, through ``POST /api/v1/organizers/{o}/events/{e}/orders/`` with the
team's API token. Each run has its own item and quota, so each starts with 24 tickets left. After each run the
quota's availability is read back from the API, to check that exactly 24 tickets were sold. Before each run the
Celery worker is left to finish the tasks of the orders before (notifications, webhooks).

Then, for comparison: the last run's item once more, already sold out (300 attempts, all refused), and one at a time
(concurrency 1) 30 refusals and 30 orders, the time one of each takes when nothing queues.

Prints a table (attempts/s, seconds, p50/p95 latency, statuses) and the load average before and after each run, and
writes tests/perf/results/pretix_rush.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import load  # noqa: E402

RESULTS = HERE.parent / "results" / "pretix_rush.json"
RUSH_ATTEMPTS, RUSH_CONCURRENCY, RUSH_SIZE = 300, 50, 24
WARM_ORDERS = 40
SOLD_OUT = b"not enough quota available"


def _wait_for_celery(url: str, timeout: float = 120.0) -> float:
    """Waits until the Celery worker has taken every queued task and finished it (the orders' notifications and
    webhooks), so that a run does not share the CPUs with the tasks of the orders before it. Returns the seconds
    waited."""
    client = redis.Redis.from_url(url)
    started = time.perf_counter()
    idle = 0
    while time.perf_counter() - started < timeout:
        # The broker's database is pretix's own: every list in it is a queue (default, checkout, mail, ...).
        queued = sum(client.llen(key) for key in client.scan_iter() if client.type(key) == b"list")
        unacked = client.hlen("unacked")
        idle = idle + 1 if queued == 0 and unacked == 0 else 0
        if idle >= 3:
            break
        time.sleep(0.2)
    return round(time.perf_counter() - started, 1)


def _sequential(base: str, seed: dict, item: int, prefix: str, count: int) -> dict:
    """``count`` orders one after another (concurrency 1): the time pretix takes for one order, or one refusal,
    when nothing queues."""
    made, refusals = _orders(base, seed, item, prefix, count, 1, prefix)
    return {"attempts": count, "statuses": {str(k): v for k, v in sorted(made.statuses.items())},
            "sold_out_400": refusals.get("sold_out", 0), "latency_ms": made.summary()["latency_ms"]}


def _bodies(item: int, prefix: str, count: int) -> list[dict]:
    return [{"email": f"{prefix}-{i:04d}@example.org", "locale": "en", "sales_channel": "web",
             "positions": [{"item": item}]} for i in range(count)]


def _orders(base: str, seed: dict, item: int, prefix: str, count: int, concurrency: int,
            name: str) -> tuple[load.RunResult, Counter]:
    """POSTs ``count`` orders for ``item``; the second value sorts the refusals (status 400) by their reason."""
    refusals: Counter = Counter()

    def sort(status: int, payload: bytes) -> None:
        if status == 400:
            refusals["sold_out" if SOLD_OUT in payload else payload[:160].decode("utf-8", "replace")] += 1

    path = f"/api/v1/organizers/{seed['organizer']}/events/{seed['event']}/orders/"
    made = load.run(base, seed["token"], _bodies(item, prefix, count), concurrency, name,
                    path=path, auth_scheme="Token", on_response=sort)
    return made, refusals


def _availability(base: str, seed: dict, quota: int) -> dict:
    url = f"{base}/api/v1/organizers/{seed['organizer']}/events/{seed['event']}/quotas/{quota}/availability/"
    answer = httpx.get(url, headers={"Authorization": f"Token {seed['token']}"}, timeout=60.0)
    answer.raise_for_status()
    return answer.json()


def _summary(made: load.RunResult, refusals: Counter) -> dict:
    s = made.summary()
    return {
        "name": s["name"], "attempts": s["attempts"], "concurrency": s["concurrency"], "seconds": s["seconds"],
        "attempts_per_second": s["requests_per_second"], "orders_per_second": s["bookings_per_second"],
        "statuses": {str(k): v for k, v in sorted(made.statuses.items())},
        "ordered_201": made.booked, "refused_sold_out_400": refusals.get("sold_out", 0),
        "other_refusals_400": {k: v for k, v in refusals.items() if k != "sold_out"},
        "server_errors_5xx": s["server_errors_5xx"], "transport_errors": s["transport_errors"],
        "errors": made.errors[:5], "latency_ms": s["latency_ms"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="pretix's URL, e.g. http://127.0.0.1:8345")
    parser.add_argument("--seed", required=True, help="the JSON printed by seed.py")
    parser.add_argument("--server", default="{}", help="JSON describing the server set-up, kept in the results")
    parser.add_argument("--redis", required=True, help="the Celery broker, e.g. redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    seed = json.loads(Path(args.seed).read_text())
    base = args.base.rstrip("/")

    warm, warm_refusals = _orders(base, seed, seed["warm_item"], "warm", WARM_ORDERS, RUSH_CONCURRENCY, "warm-up")
    if warm.booked != WARM_ORDERS:
        print(f"the warm-up orders failed: {dict(warm.statuses)} {dict(warm_refusals)} {warm.errors[:3]}",
              file=sys.stderr)
        return 1

    runs, ok = [], True
    for number, rush in enumerate(seed["rush"], start=1):
        celery_wait = _wait_for_celery(args.redis)
        load_before = load.load_average()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        made, refusals = _orders(base, seed, rush["item"], f"rush{number}", RUSH_ATTEMPTS, RUSH_CONCURRENCY,
                                 f"rush {number}")
        load_after = load.load_average()
        summary = {**_summary(made, refusals), "started": started, "load_average_before": load_before,
                   "load_average_after": load_after, "celery_drained_before_s": celery_wait,
                   "quota": _availability(base, seed, rush["quota"])}
        summary["sold"] = sold = summary["quota"].get("paid_orders", 0) + summary["quota"].get("pending_orders", 0)
        runs.append(summary)
        ok = ok and (made.booked == RUSH_SIZE and sold == RUSH_SIZE
                     and summary["refused_sold_out_400"] == RUSH_ATTEMPTS - RUSH_SIZE)

    # The last run's item once more, now sold out: 300 attempts that are all refused, at the rush's concurrency.
    _wait_for_celery(args.redis)
    load_before = load.load_average()
    made, refusals = _orders(base, seed, seed["rush"][-1]["item"], "sold-out", RUSH_ATTEMPTS, RUSH_CONCURRENCY,
                             "sold out")
    sold_out = {**_summary(made, refusals), "load_average_before": load_before, "load_average_after": load.load_average()}
    ok = ok and made.booked == 0 and sold_out["refused_sold_out_400"] == RUSH_ATTEMPTS

    # One at a time, once the runs are over: a refusal on the sold-out item, and an order on the warm-up item.
    sequential = {"refusal": _sequential(base, seed, seed["rush"][-1]["item"], "single-refusal", 30),
                  "order": _sequential(base, seed, seed["warm_item"], "single-order", 30)}

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "server": json.loads(args.server),
        "workload": {"rush_attempts": RUSH_ATTEMPTS, "concurrency": RUSH_CONCURRENCY, "quota": RUSH_SIZE,
                     "warm_up_orders": WARM_ORDERS},
        "warm_up": _summary(warm, warm_refusals),
        "runs": runs,
        "already_sold_out": sold_out,
        "one_at_a_time": sequential,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")

    head = (f"{'run':<9}{'attempts':>9}{'conc':>6}{'201':>6}{'400 full':>9}{'other':>7}{'secs':>8}{'att/s':>8}"
            f"{'p50 ms':>9}{'p95 ms':>9}{'sold':>6}   load before -> after")
    print(head)
    print("-" * len(head))
    for r in runs:
        other = r["attempts"] - r["ordered_201"] - r["refused_sold_out_400"]
        print(f"{r['name']:<9}{r['attempts']:>9}{r['concurrency']:>6}{r['ordered_201']:>6}"
              f"{r['refused_sold_out_400']:>9}{other:>7}{r['seconds']:>8.2f}{r['attempts_per_second']:>8.1f}"
              f"{r['latency_ms']['p50']:>9.1f}{r['latency_ms']['p95']:>9.1f}{r['sold']:>6}   "
              f"{r['load_average_before']} -> {r['load_average_after']}")
    print(f"the last run's item again, already sold out: {sold_out['attempts_per_second']} attempts/s "
          f"({sold_out['refused_sold_out_400']} refused as sold out, p95 {sold_out['latency_ms']['p95']} ms)")
    print(f"warm-up: {WARM_ORDERS} orders in {warm.seconds:.2f} s; one at a time: a refusal "
          f"{sequential['refusal']['latency_ms']['p50']} ms, an order {sequential['order']['latency_ms']['p50']} ms "
          f"(p50 of 30 each); results in {RESULTS}")
    if not ok:
        print("a run did not sell exactly the quota, or some attempts were not refused as sold out: see "
              f"{RESULTS}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
