"""Stored competitor analyses. A row is written when the analysis is requested and filled as its job runs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


def new_analysis_id() -> str:
    return uuid.uuid4().hex


class CompetitorAnalysis(Base):
    __tablename__ = "competitor_analyses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_analysis_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    # Inputs: {name, postal_code, address, lat, lng, departments, strengths, target, area_type}
    clinic: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    radius_km: Mapped[int] = mapped_column(Integer, default=3)
    source: Mapped[str] = mapped_column(String(16), default="list")  # places | list
    # Results. competitors: sorted by distance, each with distance_m / bearing_deg.
    competitors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    market: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    population: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    demand: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    swot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    text_provider: Mapped[str] = mapped_column(String(32), default="")
    text_model: Mapped[str] = mapped_column(String(128), default="")
    # {"code", "message"} when status == failed.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PlacesUsage(Base):
    """Google Places use per user and day (Japan time): analyses that searched Places (counted, against the
    admin's daily limit, when the analysis is requested) and the Places requests they made."""

    __tablename__ = "places_usage"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    analyses: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
