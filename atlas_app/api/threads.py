"""Where the API routes' blocking work runs: on worker threads, at most ``API_THREADS`` requests' worth at a time in
each server process, the rest waiting their turn on the event loop in arrival order.

Each request's work is a few short database statements, and its threads share one interpreter lock. With Starlette's
default of 40 threads, a burst (a rush for the last seats, a storm of reports) puts dozens of requests on the lock
at once: every statement's reply then waits behind the other threads' Python before its thread runs again, so each
request takes far longer, and a booking holding a session's row lock holds it for that long, while everyone behind
it queues. A few threads per process keep the database busy just as well (each reply takes a fraction of a
millisecond), and each request then finishes in about its own time. Work that can run long (exports, letters)
keeps Starlette's default threads, so it never holds up the short requests."""

from __future__ import annotations

import asyncio
import weakref
from functools import partial
from typing import Any, Callable, TypeVar

import anyio
import anyio.to_thread

from atlas_app.settings import get_settings

T = TypeVar("T")

# One limiter per event loop (a server process has one; the test client makes one per client).
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def limiter() -> anyio.CapacityLimiter:
    """The running event loop's limiter for the API's blocking work."""
    loop = asyncio.get_running_loop()
    found = _limiters.get(loop)
    if found is None:
        found = _limiters[loop] = anyio.CapacityLimiter(get_settings().api_threads)
    return found


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` on a worker thread, once one of the ``API_THREADS`` places is free."""
    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs), limiter=limiter())
