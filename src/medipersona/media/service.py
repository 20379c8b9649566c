"""Portraits in shared storage: content-addressed, stored once, readable by every instance.

    image = await prepare_image(data, mime)           # digest (large images hashed off the loop)
    await store_row(settings, conn, image)            # in the caller's transaction: the row (+ bytes in the db)
    await upload(settings, image)                     # bucket storage: the object, after the commit
    url = portrait_url(image.digest)                  # /media/portraits/<sha256>: immutable, CDN-cacheable

The bytes live in ``stored_images.data`` (``portrait_storage=database``, the default: one PostgreSQL is all that
several instances share) or in an S3-compatible bucket (``portrait_storage=s3``; the row keeps the metadata).
Rows that nothing references any more are removed by ``sweep_unreferenced`` (called after deletions); a row
re-stored within ``SWEEP_GRACE`` is never removed, so a job that is storing the same image at that moment keeps
it (storing touches ``stored_at``; the sweep's DELETE re-checks it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import and_, delete, exists, literal, select
from sqlalchemy.sql.elements import ColumnElement

from medipersona.db import upsert_insert, utcnow
from medipersona.jobs.dblock import write_lock
from medipersona.media.models import ORIGINAL, StoredImage
from medipersona.settings import Settings

log = logging.getLogger("medipersona.media")

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
SWEEP_GRACE = timedelta(seconds=60)
SWEEP_BATCH = 500
HASH_IN_THREAD_BYTES = 256 * 1024  # hashing 256 KiB takes ~0.2 ms: smaller images are hashed in place

# Columns that reference an image digest (e.g. personas.image_digest): registered by the domains that keep them.
_REFERENCES: list[ColumnElement] = []


def register_reference(column: Any) -> None:
    """Declare a column holding digests: images it names are never swept."""
    if not any(column is c for c in _REFERENCES):
        _REFERENCES.append(column)


@dataclass(frozen=True)
class PreparedImage:
    digest: str
    mime: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def prepare_image(data: bytes, mime: str) -> PreparedImage:
    digest = digest_of(data) if len(data) <= HASH_IN_THREAD_BYTES else \
        await anyio.to_thread.run_sync(digest_of, data)
    return PreparedImage(digest, mime if mime in EXTENSIONS else "image/png", data)


def portrait_url(digest: str | None) -> str | None:
    """The immutable URL of a stored portrait (content-hashed: a new image gets a new URL)."""
    return f"/media/portraits/{digest}" if digest else None


def object_key(settings: Settings, digest: str, mime: str) -> str:
    """The bucket key of one stored image (original or variant; they differ by format)."""
    return f"{settings.s3_prefix}{digest}.{EXTENSIONS.get(mime, 'bin')}"


def upsert_statement(dialect: str, *, touch: bool):
    """INSERT of ``stored_images`` rows (one or many parameter sets): an image stored again keeps its row, and an
    original touches ``stored_at`` (the sweep spares it)."""
    table = StoredImage.__table__
    stmt = upsert_insert(dialect)(table)
    if touch:
        return stmt.on_conflict_do_update(index_elements=["digest", "variant"],
                                          set_={"stored_at": stmt.excluded.stored_at})
    return stmt.on_conflict_do_nothing(index_elements=["digest", "variant"])


def image_row(settings: Settings, image: PreparedImage, *, variant: str = ORIGINAL) -> dict[str, Any]:
    """The ``stored_images`` row of ``image``: with its bytes (database storage) or its metadata (bucket)."""
    location = "s3" if settings.portrait_storage == "s3" else "db"
    return {"digest": image.digest, "variant": variant, "mime": image.mime, "size": image.size,
            "location": location, "data": image.data if location == "db" else None, "stored_at": utcnow()}


async def store_row(settings: Settings, conn, image: PreparedImage, *, variant: str = ORIGINAL) -> None:
    """Upsert the row of ``image`` with connection/session ``conn`` (the caller's transaction; the caller commits
    and holds the SQLite write lock): with its bytes (database storage) or its metadata (bucket: call
    ``upload`` after the commit). Storing an original that exists touches it (the sweep spares it)."""
    dialect = conn.dialect if hasattr(conn, "dialect") else conn.bind.dialect  # a connection or a session
    await conn.execute(upsert_statement(dialect.name, touch=variant == ORIGINAL),
                       [image_row(settings, image, variant=variant)])


async def upload(settings: Settings, image: PreparedImage) -> None:
    """Put the bytes in the bucket (bucket storage; nothing to do otherwise). The row is written first: a sweep
    running in between sees a freshly touched row and keeps it. Raises OSError when the bucket fails."""
    if settings.portrait_storage == "s3":
        from medipersona.media.s3 import put_object

        await put_object(settings, object_key(settings, image.digest, image.mime), image.data, image.mime)


@dataclass(frozen=True)
class StoredRow:
    variant: str
    mime: str
    location: str
    size: int


async def stored_rows(session, digest: str) -> dict[str, StoredRow]:
    rows = (await session.execute(
        select(StoredImage.variant, StoredImage.mime, StoredImage.location, StoredImage.size)
        .where(StoredImage.digest == digest))).all()
    return {r.variant: StoredRow(r.variant, r.mime, r.location, r.size) for r in rows}


async def read_bytes(settings: Settings, session, digest: str, row: StoredRow) -> bytes | None:
    """The bytes of one stored row (None when they are gone)."""
    if row.location == "s3":
        from medipersona.media.s3 import get_object

        return await get_object(settings, object_key(settings, digest, row.mime))
    return await session.scalar(select(StoredImage.data).where(StoredImage.digest == digest,
                                                               StoredImage.variant == row.variant))


async def read_original(settings: Settings, db, digest: str | None) -> tuple[bytes, str] | None:
    """(bytes, mime) of a stored original, or None (exports use it: they embed the original)."""
    if not digest:
        return None
    async with db.sessionmaker() as session:
        row = (await stored_rows(session, digest)).get(ORIGINAL)
        data = await read_bytes(settings, session, digest, row) if row else None
    return (data, row.mime) if data and row else None


async def sweep_unreferenced(settings: Settings, db, *, grace: timedelta = SWEEP_GRACE) -> int:
    """Remove images no registered column references (and not stored within ``grace``). Returns the number of
    images removed. Bucket objects are deleted after the rows' transaction committed."""
    cutoff = utcnow() - grace
    conditions = [StoredImage.variant == ORIGINAL, StoredImage.stored_at < cutoff]
    conditions += [~exists(select(literal(1)).where(column == StoredImage.digest)) for column in _REFERENCES]
    async with write_lock(db.engine), db.sessionmaker() as session:
        digests = list(await session.scalars(select(StoredImage.digest).where(and_(*conditions))
                                             .limit(SWEEP_BATCH)))
        if not digests:
            return 0
        # The DELETE repeats the conditions: a row touched (or referenced) since the SELECT stays.
        removed = list((await session.execute(
            delete(StoredImage).where(and_(*conditions), StoredImage.digest.in_(digests))
            .returning(StoredImage.digest, StoredImage.mime, StoredImage.location)
            .execution_options(synchronize_session=False))).all())
        gone = [row.digest for row in removed]
        if gone:
            removed += (await session.execute(
                delete(StoredImage).where(StoredImage.digest.in_(gone))
                .returning(StoredImage.digest, StoredImage.mime, StoredImage.location)
                .execution_options(synchronize_session=False))).all()
        await session.commit()
    keys = [object_key(settings, row.digest, row.mime) for row in removed if row.location == "s3"]
    if keys:
        from medipersona.media.s3 import delete_objects

        try:
            await delete_objects(settings, keys)
        except OSError:
            log.exception("deleting %d portrait objects from the bucket failed", len(keys))
    if gone:
        log.info("removed %d unreferenced portraits", len(gone))
    return len(gone)

