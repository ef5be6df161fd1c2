"""CPU per booking, in one process: ``POST /api/v1/bookings`` through the API's ASGI app (no HTTP server, no load
generator), one booking after another, against the database in DATABASE_URL. What it reports hardly depends on
what else the machine is doing: the process's CPU time (every thread's) per booking, and the SQL statements sent
per booking. With ``refusals`` it measures the same for attempts on a full session (each answered 409), and where
a refusal's CPU goes: the whole request, the part spent in the booking's database work (``v1._book``: the token,
offer and session reads, the transaction) and the rest (the ASGI stack: routing, middleware, body parsing, the
worker-thread hop, the error response).

    DATABASE_URL=postgresql://.../atlas_bench python tests/perf/booking_cpu.py < bookings.json

stdin: {"token": "...", "bookings": [{"offer_reference": ..., "session_id": ...}, ...], "refusals": [...]}; stdout:
JSON. The first few of each warm up (imports, pool, prepared statements) and are not counted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

WARM_UP = 10


async def _post(app, token: bytes, body: dict) -> int:
    raw = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/bookings", "raw_path": b"/api/v1/bookings", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"atlas"), (b"authorization", b"Bearer " + token),
                         (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    status = 0

    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _series(app, raw: bytes, bodies: list[dict], statements: list, inner: list[float]) -> dict:
    for body in bodies[:WARM_UP]:
        await _post(app, raw, body)
    counted = bodies[WARM_UP:]
    statements.clear()
    inner.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = [await _post(app, raw, body) for body in counted]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = max(1, len(counted))
    return {"count": len(counted), "statuses": {str(k): statuses.count(k) for k in sorted(set(statuses))},
            "cpu_ms": round(1000 * cpu / n, 2), "wall_ms": round(1000 * wall / n, 2),
            "statements": round(len(statements) / n, 2),
            "book_cpu_ms": round(1000 * sum(inner) / n, 2),
            "asgi_cpu_ms": round(1000 * (cpu - sum(inner)) / n, 2)}


async def measure(token: str, bookings: list[dict], refusals: list[dict] | None = None) -> dict:
    from sqlalchemy import event

    from atlas_app.api import v1
    from atlas_app.api.app import build_api
    from atlas_app.db import get_engine

    statements: list = []
    event.listen(get_engine(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    inner: list[float] = []
    book = v1._book

    def timed(*args, **kwargs):  # the booking's database work, in CPU seconds of this process (one at a time)
        started = time.process_time()
        try:
            return book(*args, **kwargs)
        finally:
            inner.append(time.process_time() - started)

    v1._book = timed
    app = build_api()
    raw = token.encode()
    booked = await _series(app, raw, bookings, statements, inner)
    out = {"bookings": booked["count"], "booked": booked["statuses"].get("201", 0),
           "cpu_ms_per_booking": booked["cpu_ms"], "wall_ms_per_booking": booked["wall_ms"],
           "statements_per_booking": booked["statements"]}
    if refusals:
        refused = await _series(app, raw, refusals, statements, inner)
        out.update({"refusals": refused["count"], "refused": refused["statuses"].get("409", 0),
                    "refusal_statuses": refused["statuses"],
                    "cpu_ms_per_refusal": refused["cpu_ms"], "wall_ms_per_refusal": refused["wall_ms"],
                    "statements_per_refusal": refused["statements"],
                    "refusal_cpu_ms_in_book": refused["book_cpu_ms"],
                    "refusal_cpu_ms_around_book": refused["asgi_cpu_ms"]})
    return out


if __name__ == "__main__":
    given = json.load(sys.stdin)
    print(json.dumps(asyncio.run(measure(given["token"], given["bookings"], given.get("refusals")))))
