"""The job runner living in each web worker's event loop (generation-pipeline work fills this in)."""

from __future__ import annotations

from fastapi import FastAPI


async def start_job_runner(app: FastAPI) -> None:
    pass


async def stop_job_runner(app: FastAPI) -> None:
    pass
