"""Writing keyword datasets: each dataset is one row and its pack (``keywords.pack``).

A batch of files is one transaction that also deletes the datasets they replace, so readers see the old or the
new dataset, never half; every write bumps ``keyword_state.version`` (other workers drop their caches).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from medipersona.db import Database, table_of, utcnow
from medipersona.keywords.models import KeywordDataset, KeywordPack, KeywordState, scope_key

if TYPE_CHECKING:
    from medipersona.catalog.service import ChiefComplaint, Department


@dataclass
class ParsedFile:
    """One parsed export, ready to be written as the dataset of its department or complaint."""

    name: str
    department: Department
    chief_complaint: ChiefComplaint | None
    pack: bytes  # the rows (keywords.pack)
    row_count: int
    new: tuple = ()  # catalog.editing.NewEntry: the department/complaint this file adds to the catalog



async def bump_keyword_version(conn) -> None:
    state = table_of(KeywordState)
    await conn.execute(
        update(state).where(state.c.id == 1)
        .values(version=state.c.version + 1, token=f"{random.getrandbits(64):016x}")
    )


async def _replace_many(conn, items: list[tuple[ParsedFile, str]], *, is_sample: bool) -> list[tuple[int, bool]]:
    """Replace the datasets of ``items`` (parsed file, source label) inside the caller's transaction, with a
    fixed number of statements whatever the number of files. Returns (dataset id, replaced) per item."""
    if not items:
        return []
    ds = table_of(KeywordDataset)
    keys = [scope_key(p.department.id, p.chief_complaint.id if p.chief_complaint else None) for p, _ in items]
    old = {
        row.scope: (row.id, row.generation)
        for row in await conn.execute(select(ds.c.scope, ds.c.id, ds.c.generation).where(ds.c.scope.in_(keys)))
    }
    if old:
        old_ids = [v[0] for v in old.values()]
        packs = table_of(KeywordPack)
        await conn.execute(delete(packs).where(packs.c.dataset_id.in_(old_ids)))
        await conn.execute(delete(ds).where(ds.c.id.in_(old_ids)))
    now = utcnow()
    params = [
        {
            "scope": key,
            "department_id": p.department.id,
            "chief_complaint_id": p.chief_complaint.id if p.chief_complaint else None,
            "row_count": p.row_count,
            "source_file": label[:500],
            "imported_at": now,
            "is_sample": is_sample,
            "generation": old.get(key, (0, 0))[1] + 1,
        }
        for key, (p, label) in zip(keys, items)
    ]
    result = await conn.execute(insert(ds).returning(ds.c.id, sort_by_parameter_order=True), params)
    ids = [row[0] for row in result]
    await conn.execute(insert(table_of(KeywordPack)),
                       [{"dataset_id": i, "data": p.pack} for i, (p, _label) in zip(ids, items, strict=True)])
    return [(i, key in old) for i, key in zip(ids, keys)]


async def write_datasets(db: Database, parsed_files: list[ParsedFile], *, is_sample: bool = False,
                         label_prefix: str = "", only_if_empty: bool = False) -> list[tuple[int, bool]] | None:
    """Replace several datasets in ONE transaction (each swap is atomic for readers). ``only_if_empty``: do
    nothing (None) when any dataset exists, checked inside the transaction so two workers cannot both load."""
    async with db.engine.begin() as conn:
        # A write first: SQLite takes the write lock now (no snapshot-upgrade failure later).
        await bump_keyword_version(conn)
        if only_if_empty and (await conn.execute(select(table_of(KeywordDataset).c.id).limit(1))).first():
            return None
        written = await _replace_many(conn, [(p, label_prefix + p.name) for p in parsed_files],
                                      is_sample=is_sample)
    from medipersona.keywords.store_cache import invalidate_local

    invalidate_local(db)
    return written


async def delete_dataset(db: Database, dataset_id: int) -> bool:
    """Delete one dataset and its rows in one transaction. False when it does not exist."""
    ds = table_of(KeywordDataset)
    async with db.engine.begin() as conn:
        await bump_keyword_version(conn)
        await conn.execute(delete(table_of(KeywordPack)).where(table_of(KeywordPack).c.dataset_id == dataset_id))
        deleted = (await conn.execute(delete(ds).where(ds.c.id == dataset_id))).rowcount
    from medipersona.keywords.store_cache import invalidate_local

    invalidate_local(db)
    return bool(deleted)
