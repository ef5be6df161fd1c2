"""The API routes served as in production (granian, 2 workers, on loopback) for the submission benchmarks, and a
lean HTTP/1.1 load generator for them (raw asyncio streams, one kept-alive connection per concurrent client, so the
generator's own CPU is small beside the server's on the shared cores)."""

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
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n").encode()

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                payloads.append(await reader.readexactly(length))
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(concurrency)])
    return time.perf_counter() - started, latencies, statuses, payloads


def post_load(port: int, path: str, bodies: list[bytes], concurrency: int
              ) -> tuple[float, list[float], dict[int, int], list[bytes]]:
    """POST each form-encoded body to ``path``, ``concurrency`` at a time: (seconds, latencies in ms, count per
    status, response bodies)."""
    return asyncio.run(_post_load(port, path, bodies, concurrency))
