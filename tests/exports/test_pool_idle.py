"""The export pool gives its processes (and their memory) back after an idle period."""

import asyncio

from medipersona.exports import pool


async def test_pool_stops_after_idle_and_restarts_on_demand():
    try:
        assert await pool.run_export(pool._ping, workers=1, idle_seconds=0.3) is True
        first = pool._pool
        assert first is not None
        await asyncio.sleep(2.0)
        assert pool._pool is None  # stopped while idle
        assert await pool.run_export(pool._ping, workers=1, idle_seconds=0.3) is True
        assert pool._pool is not None and pool._pool is not first
    finally:
        pool.configure(1, 600)
        pool.shutdown_export_pool()


async def test_busy_pool_is_not_stopped():
    try:
        await pool.run_export(pool._ping, workers=1, idle_seconds=0.5)
        first = pool._pool
        # Keep using it more often than the idle period while earlier idle checks come due (each at +1.5 s).
        for _ in range(15):
            await asyncio.sleep(0.2)
            await pool.run_export(pool._ping, workers=1, idle_seconds=0.5)
            assert pool._pool is first
    finally:
        pool.configure(1, 600)
        pool.shutdown_export_pool()
