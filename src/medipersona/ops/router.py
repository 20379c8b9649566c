"""Liveness and readiness probes (no login: load balancers and Render's health check call them)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from medipersona.deps import DatabaseDep
from medipersona.ops import pages as _pages

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(db: DatabaseDep):
    """The database is reachable."""
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse(
            {"status": "unavailable", "error": {"code": "database_unreachable",
                                                "message": "データベースに接続できません。", "detail": type(exc).__name__}},
            status_code=503,
        )
    return {"status": "ok", "database": db.engine.dialect.name}


# Prometheus scrape endpoint and the monitoring page (app.py includes only this module's router).
router.include_router(_pages.router)
router.include_router(_pages.api_router)
