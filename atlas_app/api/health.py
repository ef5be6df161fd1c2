"""GET /api/health: is the app up, and can it reach its database."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.db import get_engine


def _database_ok() -> str | None:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to reach the database is the answer, not a crash
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


async def health(_request: Request) -> JSONResponse:
    problem = await run_in_threadpool(_database_ok)
    if problem:
        return JSONResponse({"status": "error", "database": "unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes = [Route("/api/health", health, methods=["GET"])]
