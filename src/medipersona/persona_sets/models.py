"""Stored persona sets. A set is a named group of ordinary personas (``personas`` rows) created together; its
status is derived from its members' statuses when it is read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


def new_set_id() -> str:
    return uuid.uuid4().hex


class PersonaSet(Base):
    __tablename__ = "persona_sets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_set_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[str] = mapped_column(String(64))
    chief_complaint_id: Mapped[str] = mapped_column(String(128))
    purpose_id: Mapped[str] = mapped_column(String(64))
    vary: Mapped[str] = mapped_column(String(16))  # patient_type | age | gender
    count: Mapped[int] = mapped_column(Integer)
    # The wizard's inputs as sent (count and vary included).
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The member personas, in display order. A deleted member is shown as such.
    persona_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
