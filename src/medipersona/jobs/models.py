"""Durable jobs in the database: leases, heartbeats, events for SSE.

``Job`` is one unit of background work (a persona generation, a section regeneration, a timeline analysis ...).
A worker claims a queued job by setting ``lease_owner`` and ``lease_expires_at`` and keeps the lease alive with
heartbeats; a job whose lease expired (its worker was SIGKILLed, OOM-killed or recycled) is taken over by another
worker. ``attempts`` is incremented at every claim and acts as a fencing token: a write made on behalf of an
attempt that no longer owns the job is rejected.

``JobEvent`` is an append-only log per job (monotonic ``id``) that SSE streams replay and follow, so progress
crosses processes.

A job's subject (``persona_id``: the row it works on, if any) is a plain id here: jobs knows no domain. The domain
that owns the subject declares the foreign key on this column (``personas/models.py`` adds
``fk_jobs_persona_id_personas`` with ON DELETE CASCADE), so the schema is the same as migration 0003's.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")
TERMINAL_EVENTS = frozenset({"done", "error"})

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


def new_job_id() -> str:
    return uuid.uuid4().hex


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created_at", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    # The subject's id (see the module docstring for its foreign key).
    persona_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(96), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # {"code", "message"} when failed.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class JobEvent(Base):
    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    persona_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    type: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
