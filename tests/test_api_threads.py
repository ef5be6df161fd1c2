"""The API's blocking work runs on at most API_THREADS worker threads per process; the rest waits its turn."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import atlas_app.settings
from atlas_app.api import threads
from atlas_app.settings import POOL_CONNECTIONS


@pytest.fixture
def api_threads(monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setenv("API_THREADS", value)
        atlas_app.settings.get_settings.cache_clear()

    yield use
    monkeypatch.delenv("API_THREADS", raising=False)
    atlas_app.settings.get_settings.cache_clear()


def _burst(requests: int) -> tuple[list[int], int, set[int]]:
    """``requests`` blocking jobs started at once; what they returned, how many ran at the same time at most and
    on how many threads."""
    lock = threading.Lock()
    running, most, idents = 0, 0, set()

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            idents.add(threading.get_ident())
        time.sleep(0.02)
        with lock:
            running -= 1
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*[threads.run_in_threadpool(job, n) for n in range(requests)])

    return asyncio.run(main()), most, idents


def test_a_burst_runs_no_more_than_api_threads_at_once_and_every_request_is_answered(api_threads):
    api_threads("3")
    results, most, idents = _burst(12)
    assert results == [n * n for n in range(12)]
    assert most == 3
    assert len(idents) <= 3


def test_the_default_is_four_at_once(api_threads):
    api_threads("")
    _results, most, _ = _burst(20)
    assert most == 4


def test_each_event_loop_has_its_own_limiter(api_threads):
    api_threads("2")
    assert _burst(4)[1] == 2
    assert _burst(4)[1] == 2  # a second loop (as each test client makes) is not refused the first one's limiter


def test_the_setting_stays_within_the_connection_pool(api_threads):
    api_threads("500")
    assert atlas_app.settings.get_settings().api_threads == POOL_CONNECTIONS
    api_threads("0")
    assert atlas_app.settings.get_settings().api_threads == 1


def test_an_error_in_the_work_reaches_the_caller_and_frees_its_place(api_threads):
    api_threads("1")

    def fails() -> None:
        raise ValueError("bad input")

    async def main() -> int:
        with pytest.raises(ValueError, match="bad input"):
            await threads.run_in_threadpool(fails)
        return await threads.run_in_threadpool(lambda: 7)

    assert asyncio.run(main()) == 7
