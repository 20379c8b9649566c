"""Portrait files from before shared storage (``<data_dir>/images/<persona>-<n>.<ext>``) moved into the
database, and back (a downgrade). Used by migration 0010 and by ``medipersona import-portraits`` (the files of
an instance whose disk the migrating instance could not see).

Works on a *sync* SQLAlchemy connection (Alembic's; ``AsyncConnection.run_sync`` elsewhere): Core only, no
models, so the migration keeps working when the models change later. Files are read one at a time.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger("medipersona.media")

_MIME_BY_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"))
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

personas = sa.table("personas", sa.column("id", sa.String), sa.column("image_status", sa.String),
                    sa.column("image_path", sa.String), sa.column("image_digest", sa.String),
                    sa.column("image_mime", sa.String))
stored_images = sa.table("stored_images", sa.column("digest", sa.String), sa.column("variant", sa.String),
                         sa.column("mime", sa.String), sa.column("size", sa.Integer),
                         sa.column("location", sa.String), sa.column("data", sa.LargeBinary),
                         sa.column("stored_at", sa.DateTime(timezone=True)))


def _mime(data: bytes) -> str:
    for magic, mime in _MIME_BY_MAGIC:
        if data.startswith(magic):
            return mime
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else ""


def _store(conn: sa.Connection, data: bytes, mime: str) -> str:
    from medipersona.db import utcnow

    digest = hashlib.sha256(data).hexdigest()
    exists = conn.execute(sa.select(stored_images.c.digest).where(
        stored_images.c.digest == digest, stored_images.c.variant == "original")).first()
    if exists is None:
        conn.execute(stored_images.insert().values(digest=digest, variant="original", mime=mime, size=len(data),
                                                   location="db", data=data, stored_at=utcnow()))
    return digest


def import_files(conn: sa.Connection, images_dir: Path, *, file_column: bool = True,
                 names: dict[str, str] | None = None) -> tuple[int, int]:
    """Store the portrait file of each persona in the database and point the persona at it.

    ``file_column``: personas still have ``image_path`` (the migration); otherwise ``names`` maps persona ids to
    file names (the command, which finds them by the ``<persona>-<n>.<ext>`` pattern). Personas whose file is
    missing or unreadable get ``image_status`` ``failed``. Returns (imported, missing)."""
    if file_column:
        rows = conn.execute(sa.select(personas.c.id, personas.c.image_path)
                            .where(personas.c.image_path.is_not(None))).all()
        wanted = {row.id: row.image_path for row in rows}
    else:  # only personas that exist and have no stored portrait yet
        names = dict(names or {})
        open_ids = set(conn.execute(sa.select(personas.c.id).where(
            personas.c.id.in_(list(names)), personas.c.image_digest.is_(None))).scalars()) if names else set()
        wanted = {pid: name for pid, name in names.items() if pid in open_ids}
    imported = missing = 0
    for persona_id, name in wanted.items():
        path = images_dir / Path(name).name  # never outside the images folder
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        mime = _mime(data)
        if not mime:
            missing += 1
            conn.execute(personas.update().where(personas.c.id == persona_id, personas.c.image_status == "done")
                         .values(image_status="failed"))
            continue
        digest = _store(conn, data, mime)
        conn.execute(personas.update().where(personas.c.id == persona_id)
                     .values(image_digest=digest, image_mime=mime))
        imported += 1
    if imported or missing:
        log.warning("portrait files moved into the database: %d imported, %d missing (%s)", imported, missing,
                    images_dir)
    return imported, missing


def files_by_persona(images_dir: Path) -> dict[str, str]:
    """``<persona>-<n>.<ext>`` files of a folder: the newest attempt's file per persona id."""
    best: dict[str, tuple[int, str]] = {}
    if not images_dir.is_dir():
        return {}
    for path in images_dir.iterdir():
        stem, _, attempt = path.stem.rpartition("-")
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and stem and attempt.isdigit():
            if stem not in best or int(attempt) > best[stem][0]:
                best[stem] = (int(attempt), path.name)
    return {persona_id: name for persona_id, (_n, name) in best.items()}


def export_files(conn: sa.Connection, images_dir: Path) -> int:
    """The downgrade: write each persona's stored original back to ``<persona>-1.<ext>`` and set
    ``image_path``. Bucket-stored portraits cannot be written back: those personas lose their portrait."""
    rows = conn.execute(
        sa.select(personas.c.id, stored_images.c.mime, stored_images.c.data)
        .select_from(personas.join(stored_images, sa.and_(stored_images.c.digest == personas.c.image_digest,
                                                          stored_images.c.variant == "original")))
    ).all()
    written = 0
    for row in rows:
        if row.data is None:
            conn.execute(personas.update().where(personas.c.id == row.id).values(image_status="failed"))
            continue
        images_dir.mkdir(parents=True, exist_ok=True)
        name = f"{row.id}-1.{_EXT.get(row.mime, 'png')}"
        (images_dir / name).write_bytes(row.data)
        conn.execute(personas.update().where(personas.c.id == row.id).values(image_path=name))
        written += 1
    return written
