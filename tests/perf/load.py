"""The load generator for the booking benchmark: many concurrent HTTP bookings over loopback.

The client shares the server's two cores, so it is kept cheap: each simulated caller holds one keep-alive HTTP/1.1
connection on asyncio streams and writes and reads plain requests and responses (about a tenth of the CPU that a
general-purpose client such as httpx spends per request), leaving the CPU to the system under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx


@dataclass
class RunResult:
    name: str
    attempts: int
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def booked(self) -> int:
        return self.statuses.get(201, 0)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[k]

    def summary(self) -> dict:
        return {
            "name": self.name,
            "attempts": self.attempts,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "booked": self.booked,
            "refused_full_409": self.statuses.get(409, 0),
            "server_errors_5xx": sum(v for k, v in self.statuses.items() if k >= 500),
            "other_statuses": {str(k): v for k, v in self.statuses.items() if k not in (201, 409) and k < 500},
            "transport_errors": len(self.errors),
            "requests_per_second": round(self.attempts / self.seconds, 1) if self.seconds else 0.0,
            "bookings_per_second": round(self.booked / self.seconds, 1) if self.seconds else 0.0,
            "latency_ms": {
                "p50": round(self.percentile(50), 1),
                "p95": round(self.percentile(95), 1),
                "p99": round(self.percentile(99), 1),
                "max": round(max(self.latencies_ms), 1) if self.latencies_ms else 0.0,
                "mean": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else 0.0,
            },
        }


class Connection:
    """One keep-alive HTTP/1.1 connection that sends POSTs (JSON, or bodies already encoded) and reads whole
    responses."""

    def __init__(self, host: str, port: int, token: str | None = None,
                 content_type: str = "application/json", auth_scheme: str = "Bearer") -> None:
        self.host, self.port = host, port
        auth = f"Authorization: {auth_scheme} {token}\r\n" if token else ""
        self.head = (f"Host: {host}:{port}\r\n{auth}"
                     f"Content-Type: {content_type}\r\nAccept: application/json\r\n")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: dict) -> tuple[int, bytes]:
        return await self.send(path, json.dumps(body).encode())

    async def send(self, path: str, data: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(data)}\r\n\r\n".encode()
                          + data)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            payload = b""
            while (size := int((await self.reader.readline()).strip() or b"0", 16)):
                payload += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
        else:
            payload = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _run(base_url: str, token: str, bodies: list[dict], concurrency: int, name: str,
               path: str = "/api/v1/bookings", auth_scheme: str = "Bearer",
               on_response: Callable[[int, bytes], None] | None = None) -> RunResult:
    result = RunResult(name, len(bodies), concurrency, 0.0)
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    url = urlsplit(base_url)
    connections = [Connection(url.hostname, url.port or 80, token, auth_scheme=auth_scheme)
                   for _ in range(concurrency)]

    async def worker(conn: Connection) -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            try:
                status, payload = await conn.post(path, body)
                result.statuses[status] += 1
                if on_response is not None:
                    on_response(status, payload)
                if status >= 500:
                    result.errors.append(f"{status}: {payload[:200].decode('utf-8', 'replace')}")
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                conn.close()
                result.errors.append(f"{type(exc).__name__}: {exc}")
            result.latencies_ms.append((time.perf_counter() - started) * 1000)

    # Open the connections first so connection set-up is not counted as booking time.
    await asyncio.gather(*[conn.open() for conn in connections])
    started = time.perf_counter()
    try:
        await asyncio.gather(*[worker(conn) for conn in connections])
    finally:
        result.seconds = time.perf_counter() - started
        for conn in connections:
            conn.close()
    return result


def run(base_url: str, token: str, bodies: list[dict], concurrency: int, name: str, **options) -> RunResult:
    """``options``: ``path`` (the URL path the bodies are POSTed to), ``auth_scheme`` (the Authorization header's
    scheme, "Bearer" by default) and ``on_response`` (called with each response's status and body)."""
    return asyncio.run(_run(base_url, token, bodies, concurrency, name, **options))


def load_average() -> list[float]:
    """The machine's load average over 1, 5 and 15 minutes, printed beside every figure."""
    return [round(x, 2) for x in os.getloadavg()]


def warm_up(base_url: str, token: str, bookings: list[dict], concurrency: int, requests: int = 60) -> None:
    """Bring every worker to the state a server in service is in before measuring: its imports done, its pool's
    connections open and its statements compiled, for the session search and for booking (``bookings`` are made at
    ``concurrency``, on seats the runs do not use)."""

    async def go() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0) as client:
            sem = asyncio.Semaphore(10)

            async def one() -> None:
                async with sem:
                    await client.get("/api/v1/sessions", params={"free_only": "true"})

            await asyncio.gather(*[one() for _ in range(requests)])

    asyncio.run(go())
    made = run(base_url, token, bookings, concurrency, "warm-up")
    if made.booked != len(bookings):
        raise RuntimeError(f"the warm-up bookings failed: {made.statuses} {made.errors[:3]}")
