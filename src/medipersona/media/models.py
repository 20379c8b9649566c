"""Stored images, addressed by content: ``digest`` is the SHA-256 of the original bytes.

One row per (digest, variant): the ``original`` as the provider made it, and the variants derived from it on
first request (``webp``, or ``png`` when the original itself is WebP). ``location`` says where the bytes are:
``db`` (in ``data``) or ``s3`` (in the bucket, ``data`` empty). Identical images are stored once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow

ORIGINAL = "original"


class StoredImage(Base):
    __tablename__ = "stored_images"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant: Mapped[str] = mapped_column(String(16), primary_key=True, default=ORIGINAL)
    mime: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(8), default="db")  # db | s3
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # When a job last stored it (storing an image that exists touches it): the sweep spares recent rows.
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
