"""CPU per booking, in one process: ``POST /api/v1/bookings`` through the API's ASGI app (no HTTP server, no load
generator), one booking after another, against the database in DATABASE_URL. What it reports hardly depends on
what else the machine is doing: the process's CPU time (every thread's) per booking, and the SQL statements sent
per booking.

    DATABASE_URL=postgresql://.../atlas_bench python tests/perf/booking_cpu.py < bookings.json

stdin: {"token": "...", "bookings": [{"offer_reference": ..., "session_id": ...}, ...]}; stdout: JSON. The first
few bookings warm up (imports, pool, prepared statements) and are not counted.
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


async def measure(token: str, bookings: list[dict]) -> dict:
    from sqlalchemy import event

    from atlas_app.api.app import build_api
    from atlas_app.db import get_engine

    app = build_api()
    statements = []
    event.listen(get_engine(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    raw = token.encode()
    for body in bookings[:WARM_UP]:
        await _post(app, raw, body)
    counted = bookings[WARM_UP:]
    statements.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = [await _post(app, raw, body) for body in counted]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"bookings": len(counted), "booked": statuses.count(201),
            "cpu_ms_per_booking": round(1000 * cpu / len(counted), 2),
            "wall_ms_per_booking": round(1000 * wall / len(counted), 2),
            "statements_per_booking": round(len(statements) / len(counted), 2)}


if __name__ == "__main__":
    given = json.load(sys.stdin)
    print(json.dumps(asyncio.run(measure(given["token"], given["bookings"]))))
