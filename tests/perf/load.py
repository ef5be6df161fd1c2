"""The load generator for the booking benchmark: many concurrent HTTP bookings over loopback (asyncio + httpx)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

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


async def _run(base_url: str, token: str, bodies: list[dict], concurrency: int, name: str) -> RunResult:
    result = RunResult(name, len(bodies), concurrency, 0.0)
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60.0) as client:

        async def worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/bookings", json=body)
                    result.statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        result.errors.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                result.latencies_ms.append((time.perf_counter() - started) * 1000)

        # Open the connections first so connection set-up is not counted as booking time.
        await asyncio.gather(*[client.get("/api/health") for _ in range(concurrency)])
        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        result.seconds = time.perf_counter() - started
    return result


def run(base_url: str, token: str, bodies: list[dict], concurrency: int, name: str) -> RunResult:
    return asyncio.run(_run(base_url, token, bodies, concurrency, name))


def warm_up(base_url: str, token: str, requests: int = 60, concurrency: int = 10) -> None:
    """Touch every worker (pools, imports) before measuring."""

    async def go() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0) as client:
            sem = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with sem:
                    await client.get("/api/v1/sessions", params={"free_only": "true"})

            await asyncio.gather(*[one() for _ in range(requests)])

    asyncio.run(go())
