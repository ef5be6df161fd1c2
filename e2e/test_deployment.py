"""The server the suite runs against is the deployment it claims to be: healthy, on the configured database, and
with REDIS_URL set, keeping state in Redis across several worker processes."""

from __future__ import annotations

import os

import httpx
import pytest
from playwright.sync_api import expect

from support import login, wait_hydrated


def test_health_reports_the_database(atlas):
    response = httpx.get(f"{atlas.url}/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    expected = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    assert atlas.database_url.startswith(expected)


def test_redis_state_with_several_workers(atlas, page):
    if not atlas.redis_url:
        pytest.skip("REDIS_URL is not set: one worker with in-process state")
    import redis

    assert len(atlas.workers) >= 2, f"expected several worker processes, found {atlas.workers}"
    login(page, "hbc.readonly", "read123")
    token = page.evaluate("window.sessionStorage.getItem('token')")
    assert token
    client = redis.Redis.from_url(atlas.redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"*{token}*", count=1000)]
    finally:
        client.close()
    assert any("auth_state" in k for k in keys), f"no state in Redis for this tab: {keys}"

    # Many short-lived tabs spread over the workers all get their own state and events answered.
    for _ in range(4):
        tab = page.context.new_page()
        tab.goto("/staff")
        wait_hydrated(tab)
        expect(tab.locator("#signed-in-as")).to_have_text("Rita Shaw")
        tab.close()
