"""Stored message tests. A row is written when the test is requested and filled as its job runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


def new_test_id() -> str:
    return uuid.uuid4().hex


class MessageTest(Base):
    __tablename__ = "message_tests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_test_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    set_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # when started for a persona set
    persona_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16))  # ad | leaflet | web | other
    message: Mapped[str] = mapped_column(Text)
    # An image of the leaflet (stored under <data_dir>/uploads), read by providers that accept images.
    image_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    image_mime: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Model calls this test makes (one reaction per persona + the summary): the daily quota counts them.
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    # Per persona, in persona order: {"persona_id", "name", "patient_type", "age", "gender", "score", "comment",
    # "would_book", "concerns"}.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"stats": {...}, "overview", "concerns", "booking_triggers", "by_type", "meta"}
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text_provider: Mapped[str] = mapped_column(String(32), default="")
    text_model: Mapped[str] = mapped_column(String(128), default="")
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
