"""The API routes served as in production (granian, 2 workers, on loopback) for the submission benchmarks, and a
load for them on the booking benchmark's lean connections (``load.Connection``: one kept-alive HTTP/1.1 connection
per concurrent client, so the generator's own CPU is small beside the server's on the shared cores)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_api(database_url: str, workers: int = 2, **env_extra: str) -> Iterator[int]:
    """Serve ``open311_asgi:app`` (the /api and /open311 routes) on a free port; yields the port."""
    import httpx

    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="atlas-bench-api-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"DATABASE_URL": database_url, "ATLAS_DATA_DIR": data_dir, "SECRET_KEY": "atlas-benchmark-secret",
                "PYTHONPATH": f"{ROOT}:{HERE}", "PYTHONUNBUFFERED": "1", **env_extra})
    env.pop("SMTP_URL", None)
    env.pop("REDIS_URL", None)
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers), "open311_asgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError(open(log_path).read()[-3000:])
        yield port
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


async def _post_load(port: int, path: str, bodies: list[bytes], concurrency: int
                     ) -> tuple[float, list[float], dict[int, int], list[bytes]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    payloads: list[bytes] = []

    async def client() -> None:
        conn = load.Connection("127.0.0.1", port, content_type="application/x-www-form-urlencoded")
        try:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                status, payload = await conn.send(path, body)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                payloads.append(payload)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(concurrency)])
    return time.perf_counter() - started, latencies, statuses, payloads


def post_load(port: int, path: str, bodies: list[bytes], concurrency: int
              ) -> tuple[float, list[float], dict[int, int], list[bytes]]:
    """POST each form-encoded body to ``path``, ``concurrency`` at a time: (seconds, latencies in ms, count per
    status, response bodies)."""
    return asyncio.run(_post_load(port, path, bodies, concurrency))
