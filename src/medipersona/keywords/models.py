"""Keyword datasets (one per imported file: a department or a chief complaint) and their rows, packed.

A dataset's rows are one value (``keyword_packs.data``, format in ``keywords.pack``): every lookup reads a
dataset whole. A re-import writes the new dataset and its pack and deletes the old ones in ONE transaction, so a
reader (whose lookup is a single SELECT joining the dataset and its pack) sees the old or the new one, never half.
``keyword_state.version`` is bumped by every import: workers compare it to decide when to drop their caches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


def scope_key(department_id: str, chief_complaint_id: str | None) -> str:
    """The unique key of what a dataset describes: one dataset per department and per complaint."""
    return f"{department_id}|{chief_complaint_id or ''}"


class KeywordDataset(Base):
    __tablename__ = "keyword_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200), unique=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    chief_complaint_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    source_file: Mapped[str] = mapped_column(String(500), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    # 1 for the first import of this department/complaint, +1 for every re-import.
    generation: Mapped[int] = mapped_column(Integer, default=1)


class KeywordPack(Base):
    """A dataset's rows, packed (``keywords.pack``): lookups read a dataset whole, by its id."""

    __tablename__ = "keyword_packs"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("keyword_datasets.id", ondelete="CASCADE"),
                                            primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class KeywordState(Base):
    """A single row (id=1): the data version every import bumps; caches compare it."""

    __tablename__ = "keyword_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32), default="")
