"""Keyword datasets (one per imported file: a department or a chief complaint) and their rows.

A re-import writes the new dataset and its rows and deletes the old ones in ONE transaction, so a reader (whose
lookup is a single SELECT joining datasets and rows) sees either the old dataset or the new one, never half.
``keyword_state.version`` is bumped by every import: workers compare it to decide when to drop their caches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow

# Age-band columns, in the order of catalog.labels.AGE_BANDS.
AGE_COLUMNS: tuple[str, ...] = ("age_10s", "age_20s", "age_30s", "age_40s", "age_50s", "age_60s", "age_70plus")


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


class KeywordRow(Base):
    __tablename__ = "keyword_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("keyword_datasets.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    keyword: Mapped[str] = mapped_column(String(300))
    volume: Mapped[int] = mapped_column(Integer)  # 検索ボリューム(人)
    overlap: Mapped[int] = mapped_column(Integer)  # 重複ボリューム(人)
    lift: Mapped[float] = mapped_column(Float)  # 特徴度
    days: Mapped[float] = mapped_column(Float)  # 検索時間差(日): < 0 before the target search
    male: Mapped[float] = mapped_column(Float)  # 男性割合(%)
    female: Mapped[float] = mapped_column(Float)  # 女性割合(%)
    age_10s: Mapped[float] = mapped_column(Float)
    age_20s: Mapped[float] = mapped_column(Float)
    age_30s: Mapped[float] = mapped_column(Float)
    age_40s: Mapped[float] = mapped_column(Float)
    age_50s: Mapped[float] = mapped_column(Float)
    age_60s: Mapped[float] = mapped_column(Float)
    age_70plus: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(16))


class KeywordState(Base):
    """A single row (id=1): the data version every import bumps; caches compare it."""

    __tablename__ = "keyword_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32), default="")
