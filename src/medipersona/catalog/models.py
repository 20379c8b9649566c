"""The catalog's departments and chief complaints, in the database (seeded from ``data/catalog.json``).

``origin``: ``bundled`` (from catalog.json: its attribute values follow the file on every migrate), ``import``
(added by a keyword import) or ``admin`` (added on the admin page). ``aliases``: normalised names that also
match this entry (former names after a rename; the names of complaints merged into it), so a re-import of an
old file name finds it. ``catalog_state.version`` is bumped by every change: workers compare it to refresh.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


class CatalogDepartment(Base):
    __tablename__ = "catalog_departments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    section: Mapped[str] = mapped_column(String(16))
    search_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="bundled")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CatalogComplaint(Base):
    __tablename__ = "catalog_complaints"
    __table_args__ = (UniqueConstraint("department_id", "name_key", name="uq_catalog_complaints_department_name"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    sexes: Mapped[list[str]] = mapped_column(JSON, default=list)
    age_min: Mapped[int] = mapped_column(Integer, default=0)
    age_max: Mapped[int] = mapped_column(Integer, default=100)
    kind: Mapped[str] = mapped_column(String(16), default="symptom")
    pediatric: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="bundled")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # further catalog.json attributes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CatalogState(Base):
    """A single row (id=1): bumped by every catalog change; every worker compares it once a second."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32), default="")
